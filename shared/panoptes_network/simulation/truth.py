"""The truth of a simulated sequence, written beside its frames so tests can score themselves.

Layout, under the sequence folder ``<output>/<UNIT>/<CAMERA>/<SEQSTART>/truth/`` (files a
unit does not upload, so ``bin/upload`` skips them); tables are ECSV (astropy, with units and
column descriptions in their headers):

``simulation.json``
    Every input and model parameter: unit, camera, pointing model, PSF, sky, passbands,
    clouds, seed, times.
``stars.ecsv``
    One row per catalog star drawn: ``picid``, ``ra``, ``dec``, ``vmag``, ``bv`` and
    ``bv_source``, and the channel fluxes of one exposure above the atmosphere
    (``flux_{r,g,b}_top``) and at airmass 1 at the image centre without clouds
    (``flux_{r,g,b}_x1``), in electrons summed over the pixels of each colour.
``events.ecsv``
    The injected variability (see :func:`~.variability.events_table`).
``frames.ecsv``
    One row per frame: ids and file, times, the true WCS at mid-exposure (``CRVAL``,
    ``CRPIX``, ``CD`` and the header text), the true centre, the mount cards, airmass, Moon,
    Sun, sky per colour at the image centre, cloud transmission, PSF FWHM.
``frames/<IMGSTART>.ecsv``
    One row per star on that frame: position, airmass, throughput, variability, expected
    channel fluxes ``flux_{r,g,b}`` and their noiseless sums over the image's pixels
    ``pixel_flux_{r,g,b}`` (Bayer sampling and image edges included: the expectation of a
    large aperture sum over that colour's pixels), local sky, PSF, noiseless peak and a
    saturation flag.
``hot_pixels.ecsv``
    The camera's hot pixels and their dark current.

:class:`SequenceTruth` reads it all back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import Table
from astropy.wcs import WCS

from panoptes_network.simulation.camera import COLOURS, CameraModel, HotPixels
from panoptes_network.simulation.passbands import PASSBANDS
from panoptes_network.simulation.render import StarPixels
from panoptes_network.simulation.scene import FramePhysics, StarField
from panoptes_network.simulation.variability import Event, events_from_table

__all__ = [
    "TRUTH_FOLDER",
    "SequenceTruth",
    "frame_stars_table",
    "frames_table",
    "hot_pixels_table",
    "stars_table",
    "write_table",
]

#: Name of the truth folder inside a sequence folder.
TRUTH_FOLDER = "truth"
_LOWER = [c.lower() for c in COLOURS]


def _describe(table: Table, columns: dict[str, tuple[Any, str]]) -> Table:
    for name, (unit, description) in columns.items():
        if unit is not None:
            table[name].unit = unit
        table[name].description = description
    return table


def write_table(table: Table, path: Path) -> Path:
    """Write a table as ECSV, atomically (a temporary file renamed into place).

    Parameters
    ----------
    table : astropy.table.Table
        The table.
    path : Path
        Where to write it.

    Returns
    -------
    Path
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    table.write(partial, format="ascii.ecsv", overwrite=True)
    partial.replace(path)
    return path


def stars_table(stars: StarField) -> Table:
    """Return the sequence's stars with their colours and reference fluxes.

    Parameters
    ----------
    stars : StarField
        The stars.

    Returns
    -------
    astropy.table.Table
        See the module docstring (``stars.ecsv``).
    """
    extinction = np.array([band.extinction for band in PASSBANDS])
    at_x1 = stars.top_fluxes * 10.0 ** (-0.4 * extinction)
    table = Table(
        {
            "picid": stars.picid,
            "ra": stars.ra,
            "dec": stars.dec,
            "vmag": stars.vmag,
            "bv": stars.bv,
            "bv_source": stars.bv_source,
            **{f"flux_{c}_top": stars.top_fluxes[:, i] for i, c in enumerate(_LOWER)},
            **{f"flux_{c}_x1": at_x1[:, i] for i, c in enumerate(_LOWER)},
        }
    )
    columns: dict[str, tuple[Any, str]] = {
        "picid": (None, "catalog id"),
        "ra": (u.deg, "ICRS right ascension"),
        "dec": (u.deg, "ICRS declination"),
        "vmag": (u.mag, "V magnitude"),
        "bv": (u.mag, "B-V colour used"),
        "bv_source": (None, "bv, bmag or teff column, or picid (drawn from the id)"),
    }
    for c in _LOWER:
        columns[f"flux_{c}_top"] = (
            u.electron,
            f"{c.upper()} channel flux per exposure above the atmosphere",
        )
        columns[f"flux_{c}_x1"] = (
            u.electron,
            f"{c.upper()} channel flux per exposure at airmass 1, image centre, no clouds",
        )
    return _describe(table, columns)


