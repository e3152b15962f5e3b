"""A synthetic network's documents at scale, for the Data Explorer's benchmark.

:func:`network_documents` yields the documents of a network of ``observations``
observations (``images_per_observation`` frames each) spread over ``units`` units, two
cameras each, and ``stars`` stars with ``lightcurves_per_star`` light curves each, every one
in its own run: what record-image, plate-solve, measure-sources and build-lightcurve would
have written. Each frame's records come from record-image's own ``build_frame_records`` (on
a header with the cards a unit writes); the counters of units, observations and weeks are
their exact sums; observations carry the sky index of their solved pointing; the key
indexes (:mod:`panoptes_network.pipeline.key_index`) list every observation's frames and
runs, every star's light curves and every sky cell's observations, whole.

Deterministic: observation ``i`` is the same whatever the size, so a network of 1,000
observations is the first tenth of one of 10,000 (seeding 10,000 after 1,000 rewrites the
first 1,000 unchanged and adds the rest; the counters are rewritten whole).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.fits_header import FitsHeader, HeaderCard
from panoptes_network.frames.sky_index import SkySource, sky_fields
from panoptes_network.ingest.counters import week_of
from panoptes_network.ingest.records import build_frame_records
from panoptes_network.lightcurves.products import brightest_lightcurves
from panoptes_network.pipeline.key_index import IDS
from panoptes_network.pipeline.schema import (
    IMAGES,
    LIGHTCURVES,
    OBSERVATION_FRAMES,
    OBSERVATION_RUNS,
    OBSERVATIONS,
    PROCESSED_OBSERVATIONS,
    SKY_CELLS,
    STAR_LIGHTCURVES,
    UNITS,
    WEEKLY_STATS,
    ImageStatus,
)
from panoptes_network.pipeline.settings import Settings

__all__ = ["NetworkSize", "network_documents", "seed_star_ids"]

#: The first synthetic PICID (well above the TIC's ids of bright stars).
FIRST_PICID = 900_000_001
#: Start of the synthetic network's first observation.
START = datetime(2021, 1, 4, 2, 0, tzinfo=timezone.utc)
#: Stars per run with light curves.
_STARS_PER_RUN = 20
_EXPTIME_S = 120.0
_CADENCE_S = 150.0


@dataclass(frozen=True)
class NetworkSize:
    """How big a synthetic network is.

    Attributes
    ----------
    observations : int
        Observations.
    images_per_observation : int
        Frames of each.
    units : int
        Units (two cameras each).
    stars : int
        Stars with light curves.
    lightcurves_per_star : int
        Light curves of each star (each in another observation's run).
    points : int
        Points of each light curve, embedded in its document (three colours).
    """

    observations: int = 10_000
    images_per_observation: int = 10
    units: int = 25
    stars: int = 1_000
    lightcurves_per_star: int = 20
    points: int = 40

    @property
    def runs(self) -> int:
        """Observations with a processing run (those that hold light curves)."""
        needed = math.ceil(self.stars * self.lightcurves_per_star / _STARS_PER_RUN)
        return min(self.observations, max(needed, self.lightcurves_per_star))


def seed_star_ids(size: NetworkSize) -> list[int]:
    """Return the PICIDs of the synthetic stars."""
    return [FIRST_PICID + s for s in range(size.stars)]


def _unit(i: int) -> str:
    return f"PAN{900 + i:03d}"


def _camera(unit: int, camera: int) -> str:
    return f"{(unit * 2 + camera) * 7919 % 0xFFFFFF:06x}"


def _header(unit: int, camera: str, moment: datetime, ra: float, dec: float) -> FitsHeader:
    cards = {
        "EXPTIME": _EXPTIME_S,
        "DATE-OBS": f"{moment:%Y-%m-%dT%H:%M:%S}",
        "INSTRUME": camera,
        "OBSERVER": _unit(unit),
        "LAT-OBS": -30.0 + 3.1 * unit % 60.0,
        "LONG-OBS": (-70.0 + 14.3 * unit) % 360.0,
        "ELEV-OBS": 1000.0 + 20 * unit,
        "RA-MNT": ra,
        "DEC-MNT": dec,
        "HA-MNT": 0.5,
        "AIRMASS": 1.2,
        "FIELD": f"Field{int(ra) // 15:02d}{'+' if dec >= 0 else '-'}{int(abs(dec)) // 10}",
        "FILTER": "RGGB",
        "ISO": 100,
        "CREATOR": "POCSv0.7.8",
    }
    return FitsHeader([HeaderCard(k, v, "") for k, v in cards.items()])


def _pointing(i: int) -> tuple[float, float]:
    """Return a pointing: spread evenly south of +60 degrees (a golden-angle spiral)."""
    z = -1.0 + 1.6 * ((i * 0.618034) % 1.0)
    return (i * 137.50776) % 360.0, math.degrees(math.asin(z))


def _vmag(picid: int) -> float:
    """Return a synthetic star's V magnitude (mag): 7.0 to 11.9."""
    return 7.0 + (picid % 50) / 10.0


def _lightcurve_doc(
    picid: int, run: dict[str, Any], times: list[float], rng: np.random.Generator
) -> dict[str, Any]:
    points: dict[str, list[Any]] = {"time": times}
    doc: dict[str, Any] = {}
    for k, c in enumerate(("r", "g", "b")):
        flux = 1.0 + rng.normal(0.0, 0.004 + 0.001 * k, len(times))
        points[c] = [round(float(v), 6) for v in flux]
        points[f"{c}_err"] = [0.004 + 0.001 * k] * len(times)
        points[f"{c}_outlier"] = [False] * len(times)
        doc.update(
            {
                f"num_points_{c}": len(times),
                f"median_mag_{c}": -9.0 - k * 0.2,
                f"rms_mag_{c}": 0.0045 + 0.001 * k,
                f"robust_rms_mag_{c}": 0.004 + 0.001 * k,
                f"expected_rms_mag_{c}": 0.0035 + 0.001 * k,
                f"detrended_{c}": True,
                f"correction_{c}": "cotrend",
            }
        )
    ra, dec = run["ra"], run["dec"]
    return {
        "sequence_id": run["sequence_id"],
        "unit_id": run["unit_id"],
        "camera_id": run["camera_id"],
        "processed_observation": run["run_id"],
        "run_time": run["run_time"],
        "data_path": f"{run['sequence_id']}/{run['run_id']}/lightcurves.parquet",
        "data_url": None,
        "picid": picid,
        "ra": ra + ((picid * 0.37) % 2.0) - 1.0,
        "dec": dec + ((picid * 0.53) % 2.0) - 1.0,
        "vmag": _vmag(picid),
        "num_points": len(times),
        "variable": False,
        "data_row_start": 0,
        "data_row_count": len(times),
        "points_embedded": True,
        "points": points,
        **doc,
    }


def network_documents(
    size: NetworkSize, settings: Settings | None = None
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield ``(collection, doc_id, fields)`` of every document of a synthetic network.

    Parameters
    ----------
    size : NetworkSize
        How big.
    settings : Settings, optional
        For the public URLs of the frames.

    Yields
    ------
    (str, str, dict)
        Observations with their images first (each observation after its frames, then
        its frames index), then the sky cells' index, the runs and light curves with their
        indexes, then the units' and weeks' counters (exact sums).
    """
    settings = settings or Settings()
    rng = np.random.default_rng(20261129)
    units: dict[str, dict[str, Any]] = {}
    unit_counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    weeks: dict[str, dict[str, Any]] = {}
    week_counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    runs: list[dict[str, Any]] = []
    cells: dict[int, list[str]] = defaultdict(list)
    received = START
    for i in range(size.observations):
        unit = i % size.units
        camera = _camera(unit, (i // size.units) % 2)
        start = START + timedelta(hours=6 * (i // size.units), minutes=7 * unit)
        ra, dec = _pointing(i)
        sequence = f"{_unit(unit)}/{camera}/{start:%Y%m%dT%H%M%S}"
        observation: dict[str, Any] = {}
        frames: list[str] = []
        for k in range(size.images_per_observation):
            moment = start + timedelta(seconds=30 + k * _CADENCE_S)
            path = ImagePath.parse(f"{sequence}/{moment:%Y%m%dT%H%M%S}.fits.fz")
            received = moment + timedelta(minutes=2)
            records = build_frame_records(
                path,
                _header(unit, camera, moment, ra, dec),
                bucket_path=path.object_name,
                public_url=settings.public_url(settings.images_bucket, path.object_name),
                received_time=received,
            )
            image = dict(records.image)
            image.update(
                status=ImageStatus.MEASURED,
                solved=True,
                ra_image=ra + 0.01,
                dec_image=dec - 0.01,
                pixel_scale=10.3,
                num_sources=300 + k,
            )
            yield IMAGES, records.image_id, image
            frames.append(records.image_id)
            if not observation:
                observation = dict(records.observation)
                units.setdefault(records.unit_id, dict(records.unit))
            week, week_start = week_of(moment)
            week_id = f"{records.unit_id}_{week}"
            weeks.setdefault(
                week_id, {"unit_id": records.unit_id, "week": week, "week_start": week_start}
            )
            week_counts[week_id]["num_images"] += 1
            week_counts[week_id]["total_minutes_exptime"] += records.minutes_exptime
            if k == 0:
                week_counts[week_id]["num_observations"] += 1
        minutes = size.images_per_observation * _EXPTIME_S / 60.0
        observation.update(
            num_images=size.images_per_observation,
            total_minutes_exptime=minutes,
            last_image_received_time=received,
            lightcurve_pending=False,
            status="observed",
            ra=ra,
            dec=dec,
            **sky_fields(ra, dec, SkySource.SOLVED),
        )
        yield OBSERVATIONS, observation["sequence_id"], observation
        yield OBSERVATION_FRAMES, observation["sequence_id"], {IDS: sorted(frames)}
        for cell in observation["sky_cells"]:
            cells[cell].append(observation["sequence_id"])
        counts = unit_counts[observation["unit_id"]]
        counts["num_images"] += size.images_per_observation
        counts["num_observations"] += 1
        counts["total_minutes_exptime"] += minutes
        if i < size.runs:
            run_time = received + timedelta(hours=1)
            run_id = f"{observation['sequence_id']}_{run_time:%Y%m%dT%H%M%S}"
            runs.append(
                {
                    "run_id": run_id,
                    "sequence_id": observation["sequence_id"],
                    "unit_id": observation["unit_id"],
                    "camera_id": observation["camera_id"],
                    "run_time": run_time,
                    "ra": ra,
                    "dec": dec,
                    "times": [
                        (start + timedelta(seconds=90 + k * _CADENCE_S)).timestamp()
                        for k in range(size.points)
                    ],
                }
            )
    for cell, listed in cells.items():
        yield SKY_CELLS, str(cell), {IDS: sorted(listed)}
    if len(runs) < size.lightcurves_per_star:
        raise ValueError(
            f"{size.lightcurves_per_star} light curves per star need as many "
            f"observations; there are {size.observations}"
        )
    stars = seed_star_ids(size)
    in_run: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for s, picid in enumerate(stars):
        for j in range(size.lightcurves_per_star):
            run_id = runs[(s * size.lightcurves_per_star + j) % len(runs)]["run_id"]
            in_run[run_id].append((f"{picid}_{run_id}", {"vmag": _vmag(picid)}))
    for run in runs:
        yield OBSERVATION_RUNS, run["sequence_id"], {IDS: [run["run_id"]]}
        yield (
            PROCESSED_OBSERVATIONS,
            run["run_id"],
            {
                "sequence_id": run["sequence_id"],
                "unit_id": run["unit_id"],
                "camera_id": run["camera_id"],
                "status": "done",
                "run_time": run["run_time"],
                "num_frames": size.points,
                "num_frames_found": size.points,
                "num_frames_rejected": 0,
                "num_stars": _STARS_PER_RUN,
                "num_variable_stars": 0,
                "corrections": {"r": "cotrend", "g": "cotrend", "b": "cotrend"},
                "notes": [],
                # what build-lightcurve records when a run is done
                "brightest_lightcurves": brightest_lightcurves(in_run[run["run_id"]]),
            },
        )
    for s, picid in enumerate(stars):
        listed: list[str] = []
        for j in range(size.lightcurves_per_star):
            run = runs[(s * size.lightcurves_per_star + j) % len(runs)]
            lcid = f"{picid}_{run['run_id']}"
            doc = _lightcurve_doc(picid, run, run["times"], rng)
            yield LIGHTCURVES, lcid, doc
            listed.append(lcid)
        yield STAR_LIGHTCURVES, str(picid), {IDS: sorted(listed)}
    for unit_id, fields in units.items():
        yield UNITS, unit_id, {**fields, **_whole(unit_counts[unit_id])}
    for week_id, fields in weeks.items():
        yield WEEKLY_STATS, week_id, {**fields, **_whole(week_counts[week_id])}


def _whole(counts: dict[str, float]) -> dict[str, Any]:
    """Counters as the network stores them: counts as int, exposure minutes as float."""
    return {k: (v if k == "total_minutes_exptime" else int(v)) for k, v in counts.items()}
