"""Calibrating a science frame with its camera's masters before it is measured.

measure-sources calls :func:`calibrate_for_measurement` on each solved frame. From the
camera's ``calibrations`` records
(:func:`~panoptes_network.calibration.master_store.camera_masters`) it chooses, with
:func:`~panoptes_network.calibration.apply.select_master`, the valid masters nearest the
frame's ``DATE-OBS`` that fit it (same frame shape):

- a **dark** of the frame's exposure time (``EXPTIME``) and temperature bin (``CAMTEMP``),
  else a **bias** master;
- a **flat**.

It applies them with :func:`~panoptes_network.calibration.apply.calibrate_frame` and gives
:func:`.frame_photometry.measure_frame` the calibrated frame with the bias added back. Pixels
saturated in the raw frame stay flagged, and no other pixel is: the saturation level passed on
is the camera's, raised above every unsaturated calibrated pixel where the flat lifted one
past it (a bright star in a vignetted corner), and the raw-saturated pixels are set at least
to it. A pixel the flat cannot correct (dead in the flat) is measured as sky-free bias (0 ADU
above it) and counted.

What was applied is recorded (:meth:`FrameCalibration.to_record`, the ``calibration`` field of
the image document and of the table's metadata): the masters' ids and distances in time, the
note :func:`~panoptes_network.calibration.apply.select_master` wrote when the nearest master
was refused and it fell back to an older (or later) one, and why a frame has no master. A
frame without any master is measured raw, as before masters existed, and says so.

Masters are cached per process (:class:`MasterLibrary`): a service measures many frames of one
camera, so each master's image is read once (keyed by its id and file checksum, so a rebuilt
master is read again), and a camera's records are read again after
:attr:`MasterLibrary.records_ttl`.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from panoptes_network.calibration.apply import MasterChoice, calibrate_frame, select_master
from panoptes_network.calibration.calibration_frame import sensor_temperature_c
from panoptes_network.calibration.frame_kind import FrameType
from panoptes_network.calibration.master_store import camera_masters, read_master
from panoptes_network.frames.camera_constants import CameraConstants
from panoptes_network.frames.fits_header import FitsHeader
from panoptes_network.frames.header_values import header_value
from panoptes_network.pipeline.context import ChainContext
from panoptes_network.pipeline.errors import ObjectNotFoundError
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import CalibrationStatus

__all__ = [
    "CalibratedFrame",
    "FrameCalibration",
    "MasterLibrary",
    "calibrate_for_measurement",
    "library_for",
]


@dataclass(frozen=True)
class FrameCalibration:
    """Which masters a frame was calibrated with, and why not others.

    Attributes
    ----------
    dark_master_id : str or None
        The dark or bias master subtracted.
    dark_kind : str or None
        ``"dark"`` or ``"bias"``.
    dark_separation_hours : float or None
        Time between the frame and that master, in hours.
    dark_note : str or None
        Why a bias stood in for a dark, the fallback past a refused master, or why none.
    flat_master_id : str or None
        The flat master divided by.
    flat_separation_hours : float or None
        Time between the frame and that master, in hours.
    flat_note : str or None
        The fallback past a refused flat, or why none.
    pixels_without_flat : int
        Pixels the flat could not correct (measured as bias).
    """

    dark_master_id: str | None = None
    dark_kind: str | None = None
    dark_separation_hours: float | None = None
    dark_note: str | None = None
    flat_master_id: str | None = None
    flat_separation_hours: float | None = None
    flat_note: str | None = None
    pixels_without_flat: int = 0

    @property
    def status(self) -> str:
        """:class:`CalibrationStatus` value."""
        applied = (self.dark_master_id is not None) + (self.flat_master_id is not None)
        return (
            CalibrationStatus.UNCALIBRATED,
            CalibrationStatus.PARTLY_CALIBRATED,
            CalibrationStatus.CALIBRATED,
        )[applied]

    @property
    def summary(self) -> str:
        """One line: what was applied, or that nothing was."""
        parts = []
        if self.dark_master_id is not None:
            parts.append(f"{self.dark_kind} {self.dark_master_id}")
        if self.flat_master_id is not None:
            parts.append(f"flat {self.flat_master_id}")
        if not parts:
            return "no calibration master applied: the raw frame was measured"
        return " and ".join(parts) + " applied"

    def to_record(self) -> dict[str, Any]:
        """Return the record of the image document and the table metadata (JSON-able)."""
        return {
            "status": self.status,
            "summary": self.summary,
            **{name: getattr(self, name) for name in self.__dataclass_fields__},
        }


@dataclass(frozen=True)
class CalibratedFrame:
    """What measure-sources measures.

    Attributes
    ----------
    pixels : numpy.ndarray
        The raw frame when no master applies; else the calibrated frame plus the bias
        (float32, ADU).
    saturation_adu : float
        The level at or above which a pixel counts as saturated, in ADU (module docstring).
    calibration : FrameCalibration
        What was applied.
    flat : numpy.ndarray or None
        The flat master the pixels were divided by (dimensionless), for the errors of
        :func:`~.frame_photometry.measure_frame`; None when none was.
    """

    pixels: np.ndarray
    saturation_adu: float
    calibration: FrameCalibration
    flat: np.ndarray | None = None


class MasterLibrary:
    """A process's cache of a camera's ``calibrations`` records and master images.

    Parameters
    ----------
    records_ttl : datetime.timedelta
        How long a camera's records are used before they are read again.
    max_masters : int
        Most master images kept (a full-frame master is 72 MB).
    """

    def __init__(
        self, *, records_ttl: timedelta = timedelta(minutes=5), max_masters: int = 3
    ) -> None:
        self.records_ttl = records_ttl
        self.max_masters = max_masters
        self._records: dict[str, tuple[datetime, list[dict[str, Any]]]] = {}
        self._images: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self.images_read = 0

    def records(self, ctx: ChainContext, camera_id: str) -> list[dict[str, Any]]:
        """Return a camera's records (not superseded), read again once they are too old."""
        assert ctx.documents is not None
        now = ctx.now()
        cached = self._records.get(camera_id)
        if cached is None or now - cached[0] > self.records_ttl:
            cached = (now, camera_masters(ctx.documents, camera_id))
            self._records[camera_id] = cached
        return cached[1]

    def image(self, ctx: ChainContext, record: Mapping[str, Any]) -> np.ndarray:
        """Return a valid master's image (float32, read-only), read once per file version.

        Raises
        ------
        ValueError, ObjectNotFoundError
            When the record names no file, or the file is missing or not a master.
        """
        key = (str(record.get("master_id")), str(record.get("fits_md5")))
        if key in self._images:
            self._images.move_to_end(key)
            return self._images[key]
        data = read_master(ctx, dict(record)).data
        if data is None:
            raise ValueError(f"master {key[0]} has no image")
        data.setflags(write=False)
        self.images_read += 1
        self._images[key] = data
        while len(self._images) > max(self.max_masters, 0):
            self._images.popitem(last=False)
        return data