def frame_stars_table(
    stars: StarField, physics: FramePhysics, pixels: StarPixels, camera: CameraModel
) -> Table:
    """Return the truth of every star on one frame.

    Parameters
    ----------
    stars : StarField
        The sequence's stars.
    physics : FramePhysics
        The frame's scene and ingredients.
    pixels : StarPixels
        What the stars put on the image.
    camera : CameraModel
        Gain, bias and saturation.

    Returns
    -------
    astropy.table.Table
        See the module docstring (``frames/<IMGSTART>.ecsv``).
    """
    scene = physics.scene
    peak_adu = camera.bias_adu + (pixels.peak + physics.sky_at_stars.max(axis=1)) / camera.gain
    table = Table(
        {
            "picid": stars.picid[physics.index],
            "x": scene.x,
            "y": scene.y,
            "airmass": physics.airmass,
            "throughput": physics.throughput,
            "variability": physics.variability,
            **{f"flux_{c}": scene.fluxes[:, i] for i, c in enumerate(_LOWER)},
            **{f"pixel_flux_{c}": pixels.pixel_fluxes[:, i] for i, c in enumerate(_LOWER)},
            **{f"sky_{c}": physics.sky_at_stars[:, i] for i, c in enumerate(_LOWER)},
            "fwhm": physics.fwhm,
            "sigma_x": scene.sigma_x,
            "sigma_y": scene.sigma_y,
            "peak_adu": peak_adu,
            "saturated": peak_adu >= camera.saturation_adu,
        }
    )
    columns: dict[str, tuple[Any, str]] = {
        "picid": (None, "catalog id"),
        "x": (u.pix, "0-based column of the star centre (numpy x)"),
        "y": (u.pix, "0-based row of the star centre (numpy y)"),
        "airmass": (None, "Kasten & Young airmass of the star at mid-exposure"),
        "throughput": (None, "vignetting times cloud transmission at the star"),
        "variability": (None, "injected relative flux, mean over the exposure"),
        "fwhm": (u.pix, "PSF FWHM (before elongation)"),
        "sigma_x": (u.pix, "Gaussian sigma along x"),
        "sigma_y": (u.pix, "Gaussian sigma along y"),
        "peak_adu": (u.adu, "noiseless brightest pixel, sky and bias included"),
        "saturated": (None, "peak_adu reaches the saturation level"),
    }
    for c in _LOWER:
        columns[f"flux_{c}"] = (u.electron, f"expected {c.upper()} channel flux in this frame")
        columns[f"pixel_flux_{c}"] = (
            u.electron,
            f"noiseless sum over the image's {c.upper()} pixels (expected aperture sum)",
        )
        columns[f"sky_{c}"] = (u.electron / u.pix, f"sky per {c.upper()} pixel at the star")
    return _describe(table, columns)


def hot_pixels_table(hot: HotPixels) -> Table:
    """Return the hot pixels as a table (``row``, ``col``, ``dark_current`` in e-/s)."""
    table = Table({"row": hot.rows, "col": hot.cols, "dark_current": hot.dark_current})
    return _describe(
        table,
        {
            "row": (None, "0-based pixel row"),
            "col": (None, "0-based pixel column"),
            "dark_current": (u.electron / u.s, "dark current"),
        },
    )


@dataclass
class SequenceTruth:
    """The truth of a simulated sequence, read back from its folder.

    Attributes
    ----------
    folder : Path
        The truth folder.
    parameters : dict
        ``simulation.json``.
    stars, events, frames, hot_pixels : astropy.table.Table
        The tables.
    """

    folder: Path
    parameters: dict[str, Any]
    stars: Table
    events: Table
    frames: Table
    hot_pixels: Table

    @classmethod
    def read(cls, sequence_folder: str | Path) -> SequenceTruth:
        """Read the truth of a sequence.

        Parameters
        ----------
        sequence_folder : str or Path
            ``<output>/<UNIT>/<CAMERA>/<SEQSTART>`` (or its ``truth`` folder itself).

        Returns
        -------
        SequenceTruth
            The tables and parameters.

        Raises
        ------
        FileNotFoundError
            If the folder holds no truth.
        """
        folder = Path(sequence_folder)
        if folder.name != TRUTH_FOLDER:
            folder = folder / TRUTH_FOLDER
        if not (folder / "simulation.json").is_file():
            raise FileNotFoundError(f"{folder} holds no simulation truth (simulation.json)")
        return cls(
            folder=folder,
            parameters=json.loads((folder / "simulation.json").read_text()),
            stars=Table.read(folder / "stars.ecsv", format="ascii.ecsv"),
            events=Table.read(folder / "events.ecsv", format="ascii.ecsv"),
            frames=Table.read(folder / "frames.ecsv", format="ascii.ecsv"),
            hot_pixels=Table.read(folder / "hot_pixels.ecsv", format="ascii.ecsv"),
        )

    def frame_stars(self, frame: int | str) -> Table:
        """Return the star truth of one frame.

        Parameters
        ----------
        frame : int or str
            Frame index, image id or image start (``YYYYMMDDTHHMMSS``).

        Returns
        -------
        astropy.table.Table
            ``frames/<IMGSTART>.ecsv``.
        """
        row = self._row(frame)
        return Table.read(self.folder / str(row["star_table"]), format="ascii.ecsv")

    def wcs(self, frame: int | str) -> WCS:
        """Return the true WCS of one frame at mid-exposure.

        Parameters
        ----------
        frame : int or str
            Frame index, image id or image start.

        Returns
        -------
        astropy.wcs.WCS
            The TAN WCS (1-based ``CRPIX`` as in FITS).
        """
        row = self._row(frame)
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.cunit = ["deg", "deg"]
        wcs.wcs.crval = [float(row["crval1"]), float(row["crval2"])]
        wcs.wcs.crpix = [float(row["crpix1"]), float(row["crpix2"])]
        wcs.wcs.cd = [
            [float(row["cd1_1"]), float(row["cd1_2"])],
            [float(row["cd2_1"]), float(row["cd2_2"])],
        ]
        wcs.wcs.radesys = "ICRS"
        return wcs

    def event_list(self) -> list[Event]:
        """Return the injected events as objects."""
        return events_from_table(self.events)

    def _row(self, frame: int | str):
        if isinstance(frame, int | np.integer):
            return self.frames[int(frame)]
        for row in self.frames:
            if frame in (row["image_id"], row["image_start"]):
                return row
        raise KeyError(f"no frame {frame!r} in {self.folder}")


