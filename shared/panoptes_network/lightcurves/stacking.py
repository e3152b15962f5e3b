"""Per-frame photometry tables of one observation, stacked into (frames x stars) arrays.

Input: the per-frame photometry tables of one observation (one :class:`astropy.table.Table`
per image with the columns ``picid, ra, dec, vmag, x, y, flux_<c>, flux_err_<c>, bkg_<c>,
npix_<c>`` for ``c`` in r, g, b, fluxes in electrons, ``bkg_<c>`` the sky in e- per pixel,
and ``flags``, a bit mask of :class:`~panoptes_network.photometry.flags.SourceFlag`), with the
image metadata in ``table.meta``: ``image_id``, ``sequence_id``, ``mid_exposure_time``
(:data:`TIME_KEY`: POSIX seconds, ISO UTC string, datetime or astropy Time), ``exptime`` (s),
``airmass`` and ``camera``, the camera constants the frame was measured with (its
``read_noise_e``, e-, sets the frame's expected noise). This is the schema of
:mod:`panoptes_network.photometry.sources_table`:
``table, meta = read_sources_table(data); table.meta.update(meta)`` gives a usable table.

:func:`stack_frames` makes (n_frames x n_stars) arrays per colour; flagged rows and
non-positive fluxes are NaN; stars measured in fewer than ``min_coverage`` of the frames are
dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from astropy.table import Table
from astropy.time import Time

from panoptes_network.lightcurves.barycentric import Site, site_of
from panoptes_network.photometry.flags import DEFAULT_BAD_FLAGS
from panoptes_network.photometry.noise import theoretical_flux_error

__all__ = [
    "COLOURS",
    "TIME_KEY",
    "MissingFrameMetadata",
    "PhotometryStack",
    "expected_relative_error",
    "frame_time_seconds",
    "read_noise_of",
    "stack_frames",
]

#: Metadata key of the mid-exposure time.
TIME_KEY = "mid_exposure_time"
#: Bayer colours.
COLOURS: tuple[str, ...] = ("r", "g", "b")


class MissingFrameMetadata(ValueError):
    """A frame's table lacks metadata the light curves need (named in the message)."""


def expected_relative_error(flux_e, sky_e_per_pix, npix, read_noise_e) -> np.ndarray:
    """Return the theoretical relative error of an aperture flux (the CCD equation).

    ``sigma_F / F`` with ``sigma_F`` from
    :func:`~panoptes_network.photometry.noise.theoretical_flux_error` (background known
    perfectly, no quantisation): ``sqrt(F + npix (sky + read_noise**2)) / F``.

    Parameters
    ----------
    flux_e : array_like
        Star flux in the aperture, background subtracted, e-.
    sky_e_per_pix : array_like
        Sky background, e- per pixel.
    npix : array_like
        Pixels in the aperture.
    read_noise_e : array_like
        Read noise, e- per pixel (per frame: shape ``(n_frames, 1)`` against
        ``(n_frames, n_stars)`` fluxes).

    Returns
    -------
    numpy.ndarray
        Relative error (dimensionless); NaN where the flux is not positive.
    """
    flux = np.asarray(flux_e, dtype=float)
    sigma = theoretical_flux_error(flux, sky_e_per_pix, npix, read_noise_e)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(flux > 0, sigma / flux, np.nan)


def frame_time_seconds(value) -> float:
    """Return a mid-exposure time as POSIX seconds.

    Parameters
    ----------
    value : float, str, datetime or astropy.time.Time
        POSIX seconds, an ISO string (UTC when naive), a datetime (UTC when naive) or a Time.

    Returns
    -------
    float
        POSIX seconds (s).
    """
    if isinstance(value, Time):
        return float(value.unix)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    return float(value)


