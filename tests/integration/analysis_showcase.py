"""A realistic analysed archive for the analysis pages in a browser: seeded, not simulated.

:func:`build_showcase` stores, through the document and object store ports:

- one star (:data:`STAR`) seen by three units on three nights, 90-second frames, its light
  curves in runs' Parquet data files in the layout of ``lightcurves.products``; the second
  night holds a 1.2 % deep, two-hour transit;
- its analysis (``stars/{picid}``) with a degenerate stitching (one unit never overlaps);
- detections (the contract's fields): that transit, a periodic dip, flares and dips of other
  stars, and the injected events the analysis recovered;
- the image documents of the transit's frames, their previews served by a file server;
- the coverage and injection-recovery counts of :data:`RUNS_ANALYSED` runs on four units,
  drawn from simple models (recovery rising with SNR, half at SNR 7.5).
"""

from __future__ import annotations

import io
import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

from panoptes_network.analysis.config import DEFAULT_ANALYSIS
from panoptes_network.pipeline.key_index import add_ids
from panoptes_network.pipeline.ports import DocumentStore, ObjectStore
from panoptes_network.pipeline.schema import (
    ANALYSIS_COMPLETENESS,
    ANALYSIS_COVERAGE,
    DETECTIONS,
    IMAGES,
    LIGHTCURVES,
    STAR_LIGHTCURVES,
    STARS,
)
from panoptes_network.pipeline.settings import Settings
from tests.unit.explorer.analysis_records import COMPLETENESS_EDGES, COVERAGE_EDGES

UTC = timezone.utc
HASH = DEFAULT_ANALYSIS.config_hash()
STAR = 261136679
#: (unit, camera, night start, frames): 90-second frames.
NIGHTS = (
    ("PAN001", "14d3bd", datetime(2024, 3, 1, 3, 10, tzinfo=UTC), 150),
    ("PAN012", "ee04d1", datetime(2024, 3, 4, 2, 40, tzinfo=UTC), 170),
    ("PAN006", "2d194b", datetime(2024, 3, 9, 3, 30, tzinfo=UTC), 140),
)
CADENCE = 90.0
#: The transit of the second night: mid-time offset (s from the night's start), depth, length.
TRANSIT = (2.2 * 3600, 0.012, 2.0 * 3600)
RUNS_ANALYSED = 36


def _ids(unit: str, camera: str, start: datetime) -> tuple[str, str]:
    sequence = f"{unit}_{camera}_{start:%Y%m%dT%H%M%S}"
    return sequence, f"{sequence}_{start + timedelta(hours=8):%Y%m%dT%H%M%S}"


