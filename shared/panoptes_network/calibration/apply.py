"""Calibrating a science frame with masters, and choosing the masters to use.

:func:`calibrate_frame` removes the bias and dark and divides by the flat:

    calibrated = (raw - bias_adu - dark) / flat        (float32, ADU above bias)

The output is float32 (a 5208 x 3476 frame is 72 MB; float32 keeps 7 significant digits,
far below the noise of a pixel) in ADU above the bias: a star's sum in it is the sum it
would have in a raw frame at the centre of the field (the flat's colours have mean 1 in the
central region). The photometry of
:func:`panoptes_network.photometry.frame_photometry.measure_frame` takes raw pixels with the
bias in them, so pass ``calibrated + bias_adu`` with the same ``bias``, ``gain``,
``read_noise`` and ``saturation``: pixels saturated in the raw frame stay at or above
``saturation_adu - bias_adu`` after calibration (when ``saturation_adu`` is given), so the
``SATURATED`` flag still works. The noise model of ``measure_frame`` then reads the
background in the flat's units: off the centre, where the flat is below 1, it slightly
understates a pixel's shot noise (by ``sqrt(flat)``, 20 % in the corners); the fluxes are
unbiased.

:func:`select_master` picks, among the ``calibrations`` records of one bin, the valid master
nearest in time to a frame. When the nearest master was refused (a light leak, saturated
flats, too few frames), it falls back to the nearest valid one and says so, so the frame's
record can carry the note; when none is valid it says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from panoptes_network.calibration.master_record import EXPTIME_TOLERANCE, temperature_bin

__all__ = [
    "MIN_FLAT_VALUE",
    "MasterChoice",
    "calibrate_frame",
    "select_master",
]

#: Smallest flat value a pixel is divided by; below it (or not finite) the output is NaN.
MIN_FLAT_VALUE: float = 0.05


def calibrate_frame(
    pixels: np.ndarray,
    *,
    bias_adu: float,
    dark: np.ndarray | None = None,
    flat: np.ndarray | None = None,
    saturation_adu: float | None = None,
) -> np.ndarray:
    """Return a raw frame bias- and dark-subtracted and flat-fielded.

    Parameters
    ----------
    pixels : numpy.ndarray
        Raw 2-D frame (uint16, ADU, bias included).
    bias_adu : float
        Bias (black level) of the camera, in ADU.
    dark : numpy.ndarray, optional
        Dark master data of the frame's exposure time and temperature, in ADU above
        ``bias_adu`` (:attr:`.master_record.Master.data`); a bias master for a frame without one.
    flat : numpy.ndarray, optional
        Flat master data (dimensionless, each colour's mean 1 at the centre).
    saturation_adu : float, optional
        Saturation of the camera (bias included), in ADU. Pixels at or above it in the raw
        frame are given at least ``saturation_adu - bias_adu`` in the output, so photometry
        still flags them whatever the flat did.

    Returns
    -------
    numpy.ndarray
        Float32 image in ADU above bias: ``(pixels - bias_adu - dark) / flat``; NaN where
        the flat is below :data:`MIN_FLAT_VALUE` or not finite.

    Raises
    ------
    ValueError
        If the frame is not 2-D or a master's shape is not the frame's.
    """
    raw = np.asarray(pixels)
    if raw.ndim != 2:
        raise ValueError(f"a frame is a 2-D image, not shape {raw.shape}")
    for name, master in (("dark", dark), ("flat", flat)):
        if master is not None and np.shape(master) != raw.shape:
            raise ValueError(
                f"{name} master shape {np.shape(master)} is not the frame's {raw.shape}"
            )
    out = raw.astype(np.float32)
    out -= np.float32(bias_adu)
    if dark is not None:
        out -= np.asarray(dark, dtype=np.float32)
    if flat is not None:
        response = np.asarray(flat, dtype=np.float32)
        usable = np.isfinite(response) & (response >= MIN_FLAT_VALUE)
        np.divide(out, response, out=out, where=usable)
        out[~usable] = np.nan
    if saturation_adu is not None:
        saturated = raw >= saturation_adu
        out[saturated] = np.maximum(
            np.nan_to_num(out[saturated], nan=0.0), np.float32(saturation_adu - bias_adu)
        )
    return out


@dataclass(frozen=True)
class MasterChoice:
    """The master chosen for a frame, and what the frame's record should say about it.

    Attributes
    ----------
    record : Mapping or None
        The chosen master's record, or None when no valid master qualifies.
    separation : datetime.timedelta or None
        Time from the frame to the chosen master (absolute).
    note : str or None
        Set when the choice is not the plain nearest master: ``"fell back to ... because
        ..."`` when nearer masters were refused, or why there is no master at all.
    refused_nearer : tuple of Mapping
        Refused masters nearer in time than the one chosen (or all refused ones, when none
        was chosen), nearest first.
    """

    record: Mapping[str, Any] | None
    separation: timedelta | None
    note: str | None
    refused_nearer: tuple[Mapping[str, Any], ...] = ()

    @property
    def master_id(self) -> str | None:
        """The chosen master's id, or None."""
        return None if self.record is None else str(self.record.get("master_id"))


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _days(delta: timedelta) -> str:
    hours = abs(delta.total_seconds()) / 3600.0
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24.0:.1f} days"


