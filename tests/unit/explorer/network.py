"""A small network of real records for the explorer's tests, and the real 2020 seed.

The records are made by the network's own code: record-image's ``build_frame_records`` and
``record_frame`` (exact counters), then the fields plate-solve, measure-sources and
build-lightcurve add, by name, as those steps write them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.fits_header import read_header_from_bytes
from panoptes_network.ingest.counters import record_frame
from panoptes_network.ingest.records import FrameRecords, build_frame_records
from panoptes_network.pipeline.key_index import add_ids
from panoptes_network.pipeline.schema import (
    IMAGES,
    OBSERVATION_RUNS,
    OBSERVATIONS,
    PROCESSED_OBSERVATIONS,
    ImageStatus,
)
from panoptes_network.pipeline.settings import Settings
from tests.conftest import DATA_DIR
from tests.unit.fakes import MemoryDocuments
from tests.unit.frame_files import unit_frame

UTC = timezone.utc
RECEIVED = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SETTINGS = Settings(header_service_url="http://127.0.0.1:8094/")
SEED = DATA_DIR / "firestore-seed.json"

#: (unit, camera, sequence start, frames, exposure s). PAN001's two cameras start at the same
#: second, as a unit's cameras do: a tie in time order.
SEQUENCES = (
    ("PAN001", "14d3bd", "20180216T110623", 3, 120.0),
    ("PAN001", "ee04d1", "20180216T110623", 2, 120.0),
    ("PAN001", "14d3bd", "20180217T104500", 4, 90.0),
    ("PAN012", "95cdbc", "20191025T075751", 2, 60.0),
)
SOLVED_SEQUENCE = "PAN001_14d3bd_20180216T110623"
RUN_ID = f"{SOLVED_SEQUENCE}_20261129T120000"


def frame_records(unit: str, camera: str, seq: str, index: int, exptime: float) -> FrameRecords:
    start = datetime.strptime(seq, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    moment = start + timedelta(seconds=30 + index * (exptime + 30))
    path = ImagePath.parse(f"{unit}/{camera}/{seq}/{moment:%Y%m%dT%H%M%S}.fits.fz")
    header = read_header_from_bytes(
        unit_frame(
            EXPTIME=exptime,
            **{"DATE-OBS": f"{moment:%Y-%m-%dT%H:%M:%S}", "INSTRUME": camera, "OBSERVER": unit},
        )
    )
    return build_frame_records(
        path,
        header,
        bucket_path=path.object_name,
        public_url=SETTINGS.public_url(SETTINGS.images_bucket, path.object_name),
        received_time=RECEIVED,
    )


def build_network(documents: MemoryDocuments) -> dict[str, Any]:
    """Record every frame of :data:`SEQUENCES`, solve and measure one, add a run."""
    images: list[str] = []
    for unit, camera, seq, frames, exptime in SEQUENCES:
        for index in range(frames):
            records = frame_records(unit, camera, seq, index, exptime)
            record_frame(documents, records)
            images.append(records.image_id)
    solved = sorted(i for i in images if i.startswith("PAN001_14d3bd_20180216"))[0]
    solved_time = RECEIVED + timedelta(minutes=5)
    documents.merge(  # the fields plate-solve writes
        IMAGES,
        solved,
        {
            "status": ImageStatus.MEASURED,
            "solved": True,
            "ra_image": 40.62,
            "dec_image": 37.41,
            "pixel_scale": 10.3,
            "rotation": 1.25,
            "solved_path": f"{solved}.fits.fz",
            "solved_url": "https://storage.googleapis.com/panoptes-images-solved/x.fits.fz",
            "preview_path": f"{solved}.jpg",
            "preview_url": "https://storage.googleapis.com/panoptes-images-preview/x.jpg",
            "preview_source": "fits",
            "preview_error_reason": None,
            "solved_time": solved_time,
            "solve_seconds": 4.2,
            "solve_blind": False,
            "sources_detected": 812,
            "solve_matched_stars": 41,
            "solve_index": 4110,
            "solve_method": "solve-field",
            "solve_tracked_from": None,
            "solve_not_tracked_reason": "no frame of this observation is solved yet",
            "solve_rms_px": None,
            "solve_error_reason": None,
            "background": {"g": 2210.5},
            "updated_time": solved_time,
            # and measure-sources
            "sources_path": "PAN001/14d3bd/20180216T110623/x.parquet",
            "sources_url": "https://storage.googleapis.com/panoptes-sources/x.parquet",
            "num_sources": 318,
            "num_sources_flagged": 12,
            "measured_time": solved_time + timedelta(minutes=1),
        },
    )
    documents.merge(OBSERVATIONS, SOLVED_SEQUENCE, {"ra": 40.62, "dec": 37.41})
    documents.commit([add_ids(OBSERVATION_RUNS, SOLVED_SEQUENCE, [RUN_ID])])  # as it does
    documents.merge(  # a finished build-lightcurve run
        PROCESSED_OBSERVATIONS,
        RUN_ID,
        {
            "sequence_id": SOLVED_SEQUENCE,
            "unit_id": "PAN001",
            "camera_id": "14d3bd",
            "status": "done",
            "run_time": RECEIVED + timedelta(hours=1),
            "options": {"min_coverage": 0.8},
            "software_version": "panoptes-network 0.1.0",
            "frames_used": images[:3],
            "frames_rejected": [],
            "num_frames_found": 3,
            "num_frames": 3,
            "num_frames_rejected": 0,
            "num_stars": 250,
            "num_variable_stars": 3,
            "corrections": {"g": "cotrend", "r": "none"},
            "precision": {
                "g": [
                    {
                        "vmag_min": 9.0,
                        "vmag_max": 10.0,
                        "num_stars": 40,
                        "median_rms_mag": 0.004,
                        "median_robust_rms_mag": 0.0035,
                        "theoretical_rms_mag": 0.003,
                    }
                ]
            },
            "notes": [],
            "data_path": f"{SOLVED_SEQUENCE}/{RUN_ID}/lightcurves.parquet",
            "data_url": "https://storage.googleapis.com/panoptes-lightcurves/x.parquet",
            "run_seconds": 12.5,
        },
    )
    return {"images": images, "solved": solved}


def seed_records() -> dict[str, dict[str, dict[str, Any]]]:
    """Return the real 2020 records, or skip the test when they are not beside the checkout."""
    if not SEED.exists():
        pytest.skip(
            f"the real Firestore records are not at {SEED}; they sit beside the checkout as "
            "../shared/data/panoptes/firestore-seed.json (CI has them)"
        )
    return json.loads(SEED.read_text())


def as_timestamps(value: Any) -> Any:
    """Turn the seed's ISO time strings into timestamps, as Firestore holds them."""
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return value


def seeded(records: dict[str, dict[str, dict[str, Any]]], timestamps: bool) -> MemoryDocuments:
    """Return a store holding every seed document (times as strings, or as timestamps)."""
    documents = MemoryDocuments()
    for collection, docs in records.items():
        for doc_id, fields in docs.items():
            if timestamps:
                fields = {k: as_timestamps(v) for k, v in fields.items()}
            documents.merge(collection, doc_id, fields)
    return documents
