"""The analysis' API on the local stack: gunicorn's explorer, the Firestore and storage emulators.

A star of its own (a random PICID) gets detections, real and injected, written through the
Firestore adapter as the analysis writes them (the contract's fields), one of them naming its
rows in a Parquet data file in the light-curves bucket; a run of its own gets coverage and
completeness counts. The candidates are paged by cursor on Firestore (the query of a star's
detections: ``picid``, ``analysis_hash``, ``injected``, by ``significance``), the candidate's
light curve is read from the storage emulator, and every answer follows the OpenAPI document.
Other tests may have written detections and analysis counts of the same analysis: only this
test's are counted.
"""

from __future__ import annotations

import io
import json
import secrets
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from panoptes_network.adapters.firestore import FirestoreDocuments
from panoptes_network.analysis.config import DEFAULT_ANALYSIS
from panoptes_network.pipeline.schema import (
    ANALYSIS_COMPLETENESS,
    ANALYSIS_COVERAGE,
    DETECTIONS,
)
from tests.unit.explorer.analysis_records import COMPLETENESS_EDGES, COVERAGE_EDGES
from tests.unit.explorer.openapi_check import response_errors

pytestmark = pytest.mark.integration

HASH = DEFAULT_ANALYSIS.config_hash()
T0 = 1_709_265_600.0  # 2024-03-01 04:00 UTC
#: (search, minutes after T0, significance, injected)
EVENTS = (
    ("single-event", 60.0, 3.2, False),
    ("flare", 150.0, 1.7, False),
    ("periodic", 30.0, 2.4, False),
    ("single-event", 90.0, 2.9, True),
    ("flare", 20.0, 1.3, True),
)


def _doc(picid: int, search: str, time_s: float, significance: float, injected: bool, run):
    kind = "flare" if search == "flare" else "transit"
    sequence, run_id, path = run
    return {
        **DEFAULT_ANALYSIS.stamp(),
        "picid": picid,
        "kind": kind,
        "search": search,
        "time": datetime.fromtimestamp(time_s, tz=UTC),
        "time_s": time_s,
        "duration_s": 3600.0 if kind == "transit" else 900.0,
        "depth": 0.01 if kind == "transit" else None,
        "depth_err": 0.001 if kind == "transit" else None,
        "amplitude": 0.02 if kind == "flare" else None,
        "amplitude_err": 0.002 if kind == "flare" else None,
        "period_days": 1.3 if search == "periodic" else None,
        "events": 2 if search == "periodic" else 1,
        "snr": 6.0 * significance,
        "statistic": 10.0 * significance,
        "threshold": 10.0,
        "shifts": 299,
        "significance": significance,
        "false_alarm_probability": 1 / 300,
        "injected": injected,
        "injection": {"kind": kind, "duration_s": 3500.0, "snr": 15.0, "time_s": time_s + 60}
        if injected
        else None,
        "sequence_ids": [sequence],
        "run_ids": [run_id],
        "unit_ids": [sequence[:6]],
        "rows": [
            {
                "sequence_id": sequence,
                "run_id": run_id,
                "data_path": path,
                "row_start": 10,
                "row_count": 40,
            }
        ],
        "frames": [],
        "analysed_time": datetime.now(UTC),
    }


@pytest.fixture(scope="module")
def analysed(stack) -> dict[str, Any]:
    """A star's detections, its run's data file in the light-curves bucket, the run's counts."""
    documents = FirestoreDocuments(stack.firestore)
    picid = 950_000_000 + secrets.randbelow(40_000_000)
    unit = f"PAN9{secrets.randbelow(100):02d}"
    sequence = f"{unit}_{secrets.token_hex(3)}_20240301T040000"
    run_id = f"{sequence}_{datetime.now(UTC):%Y%m%dT%H%M%S}"
    path = f"{sequence}/{run_id}/lightcurves.parquet"
    time = T0 + 90.0 * np.arange(80)
    flux = 1.0 + 0.001 * np.sin(np.arange(80))
    table = pa.table(
        {
            "picid": np.full(80, picid, dtype=np.int64),
            "time": time,
            "airmass": np.full(80, 1.2),
            "flux_g": flux,
            "flux_err_g": np.full(80, 0.002),
            "outlier_g": np.zeros(80, dtype=bool),
        }
    ).replace_schema_metadata({"run_id": json.dumps(run_id)})
    out = io.BytesIO()
    pq.write_table(table, out)
    stack.upload(path, out.getvalue(), bucket=stack.settings.lightcurves_bucket)
    ids = {"real": [], "injected": []}
    for search, minutes, significance, injected in sorted(EVENTS, key=lambda e: -e[2]):
        time_s = T0 + 60 * minutes
        doc_id = f"{HASH}_{picid}_{search}_{int(time_s)}" + ("_injected" if injected else "")
        doc = _doc(picid, search, time_s, significance, injected, (sequence, run_id, path))
        documents.merge(DETECTIONS, doc_id, doc)
        ids["injected" if injected else "real"].append(doc_id)
    names = {
        **DEFAULT_ANALYSIS.stamp(),
        "sequence_id": sequence,
        "run_id": run_id,
        "unit_id": unit,
        "analysed_time": datetime.now(UTC),
    }
    documents.merge(
        ANALYSIS_COVERAGE,
        f"{HASH}_{sequence}_{run_id}",
        {
            **names,
            "points": 80,
            "hours": 2.0,
            "edges": COVERAGE_EDGES,
            "bins": [
                {"quality": 0, "airmass": 0, "moon": 1, "unit": unit, "points": 80, "seconds": 7200}
            ],
        },
    )
    documents.merge(
        ANALYSIS_COMPLETENESS,
        f"{HASH}_{sequence}_{run_id}",
        {
            **names,
            "injected": 4,
            "recovered": 3,
            "edges": COMPLETENESS_EDGES,
            "bins": [
                {
                    "kind": "transit",
                    "depth": 1,
                    "duration": 1,
                    "snr": 1,
                    "injected": 4,
                    "recovered": 3,
                }
            ],
        },
    )
    return {
        "url": stack.url("data-explorer").rstrip("/"),
        "picid": picid,
        "unit": unit,
        "ids": ids,
        "flux": flux,
    }


