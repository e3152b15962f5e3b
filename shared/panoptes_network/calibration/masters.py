"""Building calibration masters: darks, biases and flats from a unit's calibration sequences.

A master is the clipped mean of a sequence's usable frames, with the record of how it was made
(frames used and refused, values rejected, a quality figure) and, when the sequence is
unusable, no data and the reason it was refused. Everything here is pure: frames come in as
arrays, a :class:`~.master_record.Master` comes out (its bins, data, record and FITS file
are described in :mod:`.master_record`); storing it is the caller's business.

Combination
-----------
Each frame is prepared (dark: minus ``bias_adu``; flat: minus ``bias_adu`` and the scaled dark,
divided by its own per-colour level, the median over the central region). For every pixel the
median of the frames is the centre; a value further from it than :data:`CLIP_SIGMA` times
its expected noise is rejected (cosmic rays, satellites, stars in a twilight flat). The noise
comes from the camera (``sqrt((read_noise / gain)**2 + signal / gain + 1/12)`` ADU, divided by
the level for a flat), so the clipping works the same with 5 frames or 50. Saturated values
of a flat are left out before. The master is the mean of the values kept; a pixel with none
kept takes the median of its usable values (NaN when all were saturated) and is counted.

Refusals
--------
A frame is refused, with its reason, when it does not fit the sequence: another shape, an
exposure time off by more than :data:`~.master_record.EXPTIME_TOLERANCE`, a temperature more than
:data:`TEMPERATURE_TOLERANCE_C` from the median. A dark is refused for a **light leak** when
one of its 4 x 4 blocks is further above the bias than the dark current can give
(:func:`dark_signal_limit_adu`), or when the blocks' levels are further apart than
:data:`LIGHT_LEAK_MARGIN_ADU` plus :data:`LIGHT_LEAK_SPREAD` of the median level (dark
current is even across a sensor, leaked light is not). A flat is refused as **saturated**
(more than :data:`FLAT_MAX_SATURATED_FRACTION` of its pixels at saturation, or a colour's
level above :data:`FLAT_MAX_LEVEL_FRACTION` of the full well) or **too dark** (mean level
below :data:`FLAT_MIN_LEVEL_ADU`, as POCS discards its flats). With fewer than
:data:`MIN_DARK_FRAMES` or :data:`MIN_FLAT_FRAMES` usable frames the master is refused:
``status = "refused"``, no data, and a reason naming the camera, the bin and the refused
frames with their reasons.

Quality
-------
The spread of the kept values about the master gives the noise of one frame and of the master
(both per pixel). :attr:`~.master_record.Master.quality_figure` is, for a dark or bias, the
master's noise relative to one frame's (about ``1 / sqrt(n)``: lower is better) and, for a
flat, the master's relative noise per pixel in its worst colour (the error it adds to a
pixel, e.g. 0.004 for 0.4 %). :attr:`~.master_record.Master.quality` holds the details:
noises per colour, the pixel-to-pixel scatter of the flat (PRNU and noise), its
corner-to-centre ratio per colour, the levels of the input frames.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np

from panoptes_network.calibration._combine import (
    COLOURS,
    Combined,
    central,
    clipped_mean,
    colour_index,
    colour_values,
    noise_figures,
)
from panoptes_network.calibration.frame_kind import BIAS_MAX_EXPTIME_S, FrameType
from panoptes_network.calibration.master_record import (
    EXPTIME_TOLERANCE,
    FLAT_PERIODS,
    STATUS_REFUSED,
    STATUS_VALID,
    Master,
    RefusedFrame,
    Rejection,
    aware_utc,
    night_of,
    temperature_bin,
    week_of,
)
from panoptes_network.frames.camera import bayer_slices

__all__ = [
    "CENTRAL_FRACTION",
    "CLIP_SIGMA",
    "DARK_LIMIT_E_PER_S",
    "FLAT_MAX_LEVEL_FRACTION",
    "FLAT_MAX_SATURATED_FRACTION",
    "FLAT_MIN_LEVEL_ADU",
    "LIGHT_LEAK_MARGIN_ADU",
    "LIGHT_LEAK_SPREAD",
    "MIN_DARK_FRAMES",
    "MIN_FLAT_FRAMES",
    "TEMPERATURE_TOLERANCE_C",
    "Master",
    "build_dark_master",
    "build_flat_master",
    "dark_signal_limit_adu",
]

#: Fewest usable frames of a dark or bias master.
MIN_DARK_FRAMES: int = 5
#: Fewest usable frames of a flat master.
MIN_FLAT_FRAMES: int = 5
#: Largest distance of a frame's temperature from its sequence's median, in degrees Celsius.
TEMPERATURE_TOLERANCE_C: float = 3.0
#: Clipping threshold, in expected standard deviations of a value.
CLIP_SIGMA: float = 4.0
#: Fraction of the width and height, about the centre, where levels are measured.
CENTRAL_FRACTION: float = 0.5
#: Highest level of a flat's brightest colour, as a fraction of the full well above bias.
FLAT_MAX_LEVEL_FRACTION: float = 0.8
#: Largest fraction of a flat's pixels at or above saturation.
FLAT_MAX_SATURATED_FRACTION: float = 0.001
#: Lowest mean level of a flat above bias, in ADU (POCS discards flats under 1000 counts).
FLAT_MIN_LEVEL_ADU: float = 1000.0
#: Highest dark current a unit's sensor can have at 20 C, in electrons per second per pixel
#: (ten times that of the Canon sensors); it doubles every 6 C.
DARK_LIMIT_E_PER_S: float = 1.0
_DARK_LIMIT_REFERENCE_C = 20.0
_DARK_LIMIT_DOUBLING_C = 6.0
#: Allowance for the bias's drift and unevenness in the light leak tests, in ADU.
LIGHT_LEAK_MARGIN_ADU: float = 10.0
#: Largest difference between a dark's block levels, as a fraction of its median level (above
#: :data:`LIGHT_LEAK_MARGIN_ADU`): dark current is nearly even across a sensor, leaked light
#: is not.
LIGHT_LEAK_SPREAD: float = 0.25

_LEAK_BLOCKS = 4  # the light leak test compares the medians of 4 x 4 blocks
_LEAK_STRIDE = 3  # ... sampled every 3rd pixel (odd: all colours)
_MAX_LISTED = 5  # refused frames named in a master's reason


def dark_signal_limit_adu(exptime: float, temperature_c: float, gain: float) -> float:
    """Return the most a dark frame's level can rise above the bias without a light leak.

    ``DARK_LIMIT_E_PER_S * 2 ** ((T - 20) / 6) * exptime / gain + LIGHT_LEAK_MARGIN_ADU``.

    Parameters
    ----------
    exptime : float
        Exposure time, in seconds.
    temperature_c : float
        Sensor temperature, in degrees Celsius.
    gain : float
        Gain, in electrons per ADU.

    Returns
    -------
    float
        The limit, in ADU above bias.
    """
    rate = DARK_LIMIT_E_PER_S * 2.0 ** (
        (temperature_c - _DARK_LIMIT_REFERENCE_C) / _DARK_LIMIT_DOUBLING_C
    )
    return rate * exptime / gain + LIGHT_LEAK_MARGIN_ADU


# --------------------------------------------------------------------------------------------
# Shared steps


def _ids(frame_ids: Sequence[str] | None, n: int) -> list[str]:
    if frame_ids is None:
        return [f"frame {k}" for k in range(n)]
    if len(frame_ids) != n:
        raise ValueError(f"{len(frame_ids)} frame ids for {n} frames")
    return [str(i) for i in frame_ids]


def _per_frame(values: float | Sequence[float] | None, n: int, name: str) -> list[float] | None:
    if values is None:
        return None
    if isinstance(values, (int, float)):
        return [float(values)] * n
    if len(values) != n:
        raise ValueError(f"{len(values)} values of {name} for {n} frames")
    return [float(v) for v in values]


def _common_shape(frames: Sequence[np.ndarray]) -> tuple[int, int] | None:
    shapes = Counter(
        (int(f.shape[0]), int(f.shape[1])) for f in map(np.asarray, frames) if f.ndim == 2
    )
    return shapes.most_common(1)[0][0] if shapes else None


def _fit_checks(
    frames: Sequence[np.ndarray],
    shape: tuple[int, int] | None,
    exptime: float | None,
    exptimes: list[float] | None,
    temperatures: list[float] | None,
) -> dict[int, str]:
    """Reasons frames do not fit their sequence (shape, exposure, temperature)."""
    refused: dict[int, str] = {}
    median_t = None if not temperatures else float(np.median(temperatures))
    for k, frame in enumerate(frames):
        if np.ndim(frame) != 2:
            refused[k] = f"not a 2-D image (shape {np.shape(frame)})"
        elif np.shape(frame) != shape:
            refused[k] = f"shape {np.shape(frame)} differs from the sequence's {shape}"
        elif (
            exptime is not None
            and exptimes is not None
            and abs(exptimes[k] - exptime) > max(0.01, EXPTIME_TOLERANCE * exptime)
        ):
            refused[k] = f"exposure {exptimes[k]:g} s, the master's is {exptime:g} s"
        elif (
            temperatures is not None
            and median_t is not None
            and abs(temperatures[k] - median_t) > TEMPERATURE_TOLERANCE_C
        ):
            refused[k] = (
                f"temperature {temperatures[k]:g} C is more than {TEMPERATURE_TOLERANCE_C:g} C "
                f"from the sequence's median {median_t:g} C"
            )
    return refused


def _refusal_reason(what: str, n_total: int, n_used: int, minimum: int, refused: list) -> str:
    if n_total == 0:
        return f"{what} refused: no frames"
    text = (
        f"{what} refused: {n_used} usable frame{'s' if n_used != 1 else ''} of {n_total}, "
        f"at least {minimum} needed"
    )
    if refused:
        listed = "; ".join(f"{r.frame_id}: {r.reason}" for r in refused[:_MAX_LISTED])
        more = f"; and {len(refused) - _MAX_LISTED} more" if len(refused) > _MAX_LISTED else ""
        text += f". Refused: {listed}{more}"
    return text


def _rejection(
    refused: list[RefusedFrame], combined: Combined | None, n_used: int, shape: tuple[int, int]
) -> Rejection:
    if combined is None:
        return Rejection(frames_refused=tuple(refused))
    rejected = int(combined.per_frame.sum())
    values = n_used * shape[0] * shape[1]
    return Rejection(
        frames_refused=tuple(refused),
        values_rejected=rejected,
        rejected_fraction=rejected / values if values else 0.0,
        per_frame=tuple(int(v) for v in combined.per_frame),
        saturated_values=combined.saturated,
        pixels_without_value=combined.without_value,
    )


# --------------------------------------------------------------------------------------------
# Darks and biases


def _leak_reason(
    frame: np.ndarray, bias_adu: float, limit_adu: float, exptime: float, temperature_c: float
) -> str | None:
    rows, cols = frame.shape
    levels: dict[tuple[int, int], float] = {}
    for i in range(_LEAK_BLOCKS):
        for j in range(_LEAK_BLOCKS):
            r0, r1 = rows * i // _LEAK_BLOCKS, rows * (i + 1) // _LEAK_BLOCKS
            c0, c1 = cols * j // _LEAK_BLOCKS, cols * (j + 1) // _LEAK_BLOCKS
            block = frame[r0:r1:_LEAK_STRIDE, c0:c1:_LEAK_STRIDE]
            if block.size:
                levels[(r0, c0)] = float(np.median(block)) - bias_adu
    if not levels:
        return None
    top = max(levels, key=lambda k: levels[k])
    low = min(levels, key=lambda k: levels[k])
    if levels[top] > limit_adu:
        return (
            f"light leak: the block at row {top[0]}, column {top[1]} is {levels[top]:.0f} ADU "
            f"above the bias; dark current at {temperature_c:g} C gives at most "
            f"{limit_adu:.0f} ADU in {exptime:g} s (cover the lens, check the camera box)"
        )
    spread = levels[top] - levels[low]
    allowed = LIGHT_LEAK_MARGIN_ADU + LIGHT_LEAK_SPREAD * max(
        float(np.median(list(levels.values()))), 0.0
    )
    if spread > allowed:
        return (
            f"light leak: the block at row {top[0]}, column {top[1]} is {spread:.0f} ADU above "
            f"the block at row {low[0]}, column {low[1]}; dark current is even across the "
            f"sensor (at most {allowed:.0f} ADU apart here; cover the lens, check the camera box)"
        )
    return None


def build_dark_master(
    frames: Sequence[np.ndarray],
    *,
    camera_id: str,
    bias_adu: float,
    saturation_adu: float,
    gain: float,
    read_noise_e: float,
    exptime: float,
    temperature_c: float | Sequence[float],
    times: Sequence[datetime],
    frame_ids: Sequence[str] | None = None,
    exptimes: Sequence[float] | None = None,
    min_frames: int = MIN_DARK_FRAMES,
) -> Master:
    """Combine a dark (or bias) sequence into a master, or refuse it with the reason.

    Parameters
    ----------
    frames : sequence of numpy.ndarray
        Raw 2-D frames (uint16, ADU), all of one camera, shutter closed.
    camera_id : str
        The camera (``INSTRUME``).
    bias_adu : float
        Bias (black level) of the camera, in ADU; the master is in ADU above it.
    saturation_adu : float
        Saturation of the camera (bias included), in ADU (recorded).
    gain : float
        Gain, in electrons per ADU.
    read_noise_e : float
        Read noise, in electrons RMS per pixel.
    exptime : float
        Exposure time of the master, in seconds; at most
        :data:`~.frame_kind.BIAS_MAX_EXPTIME_S` makes a bias master.
    temperature_c : float or sequence of float
        Sensor temperature (``CAMTEMP``), in degrees Celsius: one for the sequence, or one
        per frame (frames far from the median are then refused).
    times : sequence of datetime
        Start of each frame (aware UTC; naive is taken as UTC).
    frame_ids : sequence of str, optional
        Image ids of the frames, for the record and the reasons.
    exptimes : sequence of float, optional
        Each frame's ``EXPTIME``, in seconds; frames off ``exptime`` are refused.
    min_frames : int
        Fewest usable frames.

    Returns
    -------
    Master
        A valid master (``data`` float32, ADU above ``bias_adu``) or a refused one
        (``data`` None, ``reason`` naming the camera, bin and refused frames).

    Raises
    ------
    ValueError
        If ``times``, ``frame_ids``, ``exptimes`` or per-frame temperatures do not have one
        entry per frame.
    """
    n = len(frames)
    ids = _ids(frame_ids, n)
    if len(times) != n:
        raise ValueError(f"{len(times)} times for {n} frames")
    moments = sorted(aware_utc(t) for t in times)
    temps = _per_frame(temperature_c, n, "temperature_c") or []
    per_exptime = _per_frame(exptimes, n, "exptimes")
    kind = FrameType.BIAS if exptime <= BIAS_MAX_EXPTIME_S else FrameType.DARK
    shape = _common_shape(frames)
    reasons = _fit_checks(frames, shape, exptime, per_exptime, temps)
    median_t = float(np.median(temps)) if temps else math.nan
    limit = dark_signal_limit_adu(exptime, median_t, gain)
    for k, frame in enumerate(frames):
        if k not in reasons:
            leak = _leak_reason(np.asarray(frame), bias_adu, limit, exptime, median_t)
            if leak:
                reasons[k] = leak
    used = [k for k in range(n) if k not in reasons]
    refused = [RefusedFrame(ids[k], reasons[k]) for k in sorted(reasons)]
    used_temps = [temps[k] for k in used] or temps
    temperature = float(np.median(used_temps)) if used_temps else None
    tbin = None if temperature is None else temperature_bin(temperature)
    constants = {
        "bias_adu": float(bias_adu),
        "saturation_adu": float(saturation_adu),
        "gain_e_per_adu": float(gain),
        "read_noise_e": float(read_noise_e),
    }
    base = {
        "kind": kind,
        "camera_id": camera_id,
        "shape": shape or (0, 0),
        "start": moments[0] if moments else datetime.fromtimestamp(0, timezone.utc),
        "end": moments[-1] if moments else datetime.fromtimestamp(0, timezone.utc),
        "time": moments[len(moments) // 2] if moments else datetime.fromtimestamp(0, timezone.utc),
        "constants": constants,
        "exptime_s": float(exptime),
        "temperature_c": temperature,
        "temperature_bin_c": tbin,
    }
    if len(used) < min_frames or shape is None:
        what = f"{kind.value} master for camera {camera_id} ({exptime:g} s" + (
            f", {temperature:g} C)" if temperature is not None else ")"
        )
        return Master(
            status=STATUS_REFUSED,
            reason=_refusal_reason(what, n, len(used), min_frames, refused),
            data=None,
            rejection=_rejection(refused, None, 0, shape or (0, 0)),
            **base,
        )
    read_var = (read_noise_e / gain) ** 2 + 1.0 / 12.0  # ADU^2, quantisation included

    def load(k: int, a: int, b: int) -> tuple[np.ndarray, None]:
        chunk = np.asarray(frames[used[k]][a:b], dtype=np.float32)
        return chunk - np.float32(bias_adu), None

    def noise(centre: np.ndarray, a: int, b: int) -> np.ndarray:
        return np.sqrt(read_var + np.clip(centre, 0.0, None) / gain)[None]

    colour = np.zeros(shape, dtype=np.int8)  # darks: one pool of pixels
    combined = clipped_mean(len(used), shape, colour, load, noise, CLIP_SIGMA)
    single, master_noise = noise_figures(combined, [0])
    rows, cols = central(shape, CENTRAL_FRACTION)
    quality = {
        "noise_adu": master_noise,
        "single_frame_noise_adu": single,
        "noise_ratio": master_noise / single if single > 0 else math.nan,
        "median_adu": float(np.median(combined.data[rows, cols])),
    }
    return Master(
        status=STATUS_VALID,
        reason=None,
        data=combined.data,
        frames_used=tuple(ids[k] for k in used),
        rejection=_rejection(refused, combined, len(used), shape),
        quality=quality,
        quality_figure=quality["noise_ratio"],
        **base,
    )


# --------------------------------------------------------------------------------------------
# Flats


def _flat_reason(
    frame: np.ndarray,
    signal: np.ndarray,
    pattern: str,
    bias_adu: float,
    saturation_adu: float,
) -> tuple[str | None, dict[str, float]]:
    """Why a flat is unusable (or None), and its per-colour levels above bias (ADU)."""
    rows, cols = central(frame.shape, CENTRAL_FRACTION)
    centre = signal[rows, cols]
    levels = {c: float(np.median(colour_values(centre, pattern, c))) for c in COLOURS}
    full_well = saturation_adu - bias_adu
    saturated = np.count_nonzero(frame >= saturation_adu) / frame.size
    if saturated > FLAT_MAX_SATURATED_FRACTION:
        return (
            f"saturated: {100 * saturated:.2f} % of pixels at or above {saturation_adu:g} ADU "
            f"(at most {100 * FLAT_MAX_SATURATED_FRACTION:g} %); start the flats later in the "
            "evening or earlier in the morning"
        ), levels
    brightest = max(levels, key=lambda c: levels[c])
    if levels[brightest] > FLAT_MAX_LEVEL_FRACTION * full_well:
        return (
            f"saturated: {brightest} level {levels[brightest]:.0f} ADU above bias is over "
            f"{100 * FLAT_MAX_LEVEL_FRACTION:g} % of the full well ({full_well:.0f} ADU), "
            "outside the linear range"
        ), levels
    mean = float(np.mean(centre))
    if mean < FLAT_MIN_LEVEL_ADU:
        return (
            f"too dark: mean level {mean:.0f} ADU above bias, at least "
            f"{FLAT_MIN_LEVEL_ADU:g} ADU needed"
        ), levels
    return None, levels


def build_flat_master(
    frames: Sequence[np.ndarray],
    *,
    camera_id: str,
    bias_adu: float,
    saturation_adu: float,
    gain: float,
    read_noise_e: float,
    bayer_pattern: str,
    times: Sequence[datetime],
    longitude_deg: float,
    dark: Master | None = None,
    exptimes: Sequence[float] | None = None,
    temperature_c: float | Sequence[float] | None = None,
    period: str = "night",
    frame_ids: Sequence[str] | None = None,
    min_frames: int = MIN_FLAT_FRAMES,
) -> Master:
    """Combine a twilight flat sequence into a per-colour normalised flat, or refuse it.

    Parameters
    ----------
    frames : sequence of numpy.ndarray
        Raw 2-D Bayer frames (uint16, ADU) of one camera, at any level.
    camera_id : str
        The camera (``INSTRUME``).
    bias_adu : float
        Bias (black level), in ADU.
    saturation_adu : float
        Saturation (bias included), in ADU.
    gain : float
        Gain, in electrons per ADU.
    read_noise_e : float
        Read noise, in electrons RMS per pixel.
    bayer_pattern : str
        The frames' Bayer pattern (``FILTER``, e.g. ``"RGGB"``).
    times : sequence of datetime
        Start of each frame (aware UTC; naive is taken as UTC).
    longitude_deg : float
        The unit's longitude (``LONG-OBS``), in degrees east: it sets the night.
    dark : Master, optional
        A valid dark or bias master of the camera, subtracted from each frame: as it is for
        a bias (whatever its exposure: a DSLR's 1/4000 s), scaled by ``exptime /
        dark.exptime_s`` for a dark (the dark's bias structure
        is scaled too: small for these sensors). Twilight flats are short, so without it
        only the dark current of their few seconds is left in.
    exptimes : sequence of float, optional
        Each frame's ``EXPTIME``, in seconds; needed with a dark master.
    temperature_c : float or sequence of float, optional
        Sensor temperature, in degrees Celsius (recorded).
    period : str
        ``"night"`` or ``"week"``: the bin of the master.
    frame_ids : sequence of str, optional
        Image ids of the frames, for the record and the reasons.
    min_frames : int
        Fewest usable frames.

    Returns
    -------
    Master
        A valid flat (``data`` float32, each colour's mean 1 over the central region) or a
        refused one (``data`` None, ``reason`` naming the camera, night and refused frames).

    Raises
    ------
    ValueError
        For an unknown period or Bayer pattern, a dark that is refused, of another shape or
        given without ``exptimes``, or per-frame arguments of the wrong length.
    """
    if period not in FLAT_PERIODS:
        raise ValueError(f"period {period!r} is not one of {FLAT_PERIODS}")
    n = len(frames)
    ids = _ids(frame_ids, n)
    if len(times) != n:
        raise ValueError(f"{len(times)} times for {n} frames")
    moments = sorted(aware_utc(t) for t in times)
    per_exptime = _per_frame(exptimes, n, "exptimes")
    temps = _per_frame(temperature_c, n, "temperature_c")
    shape = _common_shape(frames)
    if dark is not None:
        if not dark.valid or dark.data is None:
            raise ValueError(f"dark master {dark.master_id} is refused or has no data")
        if shape is not None and dark.data.shape != shape:
            raise ValueError(f"dark master shape {dark.data.shape} is not the flats' {shape}")
        if dark.kind is not FrameType.BIAS and (dark.exptime_s or 0.0) > 0 and per_exptime is None:
            raise ValueError("exptimes are needed to scale a dark master to the flats")
    reasons = _fit_checks(frames, shape, None, None, temps)

    def dark_for(k: int) -> float | np.ndarray:
        if dark is None or dark.data is None:
            return 0.0
        if dark.kind is FrameType.BIAS or not dark.exptime_s:
            return dark.data  # a bias holds no dark current: never scaled
        assert per_exptime is not None
        return dark.data * np.float32(per_exptime[k] / dark.exptime_s)

    levels: dict[int, dict[str, float]] = {}
    for k, frame in enumerate(frames):
        if k in reasons:
            continue
        raw = np.asarray(frame)
        signal = raw.astype(np.float32) - np.float32(bias_adu) - dark_for(k)
        reason, levels[k] = _flat_reason(raw, signal, bayer_pattern, bias_adu, saturation_adu)
        if reason:
            reasons[k] = reason
    used = [k for k in range(n) if k not in reasons]
    refused = [RefusedFrame(ids[k], reasons[k]) for k in sorted(reasons)]
    night = night_of(moments[0], longitude_deg) if moments else None
    used_temps = [temps[k] for k in used] if temps else []
    base = {
        "kind": FrameType.FLAT,
        "camera_id": camera_id,
        "shape": shape or (0, 0),
        "start": moments[0] if moments else datetime.fromtimestamp(0, timezone.utc),
        "end": moments[-1] if moments else datetime.fromtimestamp(0, timezone.utc),
        "time": moments[len(moments) // 2] if moments else datetime.fromtimestamp(0, timezone.utc),
        "constants": {
            "bias_adu": float(bias_adu),
            "saturation_adu": float(saturation_adu),
            "gain_e_per_adu": float(gain),
            "read_noise_e": float(read_noise_e),
        },
        "temperature_c": float(np.median(used_temps)) if used_temps else None,
        "period": period,
        "night": None if night is None else night.isoformat(),
        "week": None if night is None else week_of(night),
        "bayer_pattern": bayer_pattern,
        "dark_master_id": None if dark is None else dark.master_id,
    }
    if len(used) < min_frames or shape is None:
        what = f"flat master for camera {camera_id} (night {base['night']})"
        return Master(
            status=STATUS_REFUSED,
            reason=_refusal_reason(what, n, len(used), min_frames, refused),
            data=None,
            rejection=_rejection(refused, None, 0, shape or (0, 0)),
            **base,
        )
    colour = colour_index(bayer_pattern, shape)
    level = np.array([[levels[k][c] for c in COLOURS] for k in used], dtype=np.float32)
    read_var = (read_noise_e / gain) ** 2 + 1.0 / 12.0

    def load(i: int, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        k = used[i]
        raw = np.asarray(frames[k][a:b])
        d = dark_for(k)
        chunk = raw.astype(np.float32) - np.float32(bias_adu)
        chunk -= d[a:b] if isinstance(d, np.ndarray) else np.float32(d)
        chunk /= level[i][colour[a:b]]
        return chunk, raw < saturation_adu

    def noise(centre: np.ndarray, a: int, b: int) -> np.ndarray:
        scale = level[:, colour[a:b]]  # (n, rows, cols), ADU
        signal = np.clip(centre, 0.0, None)[None] * scale
        return np.sqrt(read_var + signal / gain) / scale

    combined = clipped_mean(len(used), shape, colour, load, noise, CLIP_SIGMA)
    flat = combined.data
    rows, cols = central(shape, CENTRAL_FRACTION)
    quality: dict[str, float] = {}
    worst = 0.0
    for c, name in enumerate(COLOURS):
        mean = float(np.nanmean(colour_values(flat[rows, cols], bayer_pattern, name)))
        for r_slice, c_slice in bayer_slices(bayer_pattern, shape)[name]:
            flat[r_slice, c_slice] /= np.float32(mean)
        single, master_noise = noise_figures(combined, [c])
        quality[f"noise_{name}"] = master_noise
        quality[f"single_frame_noise_{name}"] = single
        quality[f"level_adu_{name}"] = float(np.median(level[:, c]))
        worst = max(worst, master_noise)
    for name in COLOURS:
        quality[f"pixel_scatter_{name}"] = _pixel_scatter(flat, bayer_pattern, name)
        quality[f"corner_ratio_{name}"] = _corner_ratio(flat, bayer_pattern, name)
    if per_exptime is not None:
        quality["exptime_min_s"] = min(per_exptime[k] for k in used)
        quality["exptime_max_s"] = max(per_exptime[k] for k in used)
    return Master(
        status=STATUS_VALID,
        reason=None,
        data=flat,
        frames_used=tuple(ids[k] for k in used),
        rejection=_rejection(refused, combined, len(used), shape),
        quality=quality,
        quality_figure=worst,
        **base,
    )


def _pixel_scatter(flat: np.ndarray, pattern: str, colour: str) -> float:
    """Robust RMS of a flat's pixel-to-pixel variation in one colour (central region)."""
    rows, cols = central(flat.shape, CENTRAL_FRACTION)
    centre = flat[rows, cols]
    r_slice, c_slice = bayer_slices(pattern, centre.shape)[colour][0]
    plane = centre[r_slice, c_slice]
    step = np.diff(plane, axis=1).ravel()
    mad = float(np.median(np.abs(step - np.median(step))))
    return 1.4826 * mad / math.sqrt(2.0)


def _corner_ratio(flat: np.ndarray, pattern: str, colour: str) -> float:
    """Mean of a flat's four corner blocks (a tenth of each side) in one colour."""
    rows, cols = flat.shape
    dr, dc = max(2, rows // 10 // 2 * 2), max(2, cols // 10 // 2 * 2)
    values = [
        colour_values(block, pattern, colour)
        for block in (
            flat[:dr, :dc],
            flat[:dr, cols - dc :],
            flat[rows - dr :, :dc],
            flat[rows - dr :, cols - dc :],
        )
    ]
    return float(np.nanmean(np.concatenate(values)))
