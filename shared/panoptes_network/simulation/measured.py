"""Simulated observations measured like real ones: per-frame photometry tables with truth.

What light-curve tests and reports need from a pixel-level simulation: the stars of a field as
its first frame shows them (:func:`field_stars`), stars to inject events on among them
(:func:`isolated_stars`), and every frame of a simulated sequence measured with
:func:`~panoptes_network.photometry.frame_photometry.measure_frame` at the frame's true WCS
(:func:`measure_sequence`). The tables carry the metadata of the light-curve contract
(:mod:`panoptes_network.lightcurves.stacking`), so they go straight into build-lightcurve.
Plate solving is scored elsewhere: measuring at the true WCS scores the photometry and the
light curves alone.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from astropy.table import Table, join
from astropy.wcs import WCS
from scipy.spatial import cKDTree

from panoptes_network.catalog.star_catalog import Catalog
from panoptes_network.photometry.frame_photometry import measure_frame
from panoptes_network.simulation.sequence import read_frame, simulate_sequence
from panoptes_network.simulation.spec import SequenceSpec
from panoptes_network.simulation.truth import SequenceTruth

__all__ = ["field_stars", "isolated_stars", "measure_frame_file", "measure_sequence"]


def field_stars(spec: SequenceSpec, catalog: Catalog, folder: str | Path) -> Table:
    """Simulate the first frame of ``spec`` alone and return its stars with their V magnitude.

    The pointing, PSF and star field depend on the seed, not on the events or the frame
    count, so these are the stars (and positions) the whole sequence starts with: pick the
    stars to inject events on from them.

    Parameters
    ----------
    spec : SequenceSpec
        The sequence to come (its events are left out of the probe).
    catalog : Catalog
        The catalog it is simulated from.
    folder : str or Path
        Where the one-frame probe is written.

    Returns
    -------
    astropy.table.Table
        :meth:`SequenceTruth.frame_stars` of the first frame (``picid``, ``x``, ``y``,
        ``saturated`` ...) with the catalog ``vmag``.
    """
    probe = dataclasses.replace(spec, count=1, events=(), demo_events=False)
    truth = SequenceTruth.read(simulate_sequence(probe, catalog, Path(folder)).folder)
    return join(truth.frame_stars(0), truth.stars["picid", "vmag"], keys="picid")


def isolated_stars(
    frame_stars: Table,
    vmag_range: tuple[float, float],
    shape: tuple[int, int],
    *,
    margin: float = 150.0,
    radius: float = 30.0,
    delta_mag: float = 3.0,
) -> np.ndarray:
    """Return the PICIDs of unsaturated stars that no neighbour contaminates.

    Parameters
    ----------
    frame_stars : astropy.table.Table
        Stars of a frame with their V magnitude, as :func:`field_stars` returns them.
    vmag_range : (float, float)
        V magnitudes to pick from (mag).
    shape : (int, int)
        Frame shape (rows, columns), pixels.
    margin : float
        Least distance from the frame's edges, pixels.
    radius : float
        No neighbour within this distance (pixels) ...
    delta_mag : float
        ... that is less than this many magnitudes fainter.

    Returns
    -------
    numpy.ndarray
        PICIDs, brightest first.
    """
    x, y = np.asarray(frame_stars["x"], float), np.asarray(frame_stars["y"], float)
    vmag = np.asarray(frame_stars["vmag"], float)
    rows, cols = shape
    inside = (x > margin) & (x < cols - margin) & (y > margin) & (y < rows - margin)
    wanted = inside & (vmag >= vmag_range[0]) & (vmag <= vmag_range[1])
    wanted &= ~np.asarray(frame_stars["saturated"], bool)
    tree = cKDTree(np.column_stack([x, y]))
    keep = []
    for i in np.flatnonzero(wanted):
        near = [j for j in tree.query_ball_point([x[i], y[i]], radius) if j != i]
        if all(vmag[j] > vmag[i] + delta_mag for j in near):
            keep.append(i)
    keep = np.array(keep, dtype=int)
    order = np.argsort(vmag[keep], kind="stable")
    return np.asarray(frame_stars["picid"])[keep[order]]


def measure_frame_file(path: str, wcs: WCS, rows: Table, meta: dict) -> Table:
    """Read one simulated frame, measure it at ``wcs`` and attach its metadata.

    Parameters
    ----------
    path : str
        The frame's FITS file.
    wcs : astropy.wcs.WCS
        Its true WCS.
    rows : astropy.table.Table
        Catalog stars to measure.
    meta : dict
        ``image_id``, ``mid_exposure_time`` and ``exptime``; ``sequence_id`` and ``airmass``
        are added from the header.

    Returns
    -------
    astropy.table.Table
        The frame's sources table with the light-curve metadata.
    """
    header, pixels = read_frame(path)
    table = measure_frame(pixels, wcs, rows)
    del pixels
    table.meta.update(meta, sequence_id=str(header["SEQID"]), airmass=float(header["AIRMASS"]))
    return table


def measure_sequence(
    folder: str | Path,
    catalog: Catalog,
    *,
    vmag_range: tuple[float, float] = (6.0, 13.0),
    shape: tuple[int, int] | None = None,
    workers: int = 2,
) -> list[Table]:
    """Measure every frame of a simulated sequence at its true WCS.

    Parameters
    ----------
    folder : str or Path
        The sequence folder :func:`~panoptes_network.simulation.simulate_sequence` wrote.
    catalog : Catalog
        The catalog the sequence was simulated from.
    vmag_range : (float, float)
        Catalog stars to measure (mag).
    shape : (int, int), optional
        Frame shape; from the truth's parameters by default.
    workers : int
        Processes measuring frames in parallel (one frame each at a time).

    Returns
    -------
    list of astropy.table.Table
        One table per frame, in time order.
    """
    truth = SequenceTruth.read(folder)
    if shape is None:
        camera = truth.parameters["camera"]
        shape = (int(camera["height"]), int(camera["width"]))
    jobs = []
    for i, row in enumerate(truth.frames):
        wcs = truth.wcs(i)
        rows = catalog.footprint_search(wcs, shape, 0.0, vmag_range)
        meta = {
            "image_id": str(row["image_id"]),
            "mid_exposure_time": str(row["mid_time"]),
            "exptime": float(row["exptime"]),
        }
        jobs.append((str(Path(folder) / str(row["file"])), wcs, rows, meta))
    if workers <= 1:
        return [measure_frame_file(*job) for job in jobs]
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(measure_frame_file, *zip(*jobs, strict=True)))