def _night(k: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    unit, camera, start, frames = NIGHTS[k]
    t0 = start.timestamp()
    time = t0 + CADENCE * np.arange(frames)
    columns: dict[str, np.ndarray] = {
        "picid": np.full(frames, STAR, dtype=np.int64),
        "time": time,
        "airmass": 1.05 + 0.9 * (np.arange(frames) / frames) ** 2,
        "image_id": np.array(
            [f"{unit}_{camera}_{datetime.fromtimestamp(t, tz=UTC):%Y%m%dT%H%M%S}" for t in time]
        ),
    }
    model = np.ones(frames) + 0.0015 * np.sin(np.arange(frames) / 25.0)
    if k == 1:
        mid, depth, length = TRANSIT
        offset = np.abs(time - (t0 + mid))
        ingress = 12 * 60.0
        model -= depth * np.clip((length / 2 - offset) / ingress + 0.5, 0.0, 1.0)
    for c, noise in (("r", 0.0045), ("g", 0.0032), ("b", 0.0055)):
        flux = model + rng.normal(0, noise, frames)
        outlier = np.zeros(frames, dtype=bool)
        outlier[rng.choice(frames, 2, replace=False)] = True
        flux[outlier] += 0.03
        columns[f"flux_{c}"] = flux
        columns[f"flux_err_{c}"] = np.full(frames, noise)
        columns[f"outlier_{c}"] = outlier
    return columns


def _data_file(columns: dict[str, np.ndarray], sequence: str, run_id: str) -> bytes:
    table = pa.table(columns)
    meta = {"sequence_id": sequence, "run_id": run_id, "colours": ["r", "g", "b"]}
    table = table.replace_schema_metadata({k: json.dumps(v) for k, v in meta.items()})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def preview_jpeg(seed: int) -> bytes:
    """A 600 x 400 JPEG of a star field, like a frame's preview (dark sky, a few stars)."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (600, 400), (14, 17, 26))
    draw = ImageDraw.Draw(image)
    stars = zip(
        rng.uniform(0, 600, 160), rng.uniform(0, 400, 160), rng.exponential(1.1, 160), strict=True
    )
    for x, y, r in stars:
        level = int(min(255, 120 + 60 * r))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(level, level, min(255, level + 15)))
    draw.ellipse((292, 192, 308, 208), outline=(240, 180, 40), width=2)  # the star
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def _detection(
    picid: int,
    search: str,
    time_s: float,
    significance: float,
    size: float,
    duration_s: float,
    *,
    unit: str,
    sequence: str,
    run_id: str,
    injected: bool = False,
    period_days: float | None = None,
    vmag: float = 10.0,
    rows: list[dict[str, Any]] | None = None,
    frames: list[str] | None = None,
) -> tuple[str, dict[str, Any]]:
    kind = "flare" if search == "flare" else "transit"
    doc_id = f"{HASH}_{picid}_{search}_{int(time_s)}" + ("_injected" if injected else "")
    threshold = 11.3 if kind == "transit" else 8.7
    shifts = 299
    exceed = max(0, round(shifts * 0.01 / significance**3))
    return doc_id, {
        **DEFAULT_ANALYSIS.stamp(),
        "picid": picid,
        "ra": 83.8221 if picid == STAR else 83.8 + (picid % 97) / 10,
        "dec": -5.3911 if picid == STAR else -5.4 + (picid % 53) / 10,
        "vmag": vmag,
        "kind": kind,
        "search": search,
        "time": datetime.fromtimestamp(time_s, tz=UTC),
        "time_s": time_s,
        "duration_s": duration_s,
        "depth": size if kind == "transit" else None,
        "depth_err": size / (6 * significance) if kind == "transit" else None,
        "amplitude": size if kind == "flare" else None,
        "amplitude_err": size / (6 * significance) if kind == "flare" else None,
        "period_days": period_days,
        "events": 3 if period_days else 1,
        "snr": 5.0 * significance,
        "statistic": threshold * significance,
        "threshold": threshold,
        "shifts": shifts,
        "significance": significance,
        "false_alarm_probability": (1 + exceed) / (1 + shifts),
        "injected": injected,
        "injection": (
            {
                "kind": kind,
                ("depth" if kind == "transit" else "amplitude"): size * 1.08,
                "duration_s": duration_s * 0.95,
                "snr": 5.0 * significance * 1.05,
                "time_s": time_s + 120.0,
            }
            if injected
            else None
        ),
        "sequence_ids": [sequence],
        "run_ids": [run_id],
        "unit_ids": [unit],
        "rows": rows or [],
        "frames": frames or [],
        "analysed_time": datetime(2024, 3, 12, 6, 0, tzinfo=UTC),
    }


def build_showcase(
    documents: DocumentStore, objects: ObjectStore, settings: Settings, preview_url: Any
) -> dict[str, Any]:
    """Store the showcase archive; return the ids a test visits.

    ``preview_url(image_id) -> str`` gives the URL of a frame's preview (a file server's).
    """
    rng = np.random.default_rng(2024)
    nights = []
    for k, (unit, camera, start, frames) in enumerate(NIGHTS):
        sequence, run_id = _ids(unit, camera, start)
        columns = _night(k, rng)
        path = f"{sequence}/{run_id}/lightcurves.parquet"
        objects.write(settings.lightcurves_bucket, path, _data_file(columns, sequence, run_id))
        lcid = f"{STAR}_{run_id}"
        doc = {
            "sequence_id": sequence,
            "unit_id": unit,
            "camera_id": camera,
            "processed_observation": run_id,
            "run_time": start + timedelta(hours=8),
            "data_path": path,
            "data_url": settings.public_url(settings.lightcurves_bucket, path),
            "picid": STAR,
            "ra": 83.8221,
            "dec": -5.3911,
            "vmag": 9.8,
            "num_points": frames - 2,
            "variable": k == 1,
            "data_row_start": 0,
            "data_row_count": frames,
            "points_embedded": False,
            **{f"num_points_{c}": frames - 2 for c in "rgb"},
            **{f"rms_mag_{c}": 0.004 for c in "rgb"},
        }
        documents.merge(LIGHTCURVES, lcid, doc)
        documents.commit([add_ids(STAR_LIGHTCURVES, str(STAR), [lcid])])
        nights.append((unit, sequence, run_id, path, columns))
    documents.merge(
        STARS,
        str(STAR),
        {
            **DEFAULT_ANALYSIS.stamp(),
            "picid": STAR,
            "n_runs": 3,
            "n_observations": 3,
            "n_units": 3,
            "n_points": 454,
            "headline_colour": "g",
            "rms_over_floor": 1.31,
            "chi2_red": 2.4,
            "amplitude": 0.0121,
            "quality": 0.78,
            "units": ["PAN001", "PAN006", "PAN012"],
            "colours": {
                "g": {
                    "n": 454,
                    "mean_mag": 9.8132,
                    "mean_mag_err": 0.0002,
                    "rms": 0.0041,
                    "rms_over_floor": 1.31,
                    "chi2_red": 2.4,
                    "beta_30": 1.12,
                    "beta_60": 1.2,
                    "beta_120": 1.35,
                    "amplitude": 0.0121,
                    "quality": 0.78,
                },
            },
            "stitching": {
                "reference_unit": "PAN001",
                "offsets": {
                    "PAN001": {"offset_mag": 0.0, "offset_err_mag": 0.0, "overlap_hours": 3.1},
                    "PAN012": {
                        "offset_mag": 0.0143,
                        "offset_err_mag": 0.0018,
                        "overlap_hours": 3.1,
                    },
                    "PAN006": {"offset_mag": None, "offset_err_mag": None, "overlap_hours": 0.0},
                },
                "degenerate": True,
                "reason": "PAN006 never overlaps another unit in time: its offset is degenerate "
                "with the star's variability between the nights",
            },
        },
    )
    # the transit of the second night, its rows and its frames (at most 50)
    unit, sequence, run_id, path, columns = nights[1]
    mid = NIGHTS[1][2].timestamp() + TRANSIT[0]
    in_window = np.flatnonzero(np.abs(columns["time"] - mid) <= 1.5 * TRANSIT[2] / 2)
    first_row = int(max(0, in_window[0] - 25))
    last_row = int(min(len(columns["time"]), in_window[-1] + 25))
    rows = [
        {
            "sequence_id": sequence,
            "run_id": run_id,
            "data_path": path,
            "row_start": first_row,
            "row_count": last_row - first_row,
        }
    ]
    event = np.flatnonzero(np.abs(columns["time"] - mid) <= TRANSIT[2] / 2)
    step = -(-len(event) // 50)  # at most 50, spread over the event
    frames = [str(i) for i in columns["image_id"][event][::step]]
    transit_id, transit = _detection(
        STAR,
        "single-event",
        mid,
        3.42,
        TRANSIT[1],
        TRANSIT[2],
        unit=unit,
        sequence=sequence,
        run_id=run_id,
        vmag=9.8,
        rows=rows,
        frames=frames,
    )
    documents.merge(DETECTIONS, transit_id, transit)
    for k, image_id in enumerate(frames):
        documents.merge(
            IMAGES,
            image_id,
            {
                "sequence_id": sequence,
                "unit_id": unit,
                "status": "measured",
                "time": datetime.strptime(image_id[-15:], "%Y%m%dT%H%M%S").replace(tzinfo=UTC),
                **({"preview_url": preview_url(image_id)} if k % 7 != 6 else {}),
            },
        )
    # other detections: a periodic dip and a flare of the star, dips and flares of others
    first = nights[0]
    others = [
        (STAR, "periodic", NIGHTS[0][2].timestamp() + 5400, 1.64, 0.004, 5400.0, 2.8143),
        (STAR, "flare", NIGHTS[2][2].timestamp() + 7000, 1.18, 0.021, 1500.0, None),
    ]
    for n in range(18):
        picid = 261136700 + 37 * n
        search = ("single-event", "flare", "periodic")[n % 3]
        size = (0.006 + 0.002 * (n % 5)) if search != "flare" else 0.01 + 0.015 * (n % 4)
        period = 0.9 + 0.37 * n if search == "periodic" else None
        time_s = NIGHTS[n % 3][2].timestamp() + 1800 + 400 * n
        duration = 600.0 + 300 * (n % 4) if search == "flare" else 3600.0 + 1800 * (n % 5)
        others.append((picid, search, time_s, 4.1 - 0.19 * n, size, duration, period))
    for picid, search, time_s, significance, size, duration, period in others:
        doc_id, doc = _detection(
            picid,
            search,
            time_s,
            significance,
            size,
            duration,
            period_days=period,
            unit=first[0],
            sequence=first[1],
            run_id=first[2],
            vmag=9.8 if picid == STAR else 8.5 + (picid % 40) / 10,
        )
        documents.merge(DETECTIONS, doc_id, doc)
    injected_ids = []
    for n in range(9):
        search = ("single-event", "flare")[n % 2]
        doc_id, doc = _detection(
            261137000 + 11 * n,
            search,
            NIGHTS[n % 3][2].timestamp() + 900 * (n + 1),
            2.9 - 0.2 * n,
            0.008 + 0.003 * n,
            1800.0 + 600 * (n % 3),
            unit=first[0],
            sequence=first[1],
            run_id=first[2],
            injected=True,
        )
        documents.merge(DETECTIONS, doc_id, doc)
        injected_ids.append(doc_id)
    _runs(documents, rng)
    return {"star": STAR, "transit": transit_id, "frames": frames, "injected": injected_ids}


def _runs(documents: DocumentStore, rng: np.random.Generator) -> None:
    """The coverage and completeness of :data:`RUNS_ANALYSED` runs on four units."""
    units = ("PAN001", "PAN006", "PAN012", "PAN018")
    snr_centres = [2.5, 6.25, 8.75, 12.5, 17.5, 25.0, 40.0]
    for n in range(RUNS_ANALYSED):
        unit = units[n % 4]
        start = datetime(2024, 1, 1, 3, tzinfo=UTC) + timedelta(days=2 * n + n % 3)
        sequence = f"{unit}_{'abcdef'[n % 6] * 6}_{start:%Y%m%dT%H%M%S}"
        run_id = f"{sequence}_{start + timedelta(hours=9):%Y%m%dT%H%M%S}"
        names = {
            **DEFAULT_ANALYSIS.stamp(),
            "sequence_id": sequence,
            "run_id": run_id,
            "unit_id": unit,
            "analysed_time": start + timedelta(hours=9, minutes=5),
        }
        bins = []
        for kind in ("transit", "flare"):
            for depth in range(6):
                for duration in range(5):
                    if kind == "flare" and duration > 2:
                        continue
                    for snr in range(7):
                        injected = int(rng.poisson(0.35))
                        if not injected:
                            continue
                        p = 1 / (
                            1 + math.exp(-(snr_centres[snr] - 7.5 - 2 * (duration == 4)) / 1.8)
                        )
                        if kind == "flare":
                            p = 1 / (1 + math.exp(-(snr_centres[snr] - 9.0) / 2.2))
                        recovered = int(rng.binomial(injected, p))
                        bins.append(
                            {
                                "kind": kind,
                                "depth": depth,
                                "duration": duration,
                                "snr": snr,
                                "injected": injected,
                                "recovered": recovered,
                            }
                        )
        documents.merge(
            ANALYSIS_COMPLETENESS,
            f"{HASH}_{sequence}_{run_id}",
            {
                **names,
                "injected": sum(b["injected"] for b in bins),
                "recovered": sum(b["recovered"] for b in bins),
                "edges": COMPLETENESS_EDGES,
                "bins": bins,
            },
        )
        cover = []
        moon = int(rng.integers(0, 5))
        for quality, weight in enumerate((0.45, 0.25, 0.15, 0.08, 0.05, 0.02)):
            for airmass, share in ((0, 0.4), (1, 0.35), (2, 0.18), (3, 0.07)):
                points = int(rng.poisson(2400 * weight * share))
                if points:
                    cover.append(
                        {
                            "quality": quality,
                            "airmass": airmass,
                            "moon": moon,
                            "unit": unit,
                            "points": points,
                            "seconds": points * 90,
                        }
                    )
        cover.append(
            {
                "quality": 0,
                "airmass": -1,
                "moon": moon,
                "unit": unit,
                "points": 12,
                "seconds": 12 * 90,
            }
        )
        documents.merge(
            ANALYSIS_COVERAGE,
            f"{HASH}_{sequence}_{run_id}",
            {
                **names,
                "points": sum(b["points"] for b in cover),
                "hours": sum(b["seconds"] for b in cover) / 3600,
                "edges": COVERAGE_EDGES,
                "bins": cover,
            },
        )
