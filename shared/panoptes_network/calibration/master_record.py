"""What a calibration master is: its bins, its data, its ``calibrations`` record, its FITS file.

:class:`Master` is what :mod:`.masters` builds: the data (or none, when refused) and the
record of how it was made. :meth:`Master.to_record` is its document in the ``calibrations``
collection (no arrays); :func:`master_fits_bytes` its file in the calibrations bucket, read
back by :func:`read_master_fits`.

Bins
----
- **Dark** (and **bias**, a dark of at most
  :data:`~.frame_kind.BIAS_MAX_EXPTIME_S`): per camera, exposure time and temperature bin of
  :data:`TEMPERATURE_BIN_C` degrees (lower edge: 11 C is in the ``10C`` bin, [10, 15) C).
  Bin key ``<camera>_dark_<exptime>s_<bin>C``, e.g. ``14d3bd_dark_120s_10C``.
- **Flat**: per camera and period, a night (the local date of the evening, with local mean
  solar time from the site's longitude, so evening and morning flats of one night share it)
  or an ISO week of nights. One master holds the three colours, each normalised on its own
  Bayer sites. Bin key ``14d3bd_flat_night_2016-09-08`` or ``14d3bd_flat_week_2016-W36``.

A master's id is its bin key and the start of its first frame,
``14d3bd_dark_120s_10C_20160909T081152``.

Data
----
- Dark and bias masters: float32, ADU above the ``bias_adu`` given (the mean raw frame minus
  that scalar: fixed bias structure, dark current and hot pixels of that exposure).
- Flat masters: float32, dimensionless relative response (vignetting times pixel response),
  each colour (R; both greens, G; B) normalised to mean 1 over the central region
  (:data:`.masters.CENTRAL_FRACTION` of the width and height).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
from astropy.io import fits

from panoptes_network.calibration.frame_kind import FrameType
from panoptes_network.frames.bucket_path import format_timestamp

__all__ = [
    "EXPTIME_TOLERANCE",
    "FLAT_PERIODS",
    "STATUS_REFUSED",
    "STATUS_VALID",
    "TEMPERATURE_BIN_C",
    "Master",
    "RefusedFrame",
    "Rejection",
    "aware_utc",
    "master_fits_bytes",
    "night_of",
    "read_master_fits",
    "temperature_bin",
    "week_of",
]

#: Width of a temperature bin of dark masters, in degrees Celsius.
TEMPERATURE_BIN_C: float = 5.0
#: Largest relative difference of exposure times in one dark bin (frames of a master, a
#: frame and its master): 120.4 s frames take a 120 s master.
EXPTIME_TOLERANCE: float = 0.02
#: Periods a flat master can cover.
FLAT_PERIODS: tuple[str, ...] = ("night", "week")
#: Status of a master that can be applied.
STATUS_VALID = "valid"
#: Status of a master refused for its sequence (no data; ``reason`` says why).
STATUS_REFUSED = "refused"


@dataclass(frozen=True)
class RefusedFrame:
    """A frame left out of a master.

    Attributes
    ----------
    frame_id : str
        The frame's image id (or ``"frame <k>"`` when none was given).
    reason : str
        Why, with the figures.
    """

    frame_id: str
    reason: str


@dataclass(frozen=True)
class Rejection:
    """What was left out of a master.

    Attributes
    ----------
    frames_refused : tuple of RefusedFrame
        Whole frames refused, with their reasons.
    values_rejected : int
        Pixel values (pixel x frame) rejected by the clipping.
    rejected_fraction : float
        ``values_rejected`` over all values of the frames used.
    per_frame : tuple of int
        Values rejected in each frame used, in order (one frame with many shows a satellite
        or a passing cloud).
    saturated_values : int
        Values at or above saturation left out (flats).
    pixels_without_value : int
        Pixels where every value was rejected or saturated (the median is used there).
    """

    frames_refused: tuple[RefusedFrame, ...] = ()
    values_rejected: int = 0
    rejected_fraction: float = 0.0
    per_frame: tuple[int, ...] = ()
    saturated_values: int = 0
    pixels_without_value: int = 0

    def to_record(self) -> dict[str, Any]:
        """Return the statistics as a JSON-able dict."""
        return {
            "frames_refused": [
                {"frame_id": f.frame_id, "reason": f.reason} for f in self.frames_refused
            ],
            "values_rejected": int(self.values_rejected),
            "rejected_fraction": float(self.rejected_fraction),
            "per_frame": [int(v) for v in self.per_frame],
            "saturated_values": int(self.saturated_values),
            "pixels_without_value": int(self.pixels_without_value),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Rejection:
        """Rebuild the statistics from :meth:`to_record`'s dict."""
        return cls(
            frames_refused=tuple(
                RefusedFrame(str(f["frame_id"]), str(f["reason"]))
                for f in record.get("frames_refused", ())
            ),
            values_rejected=int(record.get("values_rejected", 0)),
            rejected_fraction=float(record.get("rejected_fraction", 0.0)),
            per_frame=tuple(int(v) for v in record.get("per_frame", ())),
            saturated_values=int(record.get("saturated_values", 0)),
            pixels_without_value=int(record.get("pixels_without_value", 0)),
        )


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _finite(value: float | None) -> float | None:
    """Return a float for a document: None when missing or not finite (no NaN in JSON)."""
    if value is None or not math.isfinite(float(value)):
        return None
    return float(value)