def _api(analysed: dict[str, Any], path: str, template: str, **params: Any) -> dict[str, Any]:
    answer = requests.get(f"{analysed['url']}{path}", params=params, timeout=60)
    assert answer.status_code == 200, (path, answer.text[:500])
    body = answer.json()
    assert response_errors(body, template, 200) == [], path
    return body


def test_a_stars_candidates_paged_by_cursor_on_firestore(analysed):
    for injected in ("false", "true"):
        seen, cursor = [], None
        for _ in range(10):
            params = {"picid": analysed["picid"], "injected": injected, "limit": 1}
            page = _api(
                analysed,
                "/api/v1/analysis/candidates",
                "/api/v1/analysis/candidates",
                **params,
                **({"cursor": cursor} if cursor else {}),
            )
            seen += [r["detection_id"] for r in page["candidates"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        expected = analysed["ids"]["injected" if injected == "true" else "real"]
        assert seen == expected, injected


def test_every_candidate_of_the_analysis_includes_the_stars_and_by_kind(analysed):
    real = analysed["ids"]["real"]
    page = _api(analysed, "/api/v1/analysis/candidates", "/api/v1/analysis/candidates", limit=200)
    mine = [r["detection_id"] for r in page["candidates"] if r["picid"] == analysed["picid"]]
    if page["next_cursor"] is None:  # on a stack holding few detections, all of them
        assert mine == real
    flares = _api(
        analysed,
        "/api/v1/analysis/candidates",
        "/api/v1/analysis/candidates",
        kind="flare",
        limit=200,
    )
    assert all(r["kind"] == "flare" and r["injected"] is False for r in flares["candidates"])


def test_a_candidate_reads_its_rows_from_the_storage_emulator(analysed):
    detection_id = analysed["ids"]["real"][0]
    body = _api(
        analysed,
        f"/api/v1/analysis/candidates/{detection_id}",
        "/api/v1/analysis/candidates/{detection_id}",
    )
    (segment,) = body["segments"]
    assert segment["note"] is None and segment["colour"] == "g"
    np.testing.assert_allclose(segment["points"]["flux"], analysed["flux"][10:50])
    png = requests.get(
        f"{analysed['url']}/api/v1/analysis/candidates/{detection_id}/lightcurve.png", timeout=60
    )
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    unknown = requests.get(
        f"{analysed['url']}/api/v1/analysis/candidates/{HASH}_1_flare_1", timeout=30
    )
    assert unknown.status_code == 404
    malformed = requests.get(f"{analysed['url']}/api/v1/analysis/candidates/x_y", timeout=30)
    assert malformed.status_code == 400 and "detection_id" in malformed.json()["error"]


def test_the_analysis_summary_adds_this_run(analysed):
    body = _api(analysed, "/api/v1/analysis", "/api/v1/analysis")
    assert body["empty"] is False and body["runs"] >= 1 and body["points"] >= 80
    units = {r["bin"]: r for r in body["coverage"]["marginals"]["unit"]}
    if not body["coverage"]["runs_left_out"] and not body["truncated"]:
        assert units[analysed["unit"]]["points"] == 80
    page = requests.get(f"{analysed['url']}/analysis", timeout=60)
    assert page.status_code == 200 and "Completeness" in page.text
