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
import functools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

import numpy as np
from astropy.table import Table, join
from astropy.wcs import WCS
from scipy.spatial import cKDTree

from panoptes_network.calibration.apply import calibrate_frame
from panoptes_network.calibration.masters import build_flat_master
from panoptes_network.catalog.star_catalog import Catalog
from panoptes_network.frames.camera_constants import resolve_camera_constants
from panoptes_network.photometry.frame_photometry import measure_frame
from panoptes_network.simulation.calibration_sequences import simulate_flat_sequence
from panoptes_network.simulation.camera import SIMULATED_SOURCE, CameraModel
from panoptes_network.simulation.sequence import read_frame, simulate_sequence
from panoptes_network.simulation.spec import SequenceSpec
from panoptes_network.simulation.truth import SequenceTruth
from panoptes_network.simulation.unit import DEFAULT_UNIT, Unit

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


def camera_flat(
    camera: CameraModel,
    *,
    start: datetime,
    unit: Unit = DEFAULT_UNIT,
    n_frames: int = 12,
    seed: int = 0,
) -> np.ndarray:
    """Build a camera's flat master from a simulated evening twilight flat sequence.

    The flats see the camera's own lens vignetting and pixel response non-uniformity (the
    maps its science frames are simulated with), so the master removes them.

    Parameters
    ----------
    camera : CameraModel
        The camera.
    start : datetime
        Start of the first flat (aware UTC).
    unit : Unit
        The unit (its longitude sets the flat's night).
    n_frames : int
        Flats in the sequence.
    seed : int
        Seed of their noise.

    Returns
    -------
    numpy.ndarray
        The master's float32 data (dimensionless, each colour's mean 1 at the centre).

    Raises
    ------
    ValueError
        When the master is refused (the reason says why).
    """
    frames = simulate_flat_sequence(
        camera,
        start=start,
        n_frames=n_frames,
        target_fraction=0.4,
        corner_loss=camera.vignetting_loss,
        unit=unit,
        seed=seed,
    )
    master = build_flat_master(
        [frame.pixels for frame in frames],
        camera_id=camera.camera_id,
        bias_adu=camera.bias_adu,
        saturation_adu=camera.saturation_adu,
        gain=camera.gain,
        read_noise_e=camera.read_noise,
        bayer_pattern="RGGB",
        times=[frame.time for frame in frames],
        longitude_deg=unit.longitude,
        exptimes=[frame.exptime for frame in frames],
        frame_ids=[frame.image_id for frame in frames],
    )
    if master.data is None:
        raise ValueError(
            f"the simulated flat of camera {camera.camera_id} was refused: {master.reason}"
        )
    return master.data


@functools.lru_cache(maxsize=1)
def _mapped_flat(path: str) -> np.ndarray:
    return np.load(path, mmap_mode="r")


def measure_frame_file(
    path: str,
    wcs: WCS,
    rows: Table,
    meta: dict,
    camera: CameraModel,
    flat: np.ndarray | str | None = None,
) -> Table:
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
        are added from the header, ``camera`` from the camera.
    camera : CameraModel
        The camera that took the frame: its constants are resolved from the frame's header
        and the camera's registry entry, as measure-sources does.
    flat : numpy.ndarray, str or None
        A flat master of the camera (:func:`camera_flat`), or the ``.npy`` file holding it:
        the frame is bias-subtracted and flat-fielded
        (:func:`~panoptes_network.calibration.apply.calibrate_frame`) first.

    Returns
    -------
    astropy.table.Table
        The frame's sources table with the light-curve metadata.
    """
    header, pixels = read_frame(path)
    constants = resolve_camera_constants(
        camera.camera_id, header, registry=camera.registry_entry(SIMULATED_SOURCE)
    )
    bias = float(constants["bias_adu"])
    if isinstance(flat, str):
        flat = np.asarray(_mapped_flat(flat))
    if flat is not None:
        calibrated = calibrate_frame(
            pixels, bias_adu=bias, flat=flat, saturation_adu=float(constants["saturation_adu"])
        )
        pixels = np.nan_to_num(calibrated, nan=0.0) + np.float32(bias)
    table = measure_frame(
        pixels,
        wcs,
        rows,
        gain=float(constants["gain_e_per_adu"]),
        read_noise=float(constants["read_noise_e"]),
        bias=bias,
        saturation=float(constants["saturation_adu"]),
        bayer_pattern=str(constants["bayer_pattern"]),
        flat=flat,
    )
    del pixels
    table.meta.update(
        meta,
        sequence_id=str(header["SEQID"]),
        airmass=float(header["AIRMASS"]),
        camera={"camera_id": camera.camera_id, **constants.summary()},
    )
    return table


def measure_sequence(
    folder: str | Path,
    catalog: Catalog,
    *,
    vmag_range: tuple[float, float] = (6.0, 13.0),
    shape: tuple[int, int] | None = None,
    workers: int = 2,
    flat: np.ndarray | None = None,
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
    flat : numpy.ndarray, optional
        The camera's flat master (:func:`camera_flat`): every frame is flat-fielded first,
        as measure-sources does with a camera's masters. Written once beside the frames
        (``flat.npy``) for the workers to map.

    Returns
    -------
    list of astropy.table.Table
        One table per frame, in time order.
    """
    truth = SequenceTruth.read(folder)
    flat_file = None
    if flat is not None:
        flat_file = str(Path(folder) / "flat.npy")
        np.save(flat_file, np.asarray(flat, dtype=np.float32))
    camera = CameraModel(**truth.parameters["camera"])
    if shape is None:
        shape = camera.shape
    jobs = []
    for i, row in enumerate(truth.frames):
        wcs = truth.wcs(i)
        rows = catalog.footprint_search(wcs, shape, 0.0, vmag_range)
        meta = {
            "image_id": str(row["image_id"]),
            "mid_exposure_time": str(row["mid_time"]),
            "exptime": float(row["exptime"]),
        }
        jobs.append((str(Path(folder) / str(row["file"])), wcs, rows, meta, camera, flat_file))
    if workers <= 1:
        return [measure_frame_file(*job) for job in jobs]
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(measure_frame_file, *zip(*jobs, strict=True)))