def _parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return aware_utc(value) if value is not None else None
    return aware_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def aware_utc(moment: datetime) -> datetime:
    """Return an instant as an aware UTC datetime (naive is taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class Master:
    """A calibration master, or the record of one that was refused.

    Attributes
    ----------
    kind : FrameType
        ``DARK``, ``BIAS`` or ``FLAT``.
    camera_id : str
        Six lower-case hex characters.
    status : str
        ``"valid"`` or ``"refused"``.
    reason : str or None
        Why it was refused (None when valid).
    data : numpy.ndarray or None
        Float32 image (module docstring, *Data*); None when refused.
    shape : (int, int)
        Shape of the frames, (rows, columns), in pixels.
    start, end, time : datetime
        First and last frame's start, and the median of the frames' starts (UTC); ``time``
        is what :func:`.apply.select_master` measures distances from.
    frames_used : tuple of str
        Ids of the frames combined.
    rejection : Rejection
        What was left out.
    quality : dict
        Figures of the master (module docstring, *Quality*).
    quality_figure : float or None
        The one figure to rank masters by (lower is better); None when refused.
    constants : dict
        Camera constants used: ``bias_adu``, ``saturation_adu``, ``gain_e_per_adu``,
        ``read_noise_e`` (and their units in the names).
    exptime_s : float or None
        Exposure time of a dark or bias, in seconds (None for flats).
    temperature_c : float or None
        Median sensor temperature of the frames, in degrees Celsius.
    temperature_bin_c : float or None
        Lower edge of the dark's temperature bin, in degrees Celsius.
    period : str or None
        ``"night"`` or ``"week"`` for a flat.
    night : str or None
        Night of a flat's first frame, ``YYYY-MM-DD`` (:func:`night_of`).
    week : str or None
        ISO week of that night, ``YYYY-Www``.
    bayer_pattern : str or None
        Bayer pattern of a flat (e.g. ``"RGGB"``).
    dark_master_id : str or None
        Id of the dark or bias master subtracted from a flat's frames.
    """

    kind: FrameType
    camera_id: str
    status: str
    reason: str | None
    data: np.ndarray | None
    shape: tuple[int, int]
    start: datetime
    end: datetime
    time: datetime
    frames_used: tuple[str, ...] = ()
    rejection: Rejection = field(default_factory=Rejection)
    quality: dict[str, float] = field(default_factory=dict)
    quality_figure: float | None = None
    constants: dict[str, float] = field(default_factory=dict)
    exptime_s: float | None = None
    temperature_c: float | None = None
    temperature_bin_c: float | None = None
    period: str | None = None
    night: str | None = None
    week: str | None = None
    bayer_pattern: str | None = None
    dark_master_id: str | None = None

    @property
    def valid(self) -> bool:
        """True when the master can be applied."""
        return self.status == STATUS_VALID

    @property
    def bin_key(self) -> str:
        """The bin the master serves (module docstring, *Bins*)."""
        if self.kind is FrameType.FLAT:
            label = self.night if self.period == "night" else self.week
            return f"{self.camera_id}_flat_{self.period}_{label}"
        tbin = "" if self.temperature_bin_c is None else f"_{self.temperature_bin_c:g}C"
        if self.kind is FrameType.BIAS:
            return f"{self.camera_id}_bias{tbin}"
        return f"{self.camera_id}_dark_{self.exptime_s:g}s{tbin}"

    @property
    def master_id(self) -> str:
        """The master's id: its bin key and the start of its first frame."""
        return f"{self.bin_key}_{format_timestamp(self.start)}"

    def to_record(self) -> dict[str, Any]:
        """Return the master's document for the ``calibrations`` collection (no arrays).

        Returns
        -------
        dict
            JSON-able: times as ISO 8601 UTC strings, the shape as a list.
        """
        return {
            "master_id": self.master_id,
            "bin_key": self.bin_key,
            "kind": self.kind.value,
            "camera_id": self.camera_id,
            "status": self.status,
            "reason": self.reason,
            "shape": [int(self.shape[0]), int(self.shape[1])],
            "start": _iso(self.start),
            "end": _iso(self.end),
            "time": _iso(self.time),
            "frames_used": list(self.frames_used),
            "n_frames_used": len(self.frames_used),
            "rejection": self.rejection.to_record(),
            "quality": {k: _finite(v) for k, v in self.quality.items()},
            "quality_figure": _finite(self.quality_figure),
            "constants": {k: float(v) for k, v in self.constants.items()},
            "exptime_s": self.exptime_s,
            "temperature_c": self.temperature_c,
            "temperature_bin_c": self.temperature_bin_c,
            "temperature_bin_width_c": TEMPERATURE_BIN_C,
            "period": self.period,
            "night": self.night,
            "week": self.week,
            "bayer_pattern": self.bayer_pattern,
            "dark_master_id": self.dark_master_id,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any], data: np.ndarray | None = None) -> Master:
        """Rebuild a master from its document (and its data, read from its FITS file).

        Parameters
        ----------
        record : Mapping
            A dict of :meth:`to_record`.
        data : numpy.ndarray, optional
            The master's image (:func:`read_master_fits` passes it).

        Returns
        -------
        Master
            The master; ``data`` is None unless given.
        """
        start, end, time = (_parse_time(record[k]) for k in ("start", "end", "time"))
        if start is None or end is None or time is None:
            raise ValueError(f"record {record.get('master_id')!r} lacks its start, end or time")
        return cls(
            kind=FrameType(record["kind"]),
            camera_id=str(record["camera_id"]),
            status=str(record["status"]),
            reason=record.get("reason"),
            data=None if data is None else np.asarray(data, dtype=np.float32),
            shape=(int(record["shape"][0]), int(record["shape"][1])),
            start=start,
            end=end,
            time=time,
            frames_used=tuple(record.get("frames_used", ())),
            rejection=Rejection.from_record(record.get("rejection", {})),
            quality=dict(record.get("quality", {})),
            quality_figure=record.get("quality_figure"),
            constants=dict(record.get("constants", {})),
            exptime_s=record.get("exptime_s"),
            temperature_c=record.get("temperature_c"),
            temperature_bin_c=record.get("temperature_bin_c"),
            period=record.get("period"),
            night=record.get("night"),
            week=record.get("week"),
            bayer_pattern=record.get("bayer_pattern"),
            dark_master_id=record.get("dark_master_id"),
        )


