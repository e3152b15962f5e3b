"""Per-frame aperture photometry of catalog stars on a raw PANOPTES Bayer frame.

:func:`measure_frame` measures every star of a catalog table (typically from
:meth:`panoptes_network.catalog.star_catalog.Catalog.footprint_search`) on one raw frame and returns
one row per star in the schema of :mod:`.sources_table`. The steps, vectorised over all stars:

1. **Position.** The catalog ``x``, ``y`` (or the WCS applied to ``ra``, ``dec``) are the
   *WCS position*. :func:`refine_centroids` replaces it by a flux-weighted centroid on the
   background-subtracted superpixel image (each 2 x 2 Bayer cell summed) within a box of
   ``2 centroid_half_box + 1`` superpixels a side (``5 x 5`` by default, 10 x 10 frame
   pixels), when the star is bright enough (signal-to-noise in the box at least
   ``min_centroid_snr``) and the shift is plausible (at most ``max_centroid_shift`` frame
   pixels). Both positions are kept (``x``, ``y`` and ``x_wcs``, ``y_wcs``).
2. **Background.** Per colour, the plane pixels whose centres lie in the annulus
   ``annulus = (r_in, r_out)`` (frame pixels) around the WCS position, both green sites pooled,
   sigma-clipped around their median (3 sigma); the level is the mean of the pixels kept
   (:func:`.aperture.clipped_background`), in e- per pixel above the bias.
3. **Flux.** Per colour, the exact circular-overlap sum of the colour's plane(s) in an aperture
   of ``aperture_radius`` frame pixels (``aperture_radius / 2`` plane pixels, see
   :mod:`.aperture`; sep's ``sum_circle`` on a float32 copy of each plane,
   :func:`.aperture.circle_sums`) minus background times the aperture area; in e-.
4. **Error.** :func:`.noise.theoretical_flux_error` with the measured flux, the
   measured background, the aperture area, the read noise, the number of annulus pixels kept
   and the gain (quantisation).
5. **Width.** :func:`.star_width.star_fwhm`: the FWHM of the star in the green light, in
   full-resolution frame pixels, from adaptive Gaussian-weighted second moments of the
   background-subtracted G1 and G2 pixels at their frame positions, in a window reaching
   ``width_window`` frame pixels from the star. NaN for stars off the frame or whose window
   leaves it, saturated stars, and stars whose green flux has a signal-to-noise ratio below
   ``min_width_snr``.
6. **Flags.** :mod:`.flags`: ``SATURATED``, ``NEAR_EDGE`` (aperture or annulus leaves
   the frame), ``CONTAMINATED`` (a neighbour of the *given* table, at most 2.5 mag fainter,
   within two aperture radii: pass a catalog reaching fainter than the stars you care about
   for a complete check), ``OFF_FRAME`` (not measured: NaN values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.table import Table
from astropy.wcs import WCS

from panoptes_network.frames.camera import plane_offsets
from panoptes_network.photometry.aperture import (
    annulus_values,
    bayer_plane,
    circle_sums,
    clipped_background,
    plane_coordinates,
    touches,
)
from panoptes_network.photometry.flags import (
    CONTAMINATION_RADII,
    SourceFlag,
    contamination_flags,
    edge_flags,
)
from panoptes_network.photometry.noise import theoretical_flux_error
from panoptes_network.photometry.sources_table import COLUMN_UNITS, SOURCES_COLUMNS
from panoptes_network.photometry.star_width import DEFAULT_WIDTH_WINDOW, star_fwhm

__all__ = [
    "DEFAULT_ANNULUS",
    "DEFAULT_APERTURE_RADIUS",
    "DEFAULT_CENTROID_HALF_BOX",
    "DEFAULT_MAX_CENTROID_SHIFT",
    "Centroids",
    "measure_frame",
    "refine_centroids",
    "superpixel_image",
]

#: Default aperture radius (frame pixels): > 99.9 % of a PANOPTES star (FWHM ~ 2.5 px).
DEFAULT_APERTURE_RADIUS: float = 5.0
#: Default background annulus, inner and outer radii (frame pixels).
DEFAULT_ANNULUS: tuple[float, float] = (9.0, 14.0)
#: Default centroid box half-size (superpixels either side of the star's superpixel): a
#: 5 x 5-superpixel box, 10 x 10 frame pixels.
DEFAULT_CENTROID_HALF_BOX: int = 2
#: Default largest accepted centroid shift from the WCS position (frame pixels).
DEFAULT_MAX_CENTROID_SHIFT: float = 1.5
#: Stars whose annulus pixels and width windows are held in memory at once: the per-star
#: arrays of a chunk are about 25 MB, a fraction of one float32 copy of a full frame.
STARS_PER_CHUNK: int = 2048


def superpixel_image(pixels: np.ndarray) -> np.ndarray:
    """Sum each 2 x 2 Bayer cell of a raw frame.

    Parameters
    ----------
    pixels : numpy.ndarray
        Raw frame, shape ``(rows, columns)`` (ADU).

    Returns
    -------
    numpy.ndarray
        ``int32`` image of shape ``(rows // 2, columns // 2)`` (ADU, four biases included);
        superpixel ``[i, j]`` is centred on frame position ``x = 2 j + 0.5``, ``y = 2 i + 0.5``.
    """
    rows, cols = pixels.shape[0] // 2, pixels.shape[1] // 2
    # Summed plane by plane into one int32 image: no full-size int32 copy of the frame.
    cells = pixels[0::2, 0::2][:rows, :cols].astype(np.int32)
    for dy, dx in ((0, 1), (1, 0), (1, 1)):
        cells += pixels[dy::2, dx::2][:rows, :cols].astype(np.int32)
    return cells


@dataclass(frozen=True)
class Centroids:
    """Refined positions.

    Attributes
    ----------
    x, y : numpy.ndarray
        Refined position where ``refined``, else the input position (frame pixels).
    refined : numpy.ndarray
        Whether the centroid replaced the input position.
    snr : numpy.ndarray
        Signal-to-noise ratio of the background-subtracted signal in the box.
    """

    x: np.ndarray
    y: np.ndarray
    refined: np.ndarray
    snr: np.ndarray


def refine_centroids(
    superpixels: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    background_adu: np.ndarray,
    variance_adu2: np.ndarray,
    *,
    gain: float,
    min_snr: float = 10.0,
    max_shift: float = DEFAULT_MAX_CENTROID_SHIFT,
    half_box: int = DEFAULT_CENTROID_HALF_BOX,
) -> Centroids:
    """Flux-weighted centroids on the superpixel image, falling back to the input position.

    Parameters
    ----------
    superpixels : numpy.ndarray
        Output of :func:`superpixel_image` (ADU).
    x, y : numpy.ndarray
        Starting positions (frame pixels, 0-based).
    background_adu : numpy.ndarray
        Background of a superpixel per star (ADU, the bias of its four pixels included).
    variance_adu2 : numpy.ndarray
        Background variance of a superpixel per star (ADU^2).
    gain : float
        Gain (e- / ADU), for the source's shot noise in the signal-to-noise ratio.
    min_snr : float, optional
        Smallest signal-to-noise ratio in the box for which the centroid is used.
    max_shift : float, optional
        Largest accepted distance from the starting position (frame pixels).
    half_box : int, optional
        Half-size of the box (superpixels either side of the superpixel nearest the starting
        position, at least 1): the box is ``2 half_box + 1`` superpixels a side,
        ``4 half_box + 2`` frame pixels.

    Returns
    -------
    Centroids
        The positions, whether each was refined, and the box signal-to-noise ratios.
    """
    if half_box < 1:
        raise ValueError(f"half_box must be at least 1 superpixel, not {half_box}")
    steps = np.arange(-half_box, half_box + 1)
    xs, ys = (x - 0.5) / 2.0, (y - 0.5) / 2.0  # superpixel coordinates
    finite = np.isfinite(xs) & np.isfinite(ys)
    cx = np.floor(np.where(finite, xs, -1e6) + 0.5).astype(np.int64)
    cy = np.floor(np.where(finite, ys, -1e6) + 0.5).astype(np.int64)
    rows = (cy[:, None] + steps)[:, :, None]
    cols = (cx[:, None] + steps)[:, None, :]
    n_rows, n_cols = superpixels.shape
    inside = ((rows >= 0) & (rows < n_rows) & (cols >= 0) & (cols < n_cols)).all(axis=(1, 2))
    values = superpixels[np.clip(rows, 0, n_rows - 1), np.clip(cols, 0, n_cols - 1)]
    signal = values - background_adu[:, None, None]
    total = signal.sum(axis=(1, 2))
    noise = np.sqrt(steps.size**2 * variance_adu2 + np.clip(total, 0.0, None) / gain)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(noise > 0, total / noise, 0.0)
        weights = np.clip(signal, 0.0, None)
        norm = weights.sum(axis=(1, 2))
        new_xs = (weights * cols).sum(axis=(1, 2)) / norm
        new_ys = (weights * rows).sum(axis=(1, 2)) / norm
    new_x, new_y = 2.0 * new_xs + 0.5, 2.0 * new_ys + 0.5
    shift = np.hypot(new_x - x, new_y - y)
    refined = finite & inside & (snr >= min_snr) & (norm > 0) & (shift <= max_shift)
    return Centroids(
        x=np.where(refined, new_x, x), y=np.where(refined, new_y, y), refined=refined, snr=snr
    )


def _chunks(count: int, size: int = STARS_PER_CHUNK) -> list[slice]:
    """Slices of at most ``size`` stars covering ``count`` stars."""
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


def _annulus_background(
    planes: list[np.ndarray],
    offsets: tuple[tuple[int, int], ...],
    x: np.ndarray,
    y: np.ndarray,
    annulus: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """One colour's sigma-clipped annulus level (ADU) and pixels kept, per star.

    The colour's planes (both green sites pooled) are gathered and clipped
    :data:`STARS_PER_CHUNK` stars at a time, so the per-star arrays stay a few tens of MB.
    """
    r_in, r_out = annulus
    level, count = np.full(x.size, np.nan), np.zeros(x.size, dtype=np.int64)
    for chunk in _chunks(x.size):
        values = [
            annulus_values(
                plane, *plane_coordinates(x[chunk], y[chunk], offset), r_in / 2.0, r_out / 2.0
            )
            for plane, offset in zip(planes, offsets, strict=True)
        ]
        clipped = clipped_background(np.concatenate(values, axis=1))
        level[chunk], count[chunk] = clipped.level, clipped.count
    return level, count


def _wcs_positions(wcs: WCS | None, catalog_rows: Table) -> tuple[np.ndarray, np.ndarray]:
    """Catalog ``x``, ``y`` if present, else the WCS applied to ``ra``, ``dec`` (0-based)."""
    if "x" in catalog_rows.colnames and "y" in catalog_rows.colnames:
        return (
            np.asarray(catalog_rows["x"], dtype=float),
            np.asarray(catalog_rows["y"], dtype=float),
        )
    if wcs is None:
        raise ValueError("catalog_rows has no x, y columns and no wcs was given")
    x, y = wcs.all_world2pix(
        np.asarray(catalog_rows["ra"], dtype=float),
        np.asarray(catalog_rows["dec"], dtype=float),
        0,
    )
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _aperture_response(
    flat: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    offsets: tuple[tuple[int, int], ...],
    radius: float,
) -> np.ndarray:
    """Mean of a colour's flat values over each star's aperture (dimensionless; 1 off frame)."""
    total, area = np.zeros(x.size), np.zeros(x.size)
    for offset in offsets:
        plane = np.ascontiguousarray(bayer_plane(flat, offset), dtype=np.float32)
        sums = circle_sums(plane, *plane_coordinates(x, y, offset), radius / 2.0)
        total += sums.total
        area += sums.area
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / area
    return np.where(np.isfinite(mean) & (mean > 0), mean, 1.0)


def measure_frame(
    pixels: np.ndarray,
    wcs: WCS | None,
    catalog_rows: Table,
    *,
    gain: float,
    read_noise: float,
    bias: float,
    saturation: float,
    bayer_pattern: str,
    aperture_radius: float = DEFAULT_APERTURE_RADIUS,
    annulus: tuple[float, float] = DEFAULT_ANNULUS,
    flat: np.ndarray | None = None,
    refine_centroid: bool = True,
    min_centroid_snr: float = 10.0,
    max_centroid_shift: float = DEFAULT_MAX_CENTROID_SHIFT,
    centroid_half_box: int = DEFAULT_CENTROID_HALF_BOX,
    min_width_snr: float = 20.0,
    width_window: int = DEFAULT_WIDTH_WINDOW,
) -> Table:
    """Measure per-colour aperture photometry of catalog stars on a raw Bayer frame.

    Parameters
    ----------
    pixels : numpy.ndarray
        Raw Bayer frame, shape ``(rows, columns)``, ``uint16`` (ADU), or a calibrated one
        (float, the bias added back).
    wcs : astropy.wcs.WCS or None
        The frame's WCS; used only when ``catalog_rows`` has no ``x``, ``y`` columns.
    catalog_rows : astropy.table.Table
        Stars with ``picid``, ``ra`` (deg), ``dec`` (deg), ``vmag`` (mag) and, optionally,
        ``x``, ``y`` (0-based frame pixels).
    gain : float
        The camera's gain (e- / ADU).
    read_noise : float
        The camera's read noise (e- rms per pixel).
    bias : float
        The camera's bias level (ADU).
    saturation : float
        The camera's saturation level (ADU); an aperture pixel at or above it sets
        ``SATURATED``.
    bayer_pattern : str
        The camera's colour filter array from the top-left of the upright image (e.g.
        ``"RGGB"``): places each colour's pixels.
    aperture_radius : float, optional
        Aperture radius (frame pixels).
    annulus : (float, float), optional
        Inner and outer radii of the background annulus (frame pixels).
    flat : numpy.ndarray, optional
        The flat master the pixels were divided by (dimensionless, shape of ``pixels``;
        :func:`panoptes_network.calibration.apply.calibrate_frame`). The fluxes are those of
        the flat-fielded pixels; their errors count the electrons the pixels really held
        (each colour's flux, sky and read noise times the flat's mean over the aperture,
        the error divided back), not the flat-fielded values.
    refine_centroid : bool, optional
        Whether to refine positions with :func:`refine_centroids`.
    min_centroid_snr : float, optional
        Smallest box signal-to-noise ratio for a refined centroid.
    max_centroid_shift : float, optional
        Largest accepted centroid shift from the WCS position (frame pixels).
    centroid_half_box : int, optional
        Half-size of the centroid box, in superpixels either side of the star's superpixel
        (the box is ``2 centroid_half_box + 1`` superpixels, ``4 centroid_half_box + 2``
        frame pixels, a side).
    min_width_snr : float, optional
        Smallest signal-to-noise ratio of the green flux for which the width is measured.
    width_window : int, optional
        Half-size of the width measurement window (frame pixels; ``window`` of
        :func:`.star_width.star_fwhm`).

    Returns
    -------
    astropy.table.Table
        One row per input star, columns :data:`.sources_table.SOURCES_COLUMNS` (fluxes and
        errors in e-, backgrounds in e- / pixel, areas in pixels, positions and ``fwhm`` in
        frame pixels).
    """
    r_in, r_out = annulus
    if not 0 < aperture_radius <= r_in < r_out:
        raise ValueError("need 0 < aperture_radius <= annulus[0] < annulus[1]")
    x_wcs, y_wcs = _wcs_positions(wcs, catalog_rows)
    n = x_wcs.size
    offsets_of = plane_offsets(bayer_pattern, pixels.shape[0])
    # Each Bayer plane once as a contiguous float32 image (what sep sums): the four together
    # are one float32 copy of the frame.
    planes = {
        offset: np.ascontiguousarray(bayer_plane(pixels, offset), dtype=np.float32)
        for offsets in offsets_of.values()
        for offset in offsets
    }

    background: dict[str, np.ndarray] = {}
    sky_count: dict[str, np.ndarray] = {}
    for colour, offsets in offsets_of.items():
        background[colour], sky_count[colour] = _annulus_background(
            [planes[offset] for offset in offsets], offsets, x_wcs, y_wcs, annulus
        )

    x, y = x_wcs, y_wcs
    if refine_centroid and n:
        cell_background = background["r"] + 2 * background["g"] + background["b"]
        cell_variance = sum(
            len(offsets) * ((background[c] - bias) * gain + read_noise**2) / gain**2
            + len(offsets) / 12.0
            for c, offsets in offsets_of.items()
        )
        centroids = refine_centroids(
            superpixel_image(pixels),
            x_wcs,
            y_wcs,
            np.nan_to_num(cell_background),
            np.nan_to_num(np.asarray(cell_variance, dtype=float)),
            gain=gain,
            min_snr=min_centroid_snr,
            max_shift=max_centroid_shift,
            half_box=centroid_half_box,
        )
        x, y = centroids.x, centroids.y

    flags = edge_flags(x, y, pixels.shape, max(r_out, aperture_radius))
    flags |= contamination_flags(
        x_wcs, y_wcs, catalog_rows["vmag"], CONTAMINATION_RADII * aperture_radius
    )
    off = (flags & SourceFlag.OFF_FRAME) != 0
    saturated = np.zeros(n, dtype=bool)

    table = Table()
    table["picid"] = np.asarray(catalog_rows["picid"], dtype=np.int64)
    for name in ("ra", "dec", "vmag"):
        table[name] = np.asarray(catalog_rows[name], dtype=float)
    table["x"], table["y"], table["x_wcs"], table["y_wcs"] = x, y, x_wcs, y_wcs
    for colour, offsets in offsets_of.items():
        total = np.zeros(n)
        area = np.zeros(n)
        for offset in offsets:
            plane_x, plane_y = plane_coordinates(x, y, offset)
            sums = circle_sums(planes[offset], plane_x, plane_y, aperture_radius / 2.0)
            total += sums.total
            area += sums.area
            saturated |= touches(
                planes[offset] >= saturation, plane_x, plane_y, aperture_radius / 2.0
            )
        flux = (total - area * background[colour]) * gain
        sky = (background[colour] - bias) * gain
        response = (
            np.ones(n) if flat is None else _aperture_response(flat, x, y, offsets, aperture_radius)
        )
        error = (
            theoretical_flux_error(
                flux * response,
                sky * response,
                area,
                read_noise,
                sky_count[colour],
                gain_e_per_adu=gain,
            )
            / response
        )
        table[f"flux_{colour}"] = np.where(off, np.nan, flux)
        table[f"flux_err_{colour}"] = np.where(off, np.nan, error)
        table[f"bkg_{colour}"] = np.where(off, np.nan, sky)
        table[f"npix_{colour}"] = np.where(off, 0.0, area)
    flags |= np.where(saturated & ~off, int(SourceFlag.SATURATED), 0).astype(np.int32)
    with np.errstate(divide="ignore", invalid="ignore"):
        green_snr = np.asarray(table["flux_g"]) / np.asarray(table["flux_err_g"])
    measurable = ~off & ~saturated & (green_snr >= min_width_snr)
    fwhm = np.full(n, np.nan, dtype=np.float32)
    if measurable.any():
        index = np.flatnonzero(measurable)
        for chunk in _chunks(index.size):
            stars = index[chunk]
            fwhm[stars] = star_fwhm(
                pixels,
                x[stars],
                y[stars],
                background["g"][stars],
                green_offsets=offsets_of["g"],
                window=width_window,
            )
    table["fwhm"] = fwhm
    table["flags"] = flags.astype(np.int32)
    for name in SOURCES_COLUMNS:
        if name in COLUMN_UNITS:
            table[name].unit = COLUMN_UNITS[name]
    return table[list(SOURCES_COLUMNS)]