_LIBRARIES: weakref.WeakKeyDictionary[DocumentStore, MasterLibrary] = weakref.WeakKeyDictionary()


def library_for(documents: DocumentStore) -> MasterLibrary:
    """Return the process's :class:`MasterLibrary` of a document store (made on first use)."""
    try:
        library = _LIBRARIES.get(documents)
        if library is None:
            library = _LIBRARIES[documents] = MasterLibrary()
    except TypeError:  # a store that cannot be weakly referenced: no cache across calls
        return MasterLibrary()
    return library


def _hours(choice: MasterChoice) -> float | None:
    return None if choice.separation is None else choice.separation.total_seconds() / 3600.0


def _join(*notes: str | None) -> str | None:
    kept = [n for n in notes if n]
    return "; ".join(kept) if kept else None


def _choose_dark(
    records: Sequence[Mapping[str, Any]],
    when: datetime,
    camera_id: str,
    exptime: float | None,
    temperature_c: float | None,
) -> tuple[MasterChoice, str | None]:
    """Return the dark (else bias) master to use and the note that goes with it."""
    notes: list[str | None] = []
    if exptime is None:
        notes.append("no EXPTIME: no dark master can match the frame")
    else:
        if temperature_c is None:
            notes.append("no CAMTEMP: the dark's temperature bin was not matched")
        dark = select_master(
            records,
            when,
            kind=FrameType.DARK.value,
            camera_id=camera_id,
            exptime=exptime,
            temperature_c=temperature_c,
        )
        if dark.record is not None:
            return dark, _join(*notes, dark.note)
        notes.append(dark.note)
    bias = select_master(records, when, kind=FrameType.BIAS.value, camera_id=camera_id)
    if bias.record is not None:
        notes.append(f"bias master {bias.master_id} used instead")
    return bias, _join(*notes, bias.note)