def _matches(
    record: Mapping[str, Any],
    kind: str | None,
    camera_id: str | None,
    exptime: float | None,
    temperature_c: float | None,
) -> bool:
    if kind is not None and record.get("kind") != kind:
        return False
    if camera_id is not None and record.get("camera_id") != camera_id:
        return False
    if exptime is not None:
        theirs = record.get("exptime_s")
        if theirs is None or abs(float(theirs) - exptime) > max(0.01, EXPTIME_TOLERANCE * exptime):
            return False
    if temperature_c is not None:
        theirs = record.get("temperature_bin_c")
        if theirs is None or float(theirs) != temperature_bin(temperature_c):
            return False
    return True


def select_master(
    candidates: Sequence[Mapping[str, Any]],
    when: datetime,
    *,
    kind: str | None = None,
    camera_id: str | None = None,
    exptime: float | None = None,
    temperature_c: float | None = None,
    max_separation: timedelta | None = None,
) -> MasterChoice:
    """Choose the valid master nearest in time to a frame, saying when it had to fall back.

    Parameters
    ----------
    candidates : sequence of Mapping
        ``calibrations`` records (:meth:`.master_record.Master.to_record`): ``master_id``,
        ``status``, ``reason``, ``time`` (ISO 8601 string or datetime) and the bin fields.
    when : datetime
        The frame's time (``DATE-OBS``; aware UTC, naive is taken as UTC).
    kind : str, optional
        Keep only masters of this kind (``"dark"``, ``"bias"``, ``"flat"``).
    camera_id : str, optional
        Keep only masters of this camera.
    exptime : float, optional
        Keep only darks of this exposure time, in seconds (within
        :data:`.master_record.EXPTIME_TOLERANCE`).
    temperature_c : float, optional
        Keep only darks of this temperature's bin, in degrees Celsius.
    max_separation : datetime.timedelta, optional
        Ignore masters further from ``when`` than this.

    Returns
    -------
    MasterChoice
        The chosen record (or None), its distance in time, a note when nearer masters were
        refused or none is valid, and the refused masters nearer than the choice.
    """
    moment = _time(when)
    what = " ".join(
        part
        for part in (
            kind or "calibration",
            "master",
            f"of camera {camera_id}" if camera_id else "",
            f"for {exptime:g} s" if exptime is not None else "",
            f"at {temperature_bin(temperature_c):g} C bin" if temperature_c is not None else "",
        )
        if part
    )
    ranked = sorted(
        (
            (abs(_time(r["time"]) - moment), r)
            for r in candidates
            if _matches(r, kind, camera_id, exptime, temperature_c)
        ),
        key=lambda pair: pair[0],
    )
    beyond = 0
    if max_separation is not None:
        beyond = sum(1 for delta, _ in ranked if delta > max_separation)
        ranked = [(delta, r) for delta, r in ranked if delta <= max_separation]
    refused: list[tuple[timedelta, Mapping[str, Any]]] = []
    for delta, record in ranked:
        if record.get("status") == "valid":
            if not refused:
                return MasterChoice(record, delta, None)
            nearest_delta, nearest = refused[0]
            note = (
                f"fell back to {record.get('master_id')} ({_days(delta)} away) because the "
                f"nearest {what}, {nearest.get('master_id')} ({_days(nearest_delta)} away), "
                f"was refused: {nearest.get('reason')}"
            )
            if len(refused) > 1:
                note += f" ({len(refused) - 1} more nearer masters refused too)"
            return MasterChoice(record, delta, note, tuple(r for _, r in refused))
        refused.append((delta, record))
    if refused:
        nearest_delta, nearest = refused[0]
        note = (
            f"no valid {what}: all {len(refused)} candidates were refused; the nearest, "
            f"{nearest.get('master_id')} ({_days(nearest_delta)} away), because: "
            f"{nearest.get('reason')}"
        )
    else:
        note = f"no {what} exists"
    if beyond:
        note += f" ({beyond} further than {_days(max_separation or timedelta(0))} ignored)"
    return MasterChoice(None, None, note, tuple(r for _, r in refused))