@dataclass(frozen=True)
class PhotometryStack:
    """Per-frame photometry of one observation as (n_frames x n_stars) arrays.

    Attributes
    ----------
    image_ids, sequence_ids : numpy.ndarray
        Per frame (str).
    times : numpy.ndarray
        Mid-exposure, POSIX seconds.
    exptime : numpy.ndarray
        Exposure times, s.
    airmass : numpy.ndarray
        Per frame.
    picid : numpy.ndarray
        Per star (int64).
    ra, dec : numpy.ndarray
        Per star, degrees.
    vmag : numpy.ndarray
        Catalog V, mag.
    x, y : numpy.ndarray
        Pixel positions (NaN where not measured), shape (n_frames, n_stars).
    flux, flux_err, bkg, npix : dict of str to numpy.ndarray
        Per colour: flux and its error (e-), sky (e- per pixel), aperture pixels; NaN where
        not measured or flagged.
    read_noise_e : numpy.ndarray
        Per frame, the read noise of the camera that took it, e- per pixel; NaN where the
        table does not say it (:attr:`frame_read_noise` then refuses).
    site : Site or None
        The unit's site, from the first frame whose metadata names one (``site``).
    """

    image_ids: np.ndarray
    sequence_ids: np.ndarray
    times: np.ndarray
    exptime: np.ndarray
    airmass: np.ndarray
    picid: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    vmag: np.ndarray
    x: np.ndarray
    y: np.ndarray
    flux: dict[str, np.ndarray]
    flux_err: dict[str, np.ndarray]
    bkg: dict[str, np.ndarray]
    npix: dict[str, np.ndarray]
    read_noise_e: np.ndarray
    site: Site | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(n_frames, n_stars)."""
        return self.x.shape

    @property
    def frame_read_noise(self) -> np.ndarray:
        """Read noise per frame as a column, shape ``(n_frames, 1)``, e- per pixel.

        Raises
        ------
        MissingFrameMetadata
            When a frame's table did not say its camera's read noise, naming the image.
        """
        missing = ~np.isfinite(self.read_noise_e)
        if missing.any():
            raise _missing_read_noise(str(self.image_ids[np.flatnonzero(missing)[0]]))
        return self.read_noise_e[:, None]


def read_noise_of(meta: dict) -> float:
    """Return the read noise a frame was measured with, from its table's metadata.

    Parameters
    ----------
    meta : dict
        The table's metadata; ``camera.read_noise_e`` is used.

    Returns
    -------
    float
        Read noise, e- per pixel.

    Raises
    ------
    MissingFrameMetadata
        When the metadata does not say it (a table measured before cameras had their own
        constants), naming the image.
    """
    value = _read_noise_value(meta)
    if not np.isfinite(value):
        raise _missing_read_noise(meta.get("image_id", "?"))
    return value


def _read_noise_value(meta: dict) -> float:
    """Return a table's ``camera.read_noise_e`` (e- per pixel), NaN when it does not say it."""
    camera = meta.get("camera")
    value = camera.get("read_noise_e") if isinstance(camera, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return float("nan")
    return float(value)


def _missing_read_noise(image_id: object) -> MissingFrameMetadata:
    return MissingFrameMetadata(
        f"the sources table of image {image_id} does not say its camera's read noise "
        "(metadata camera.read_noise_e): measure the frame again"
    )


def stack_frames(
    tables: Sequence[Table],
    *,
    colours: Sequence[str] = COLOURS,
    min_coverage: float = 0.8,
    bad_flags: int = DEFAULT_BAD_FLAGS,
) -> PhotometryStack:
    """Stack per-frame photometry tables into arrays.

    Parameters
    ----------
    tables : sequence of astropy.table.Table
        One per frame (contract in the module docstring); sorted by time here.
    colours : sequence of str
        Colours to stack.
    min_coverage : float
        Keep stars with a usable flux in at least this fraction of the frames, in at least
        one colour.
    bad_flags : int
        Flag bits that mask a row.

    Returns
    -------
    PhotometryStack
        The arrays.
    """
    if not tables:
        raise ValueError("no frames to stack")
    times = np.array([frame_time_seconds(t.meta[TIME_KEY]) for t in tables])
    order = np.argsort(times, kind="stable")
    tables = [tables[i] for i in order]
    times = times[order]
    n_frames = len(tables)
    sizes = np.array([len(t) for t in tables])
    frame_of_row = np.repeat(np.arange(n_frames), sizes)
    picids = np.concatenate([np.asarray(t["picid"], dtype=np.int64) for t in tables])
    unique, first, star_of_row = np.unique(picids, return_index=True, return_inverse=True)
    star_of_row = star_of_row.ravel()

    def column(name: str) -> np.ndarray:
        return np.concatenate([np.asarray(t[name], dtype=float) for t in tables])

    def grid(values: np.ndarray) -> np.ndarray:
        out = np.full((n_frames, unique.size), np.nan)
        out[frame_of_row, star_of_row] = values
        return out

    flags = np.concatenate([np.asarray(t["flags"], dtype=np.int64) for t in tables])
    good = (flags & bad_flags) == 0
    flux, flux_err, bkg, npix = {}, {}, {}, {}
    for c in colours:
        f, e = column(f"flux_{c}"), column(f"flux_err_{c}")
        usable = good & np.isfinite(f) & (f > 0) & np.isfinite(e) & (e > 0)
        flux[c] = grid(np.where(usable, f, np.nan))
        flux_err[c] = grid(np.where(usable, e, np.nan))
        bkg[c] = grid(column(f"bkg_{c}"))
        npix[c] = grid(column(f"npix_{c}"))
    coverage = np.max([np.isfinite(flux[c]).mean(axis=0) for c in colours], axis=0)
    keep = coverage >= min_coverage
    meta = [t.meta for t in tables]
    return PhotometryStack(
        image_ids=np.array([str(m.get("image_id", "")) for m in meta]),
        sequence_ids=np.array([str(m.get("sequence_id", "")) for m in meta]),
        times=times,
        exptime=np.array([float(m.get("exptime", np.nan)) for m in meta]),
        airmass=np.array([float(m.get("airmass", np.nan)) for m in meta]),
        picid=unique[keep],
        ra=column("ra")[first][keep],
        dec=column("dec")[first][keep],
        vmag=column("vmag")[first][keep],
        x=grid(column("x"))[:, keep],
        y=grid(column("y"))[:, keep],
        flux={c: a[:, keep] for c, a in flux.items()},
        flux_err={c: a[:, keep] for c, a in flux_err.items()},
        bkg={c: a[:, keep] for c, a in bkg.items()},
        npix={c: a[:, keep] for c, a in npix.items()},
        read_noise_e=np.array([_read_noise_value(m) for m in meta]),
        site=next((site for site in (site_of(m.get("site")) for m in meta) if site), None),
    )