def calibrate_for_measurement(
    ctx: ChainContext,
    library: MasterLibrary,
    camera_id: str,
    header: FitsHeader,
    pixels: np.ndarray,
    constants: CameraConstants,
    when: datetime,
) -> CalibratedFrame:
    """Apply the nearest valid masters to a science frame (module docstring).

    Parameters
    ----------
    ctx : ChainContext
        The chain: ``documents`` (the ``calibrations`` records) and the calibrations bucket.
    library : MasterLibrary
        The process's cache of records and master images.
    camera_id : str
        The frame's camera.
    header : FitsHeader
        The frame's header (``EXPTIME``, ``CAMTEMP``).
    pixels : numpy.ndarray
        The raw frame (uint16, ADU, bias included).
    constants : CameraConstants
        The frame's resolved camera constants (``bias_adu``, ``saturation_adu``).
    when : datetime
        The frame's start (``DATE-OBS``), aware UTC.

    Returns
    -------
    CalibratedFrame
        What to measure, the saturation level to flag at, and what was applied.
    """
    saturation = float(constants["saturation_adu"])
    bias = float(constants["bias_adu"])
    shape = [int(pixels.shape[0]), int(pixels.shape[1])]
    records = library.records(ctx, camera_id)
    fitting = [r for r in records if list(r.get("shape") or ()) == shape]
    other_shape = len(records) - len(fitting)
    shape_note = (
        f"{other_shape} master(s) of another frame shape than {shape[0]} x {shape[1]} ignored"
        if other_shape
        else None
    )
    exptime = header_value(header, "EXPTIME", float)
    dark_choice, dark_note = _choose_dark(
        fitting, when, camera_id, exptime, sensor_temperature_c(header)
    )
    flat_choice = select_master(fitting, when, kind=FrameType.FLAT.value, camera_id=camera_id)
    flat_note = flat_choice.note

    def load(choice: MasterChoice) -> tuple[np.ndarray | None, str | None]:
        if choice.record is None:
            return None, None
        try:
            return library.image(ctx, choice.record), None
        except (ObjectNotFoundError, ValueError) as exc:
            return None, f"master {choice.master_id} could not be read ({exc}); not applied"

    dark, dark_error = load(dark_choice)
    flat, flat_error = load(flat_choice)
    calibration = FrameCalibration(
        dark_master_id=dark_choice.master_id if dark is not None else None,
        dark_kind=str(dark_choice.record.get("kind"))
        if dark is not None and dark_choice.record is not None
        else None,
        dark_separation_hours=_hours(dark_choice) if dark is not None else None,
        dark_note=_join(dark_note, dark_error, shape_note),
        flat_master_id=flat_choice.master_id if flat is not None else None,
        flat_separation_hours=_hours(flat_choice) if flat is not None else None,
        flat_note=_join(flat_note, flat_error, shape_note),
    )
    if dark is None and flat is None:
        return CalibratedFrame(pixels, saturation, calibration)
    calibrated = calibrate_frame(
        pixels, bias_adu=bias, dark=dark, flat=flat, saturation_adu=saturation
    )
    dead = np.isnan(calibrated)
    without_flat = int(np.count_nonzero(dead))
    calibrated[dead] = 0.0
    del dead
    calibrated += np.float32(bias)
    saturated = pixels >= saturation
    top = float(np.max(calibrated, where=~saturated, initial=-np.inf))
    level = max(saturation, float(np.nextafter(np.float32(top), np.float32(np.inf))))
    np.maximum(calibrated, np.float32(level), out=calibrated, where=saturated)
    if without_flat:
        calibration = replace(calibration, pixels_without_flat=without_flat)
    return CalibratedFrame(calibrated, level, calibration, flat)