_FRAME_COLUMNS: dict[str, tuple[Any, str]] = {
    "index": (None, "frame number in the sequence, from 0"),
    "image_id": (None, "IMAGEID card"),
    "image_start": (None, "IMGSTART of the bucket path"),
    "file": (None, "FITS file, relative to the sequence folder"),
    "star_table": (None, "star truth of the frame, relative to the truth folder"),
    "date_obs": (None, "DATE-OBS: exposure start, UTC"),
    "mid_time": (None, "mid-exposure, UTC (the true WCS and fluxes are for this time)"),
    "exptime": (u.s, "exposure time"),
    "crval1": (u.deg, "true WCS CRVAL1 (RA of the reference point)"),
    "crval2": (u.deg, "true WCS CRVAL2 (Dec of the reference point)"),
    "crpix1": (u.pix, "true WCS CRPIX1 (1-based, FITS)"),
    "crpix2": (u.pix, "true WCS CRPIX2 (1-based, FITS)"),
    "cd1_1": (u.deg / u.pix, "true WCS CD1_1"),
    "cd1_2": (u.deg / u.pix, "true WCS CD1_2"),
    "cd2_1": (u.deg / u.pix, "true WCS CD2_1"),
    "cd2_2": (u.deg / u.pix, "true WCS CD2_2"),
    "wcs_header": (None, "true WCS as FITS header cards (80 characters each)"),
    "ra_centre": (u.deg, "true RA of the image centre pixel"),
    "dec_centre": (u.deg, "true Dec of the image centre pixel"),
    "ra_mnt": (u.deg, "RA-MNT card"),
    "dec_mnt": (u.deg, "DEC-MNT card"),
    "ha_mnt": (u.hourangle, "HA-MNT card (hours)"),
    "airmass_mnt": (None, "AIRMASS card: sec(z) of the mount position at DATE-OBS"),
    "moonsep": (u.deg, "MOONSEP card"),
    "moonfrac": (None, "MOONFRAC card"),
    "altitude_centre": (u.deg, "altitude of the true centre at mid-exposure"),
    "airmass_centre": (None, "Kasten & Young airmass of the true centre at mid-exposure"),
    "moon_altitude": (u.deg, "Moon altitude at mid-exposure"),
    "moon_phase_angle": (u.deg, "Moon phase angle at mid-exposure"),
    "sun_altitude": (u.deg, "Sun altitude at DATE-OBS"),
    "sky_v": (u.mag / u.arcsec**2, "sky brightness at the centre (no clouds)"),
    "sky_r": (u.electron / u.pix, "sky per R pixel at the image centre (clouds included)"),
    "sky_g": (u.electron / u.pix, "sky per G pixel at the image centre (clouds included)"),
    "sky_b": (u.electron / u.pix, "sky per B pixel at the image centre (clouds included)"),
    "cloud_centre": (None, "cloud transmission at the image centre"),
    "cloud_mean": (None, "mean cloud transmission over the image"),
    "cloud_min": (None, "lowest cloud transmission on the image"),
    "fwhm_centre": (u.pix, "PSF FWHM at the image centre"),
    "drift_x": (u.pix, "tracking drift along x since the sequence start"),
    "drift_y": (u.pix, "tracking drift along y since the sequence start"),
    "stars": (None, "stars on the frame"),
}


def frames_table(rows: list[dict[str, Any]]) -> Table:
    """Return the per-frame truth table from one dict per frame.

    Parameters
    ----------
    rows : list of dict
        Values of every column of the frames table, one dict per frame.

    Returns
    -------
    astropy.table.Table
        See the module docstring (``frames.ecsv``).
    """
    table = Table(
        rows=[[row[name] for name in _FRAME_COLUMNS] for row in rows], names=list(_FRAME_COLUMNS)
    )
    return _describe(table, _FRAME_COLUMNS)