def temperature_bin(temperature_c: float, width_c: float = TEMPERATURE_BIN_C) -> float:
    """Return the lower edge of a temperature's bin, in degrees Celsius (11 -> 10, -1 -> -5)."""
    return float(math.floor(temperature_c / width_c) * width_c)


def night_of(moment: datetime, longitude_deg: float) -> date:
    """Return the night an instant belongs to: the local date of its evening.

    Local mean solar time is UTC plus ``longitude / 15`` hours; the night is the date 12 hours
    before it, so everything from local noon to the next noon shares one night.

    Parameters
    ----------
    moment : datetime
        The instant (aware; naive is taken as UTC).
    longitude_deg : float
        The site's longitude, in degrees east (``LONG-OBS``).

    Returns
    -------
    datetime.date
        The date of the evening.
    """
    local = aware_utc(moment) + timedelta(hours=longitude_deg / 15.0)
    return (local - timedelta(hours=12)).date()


def week_of(night: date) -> str:
    """Return the ISO week of a night, ``YYYY-Www`` (e.g. ``2016-W36``)."""
    year, week, _ = night.isocalendar()
    return f"{year}-W{week:02d}"


def master_fits_bytes(master: Master) -> bytes:
    """Encode a valid master as a FITS file.

    The primary HDU holds the float32 image and cards saying what it is (``CALTYPE``,
    ``MASTERID``, ``BINKEY``, ``INSTRUME``, ``EXPTIME``, ``CAMTEMP``, ``TEMPBIN``,
    ``NIGHT``, ``WEEK``, ``FILTER``, ``DATE-BEG``/``DATE-OBS``/``DATE-END``, ``NCOMBINE``,
    ``BIASADU``, ``SATADU``, ``EGAIN``, ``RDNOISE``, ``QUALITY``, ``BUNIT``); the ``RECORD``
    extension holds :meth:`Master.to_record` as JSON, so :func:`read_master_fits` gets it all
    back.

    Parameters
    ----------
    master : Master
        A valid master.

    Returns
    -------
    bytes
        The FITS file.

    Raises
    ------
    ValueError
        If the master was refused (it has no image).
    """
    if not master.valid or master.data is None:
        raise ValueError(f"master {master.master_id} was refused and has no image to store")
    header = fits.Header()
    header["CALTYPE"] = (master.kind.value, "calibration master: dark, bias or flat")
    header["MASTERID"] = (master.master_id, "calibration master id")
    header["BINKEY"] = (master.bin_key, "bin the master serves")
    header["INSTRUME"] = (master.camera_id, "Camera ID")
    if master.exptime_s is not None:
        header["EXPTIME"] = (master.exptime_s, "[s] exposure time of the frames")
    if master.temperature_c is not None:
        header["CAMTEMP"] = (master.temperature_c, "[C] median sensor temperature")
    if master.temperature_bin_c is not None:
        header["TEMPBIN"] = (master.temperature_bin_c, "[C] lower edge of the temperature bin")
    if master.night is not None:
        header["NIGHT"] = (master.night, "night of the first frame (local evening date)")
        header["WEEK"] = (master.week, "ISO week of that night")
        header["PERIOD"] = (master.period, "period the flat serves")
    if master.bayer_pattern is not None:
        header["FILTER"] = (master.bayer_pattern, "Bayer pattern")
    header["DATE-BEG"] = (_iso(master.start), "start of the first frame (UTC)")
    header["DATE-OBS"] = (_iso(master.time), "median start of the frames (UTC)")
    header["DATE-END"] = (_iso(master.end), "start of the last frame (UTC)")
    header["NCOMBINE"] = (len(master.frames_used), "frames combined")
    header["BIASADU"] = (master.constants.get("bias_adu"), "[adu] bias subtracted")
    header["SATADU"] = (master.constants.get("saturation_adu"), "[adu] saturation")
    header["EGAIN"] = (master.constants.get("gain_e_per_adu"), "[e-/adu] gain")
    header["RDNOISE"] = (master.constants.get("read_noise_e"), "[e-] read noise")
    header["QUALITY"] = (master.quality_figure, "quality figure, lower is better")
    header["BUNIT"] = (
        "adu" if master.kind is not FrameType.FLAT else "",
        "ADU above BIASADU" if master.kind is not FrameType.FLAT else "relative response",
    )
    primary = fits.PrimaryHDU(data=np.asarray(master.data, dtype=np.float32), header=header)
    text = json.dumps(master.to_record(), sort_keys=True)
    record = fits.BinTableHDU.from_columns(
        [fits.Column(name="json", format=f"{max(1, len(text))}A", array=np.array([text]))],
        name="RECORD",
    )
    buffer = io.BytesIO()
    fits.HDUList([primary, record]).writeto(buffer, checksum=True)
    return buffer.getvalue()


def read_master_fits(data: bytes) -> Master:
    """Decode a master written by :func:`master_fits_bytes`.

    Parameters
    ----------
    data : bytes
        The FITS file.

    Returns
    -------
    Master
        The master with its image (float32).

    Raises
    ------
    ValueError
        If the file is not a calibration master (no ``RECORD`` extension).
    """
    with fits.open(io.BytesIO(data), memmap=False) as hdus:
        if "RECORD" not in hdus:
            raise ValueError("not a calibration master: the FITS file has no RECORD extension")
        text = hdus["RECORD"].data["json"][0]
        image = np.array(hdus[0].data, dtype=np.float32)
    record = json.loads(text.decode() if isinstance(text, bytes) else str(text))
    return Master.from_record(record, image)
