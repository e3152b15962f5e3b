"""The physics of one frame: where the stars land and how many electrons everything gives.

:class:`StarField` holds the catalog stars of a sequence with their colours and their channel
fluxes above the atmosphere (:mod:`.passbands`). :func:`frame_scene` computes, for one
exposure, with the true WCS at mid-exposure:

- star positions (``all_world2pix``) and PSF sigmas (:mod:`.psf`);
- each star's airmass (Kasten & Young, from its own altitude at mid-exposure) and extinction
  per colour;
- the throughput map: lens vignetting times the clouds' transmission averaged over the
  exposure (:mod:`.clouds`), on a coarse grid (:mod:`.smooth_field`);
- the variability factor of each star averaged over the exposure (:mod:`.variability`);
- the sky per colour from the Krisciunas & Schaefer model (:mod:`.sky`) at every grid node
  (its altitude and distance from the Moon), times the throughput.

A star's channel flux in the frame is ``F_top * 10**(-0.4 k X) * throughput * variability``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from astropy.table import Table
from astropy.wcs import WCS

from panoptes_network.simulation.camera import CameraModel, HotPixels
from panoptes_network.simulation.clouds import CloudScreen
from panoptes_network.simulation.observing import MoonState, altaz, kasten_young_airmass
from panoptes_network.simulation.passbands import PASSBANDS, channel_fluxes, star_colours
from panoptes_network.simulation.psf import STAMP_HALF, PsfModel
from panoptes_network.simulation.render import FrameScene
from panoptes_network.simulation.sky import SkyModel
from panoptes_network.simulation.smooth_field import DEFAULT_GRID, SmoothField
from panoptes_network.simulation.unit import Unit

__all__ = ["FrameConditions", "FramePhysics", "StarField", "frame_scene"]


@dataclass(frozen=True)
class StarField:
    """The catalog stars of a sequence.

    Attributes
    ----------
    picid : numpy.ndarray of int64
        Ids.
    ra, dec : numpy.ndarray
        ICRS positions, in degrees.
    vmag : numpy.ndarray
        V magnitudes.
    bv : numpy.ndarray
        B-V colours, in magnitudes.
    bv_source : numpy.ndarray of str
        Where each colour came from (see :func:`~.passbands.star_colours`).
    top_fluxes : numpy.ndarray
        Shape ``(n, 3)``: R, G, B channel fluxes in one exposure above the atmosphere, without
        vignetting or clouds, in electrons.
    """

    picid: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    vmag: np.ndarray
    bv: np.ndarray
    bv_source: np.ndarray
    top_fluxes: np.ndarray

    @classmethod
    def from_catalog(cls, rows: Table, exptime: float) -> StarField:
        """Build the field from catalog rows.

        Parameters
        ----------
        rows : astropy.table.Table
            Rows of a :class:`~panoptes_network.catalog.star_catalog.Catalog` search.
        exptime : float
            Exposure time, in seconds.

        Returns
        -------
        StarField
            The stars, in the rows' order.
        """
        bv, source = star_colours(rows)
        vmag = np.asarray(rows["vmag"], dtype=float)
        return cls(
            picid=np.asarray(rows["picid"], dtype=np.int64),
            ra=np.asarray(rows["ra"], dtype=float),
            dec=np.asarray(rows["dec"], dtype=float),
            vmag=vmag,
            bv=bv,
            bv_source=source,
            top_fluxes=channel_fluxes(vmag, bv, exptime, 0.0),
        )

    def __len__(self) -> int:
        return len(self.picid)


@dataclass(frozen=True)
class FrameConditions:
    """The sky of one exposure.

    Attributes
    ----------
    start_seconds : float
        Start of the exposure since the start of the sequence, in seconds.
    exptime : float
        Exposure time, in seconds.
    mid_time : datetime
        Mid-exposure (aware UTC).
    wcs : astropy.wcs.WCS
        True WCS at mid-exposure.
    moon : MoonState
        The Moon at mid-exposure.
    variability : numpy.ndarray
        Relative flux of every star of the field over the exposure, shape ``(n,)``.
    """

    start_seconds: float
    exptime: float
    mid_time: datetime
    wcs: WCS
    moon: MoonState
    variability: np.ndarray


@dataclass(frozen=True)
class FramePhysics:
    """A frame's scene and the quantities behind it.

    Attributes
    ----------
    scene : FrameScene
        What lands on the sensor (for :mod:`.render`).
    index : numpy.ndarray of int
        Index into the :class:`StarField` of each star of the scene.
    airmass : numpy.ndarray
        Each star's airmass.
    throughput : numpy.ndarray
        Each star's vignetting times cloud transmission.
    variability : numpy.ndarray
        Each star's relative flux over the exposure.
    sky_at_stars : numpy.ndarray
        Shape ``(n, 3)``: sky at each star, electrons per pixel of each colour.
    fwhm : numpy.ndarray
        Each star's PSF FWHM (mean of the two axes), in pixels.
    throughput_field : SmoothField
        Vignetting times clouds over the image.
    clouds_field : SmoothField
        Cloud transmission alone over the image.
    sky_v : SmoothField
        Sky brightness (no clouds), V mag/arcsec^2.
    """

    scene: FrameScene
    index: np.ndarray
    airmass: np.ndarray
    throughput: np.ndarray
    variability: np.ndarray
    sky_at_stars: np.ndarray
    fwhm: np.ndarray
    throughput_field: SmoothField
    clouds_field: SmoothField
    sky_v: SmoothField


def frame_scene(
    stars: StarField,
    conditions: FrameConditions,
    unit: Unit,
    camera: CameraModel,
    sky: SkyModel,
    psf: PsfModel,
    clouds: CloudScreen | None,
    hot: HotPixels,
    grid: tuple[int, int] = DEFAULT_GRID,
    *,
    response: np.ndarray | None = None,
    dark_electrons: float = 0.0,
) -> FramePhysics:
    """Compute what one exposure puts on the sensor.

    Parameters
    ----------
    stars : StarField
        The sequence's stars.
    conditions : FrameConditions
        Time, true WCS, Moon and variability of the exposure.
    unit : Unit
        The site.
    camera : CameraModel
        The camera.
    sky : SkyModel
        The sky brightness model.
    psf : PsfModel
        The PSF model.
    clouds : CloudScreen or None
        Passing clouds, if any.
    hot : HotPixels
        The camera's hot pixels.
    grid : (int, int)
        Nodes of the smooth maps (rows, columns).
    response : numpy.ndarray or None
        The camera's pixel response non-uniformity (a map of ``camera.shape``); None:
        uniform.
    dark_electrons : float
        Mean dark current of a pixel over the exposure, in electrons.

    Returns
    -------
    FramePhysics
        The scene (stars landing within a stamp of the image) and its ingredients.
    """
    shape = camera.shape
    rows, cols = shape
    wcs = conditions.wcs
    x_all, y_all = wcs.all_world2pix(stars.ra, stars.dec, 0)
    on = (
        np.isfinite(x_all)
        & np.isfinite(y_all)
        & (x_all > -STAMP_HALF - 0.5)
        & (x_all < cols - 0.5 + STAMP_HALF)
        & (y_all > -STAMP_HALF - 0.5)
        & (y_all < rows - 0.5 + STAMP_HALF)
    )
    index = np.flatnonzero(on)
    x, y = x_all[index], y_all[index]

    node_x, node_y = SmoothField.node_positions(shape, grid)
    node_ra, node_dec = wcs.all_pix2world(node_x.ravel(), node_y.ravel(), 0)
    alt, az = altaz(
        unit,
        conditions.mid_time,
        np.concatenate([node_ra, stars.ra[index]]),
        np.concatenate([node_dec, stars.dec[index]]),
    )
    n_nodes = node_x.size
    node_alt, node_az = alt[:n_nodes].reshape(grid), az[:n_nodes].reshape(grid)
    star_alt = alt[n_nodes:]

    moon = conditions.moon
    separation = moon.separation(node_alt, node_az)
    if clouds is not None:
        cloud_nodes = clouds.mean_transmission(
            node_x, node_y, conditions.start_seconds, conditions.exptime
        )
    else:
        cloud_nodes = np.ones(grid)
    clouds_field = SmoothField(cloud_nodes, shape)
    throughput_field = SmoothField(camera.vignetting(node_x, node_y) * cloud_nodes, shape)
    sky_nodes = sky.electrons_per_pixel(
        node_alt,
        moon.altitude,
        separation,
        moon.phase_angle,
        camera.pixel_scale,
        conditions.exptime,
        PASSBANDS,
    )
    sky_fields = tuple(
        SmoothField(sky_nodes[..., c] * throughput_field.values, shape) for c in range(3)
    )
    sky_v = SmoothField(
        sky.surface_brightness(node_alt, moon.altitude, separation, moon.phase_angle), shape
    )

    airmass = kasten_young_airmass(star_alt)
    extinction = np.array([band.extinction for band in PASSBANDS])
    throughput = throughput_field.at(x, y)
    variability = conditions.variability[index]
    fluxes = (
        stars.top_fluxes[index]
        * 10.0 ** (-0.4 * extinction[None, :] * airmass[:, None])
        * (throughput * variability)[:, None]
    )
    seconds_mid = conditions.start_seconds + conditions.exptime / 2.0
    sigma_x, sigma_y = psf.sigmas(x, y, shape, seconds_mid)
    scene = FrameScene(
        camera=camera,
        x=x,
        y=y,
        fluxes=fluxes,
        sigma_x=sigma_x,
        sigma_y=sigma_y,
        sky=sky_fields,
        hot=hot,
        exptime=conditions.exptime,
        pixel_shares=tuple(band.pixel_share for band in PASSBANDS),
        response=response,
        dark_electrons=dark_electrons,
    )
    return FramePhysics(
        scene=scene,
        index=index,
        airmass=airmass,
        throughput=throughput,
        variability=variability,
        sky_at_stars=np.stack([field.at(x, y) for field in sky_fields], axis=1),
        fwhm=psf.fwhm(x, y, shape, seconds_mid),
        throughput_field=throughput_field,
        clouds_field=clouds_field,
        sky_v=sky_v,
    )
