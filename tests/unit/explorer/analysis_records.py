"""The analysis' documents, as the contract describes them, for the explorer's tests.

Plain dicts (the analysis modules that write them are not imported):

- :func:`detection_doc`: one ``detections`` document of the fields the contract lists;
- :func:`build_detections`: :data:`DETECTIONS` of :data:`ANALYSIS_HASH` (real and injected,
  transits and flares, on :mod:`.star_records`' star and others) and two of an older analysis
  that must never be shown; the real transit of PICID names its rows in the Parquet data file
  of :mod:`.star_records`' file-only run and its frames, two of them recorded with previews;
- :func:`build_analysis_runs`: ``analysis_completeness`` and ``analysis_coverage`` of the
  three runs of :mod:`.star_records` (and one of the older analysis), their counts from
  :func:`completeness_bins` and :func:`coverage_bins`;
- :func:`stitching`: the ``stitching`` field of a star analysed on three units.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from panoptes_network.analysis.completeness import Completeness
from panoptes_network.analysis.config import DEFAULT_ANALYSIS
from panoptes_network.analysis.coverage import Coverage
from panoptes_network.pipeline.schema import (
    ANALYSIS_COMPLETENESS,
    ANALYSIS_COVERAGE,
    DETECTIONS,
    IMAGES,
)
from tests.unit.explorer.star_records import (
    OTHER_PICID,
    PICID,
    RUNS,
    run_id_of,
    star_series,
)
from tests.unit.fakes import MemoryDocuments

UTC = timezone.utc
ANALYSIS_HASH = DEFAULT_ANALYSIS.config_hash()
#: An analysis of another configuration: its documents are never shown.
OLD_HASH = "0123456789abcdef"
#: The completeness and coverage bins' edges, as the analysis writes them in its documents.
COMPLETENESS_EDGES = Completeness().to_record()["edges"]
COVERAGE_EDGES = Coverage().to_record()["edges"]
#: Fraction recovered per SNR bin (rising with SNR, as a search's does).
RECOVERED_FRACTION = (0.0, 0.2, 0.5, 0.8, 0.95, 1.0, 1.0)
#: The run of :data:`~.star_records.RUNS` whose points are only in its data file.
FILE_RUN = next(i for i, run in enumerate(RUNS) if not run[5])


def sequence_of(run: int) -> str:
    """The observation of run ``run`` of :data:`~.star_records.RUNS`."""
    return "_".join(run_id_of(run).split("_")[:3])


def data_path_of(run: int) -> str:
    """The data file of run ``run``, as :func:`~.star_records.build_star` stores it."""
    return f"{sequence_of(run)}/{run_id_of(run)}/lightcurves.parquet"


def frame_ids(run: int, times: list[float]) -> list[str]:
    """Image ids of a run's frames at POSIX seconds ``times`` (``<UNIT>_<CAMERA>_<time>``)."""
    unit, camera = RUNS[run][:2]
    return [
        f"{unit}_{camera}_{datetime.fromtimestamp(int(t), tz=UTC):%Y%m%dT%H%M%S}" for t in times
    ]


def detection_doc(
    picid: int,
    search: str,
    time_s: float,
    significance: float,
    *,
    analysis_hash: str = ANALYSIS_HASH,
    injected: bool = False,
    run: int = 0,
    duration_s: float = 3600.0,
    size: float = 0.01,
    period_days: float | None = None,
    rows: list[dict[str, Any]] | None = None,
    frames: list[str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Return ``(id, document)`` of one detection with every field of the contract."""
    kind = "flare" if search == "flare" else "transit"
    doc_id = f"{analysis_hash}_{picid}_{search}_{int(time_s)}" + ("_injected" if injected else "")
    threshold = 9.0
    doc: dict[str, Any] = {
        "analysis": "default",
        "analysis_hash": analysis_hash,
        "picid": picid,
        "ra": 83.8221,
        "dec": -5.3911,
        "vmag": 8.4,
        "kind": kind,
        "search": search,
        "time": datetime.fromtimestamp(time_s, tz=UTC),
        "time_s": float(time_s),
        "duration_s": duration_s,
        "depth": size if kind == "transit" else None,
        "depth_err": size / 8 if kind == "transit" else None,
        "amplitude": size if kind == "flare" else None,
        "amplitude_err": size / 8 if kind == "flare" else None,
        "period_days": period_days,
        "events": 3 if period_days else 1,
        "snr": 8.0 * significance,
        "statistic": threshold * significance,
        "threshold": threshold,
        "shifts": 299,
        "significance": significance,
        "false_alarm_probability": 1 / 300 if significance > 1 else 0.2,
        "injected": injected,
        "injection": (
            {
                "kind": kind,
                ("depth" if kind == "transit" else "amplitude"): size * 1.1,
                "duration_s": duration_s,
                "snr": 9.0,
                "time_s": float(time_s) + 30.0,
            }
            if injected
            else None
        ),
        "sequence_ids": [sequence_of(run)],
        "run_ids": [run_id_of(run)],
        "unit_ids": [RUNS[run][0]],
        "rows": rows or [],
        "frames": frames or [],
        "analysed_time": datetime(2024, 4, 1, 12, 0, tzinfo=UTC),
    }
    return doc_id, doc


def _run_start(run: int) -> float:
    return RUNS[run][2].timestamp()


#: (picid, search, run, minutes into the run, significance, injected, hash): the detections.
DETECTIONS_TABLE: tuple[tuple[int, str, int, float, float, bool, str], ...] = (
    (PICID, "single-event", FILE_RUN, 7.25, 3.5, False, ANALYSIS_HASH),
    (PICID, "periodic", 0, 5.0, 2.0, False, ANALYSIS_HASH),
    (PICID, "flare", 2, 4.0, 1.2, False, ANALYSIS_HASH),
    (OTHER_PICID, "flare", 0, 3.0, 5.0, False, ANALYSIS_HASH),
    (700000001, "single-event", 2, 6.0, 1.5, False, ANALYSIS_HASH),
    (700000002, "single-event", 2, 8.0, 1.5, False, ANALYSIS_HASH),  # a tie in significance
    (700000003, "periodic", 0, 9.0, 0.9, False, ANALYSIS_HASH),
    (PICID, "single-event", 0, 2.0, 4.0, True, ANALYSIS_HASH),
    (700000004, "flare", 2, 5.0, 2.5, True, ANALYSIS_HASH),
    (OTHER_PICID, "flare", 2, 7.0, 1.8, True, ANALYSIS_HASH),
    (700000005, "single-event", 2, 1.0, 1.1, True, ANALYSIS_HASH),
    (PICID, "single-event", 0, 3.0, 9.0, False, OLD_HASH),
    (700000006, "flare", 0, 3.0, 8.0, True, OLD_HASH),
)
#: The real transit of PICID whose rows and frames the candidate page reads.
TRANSIT_ID = f"{ANALYSIS_HASH}_{PICID}_single-event_{int(_run_start(FILE_RUN) + 15 + 60 * 7.25)}"


def build_detections(documents: MemoryDocuments) -> dict[str, Any]:
    """Store :data:`DETECTIONS_TABLE`, and two of the transit's frames with previews.

    Returns the ids: ``real`` and ``injected`` (of :data:`ANALYSIS_HASH`, most significant
    first), ``old`` (of :data:`OLD_HASH`), ``transit`` and ``frames`` (the transit's).
    """
    real, injected_ids, old = [], [], []
    transit_frames: list[str] = []
    for picid, search, run, minutes, significance, injected, analysis_hash in DETECTIONS_TABLE:
        time_s = _run_start(run) + 15 + 60 * minutes
        rows, frames = None, None
        if picid == PICID and search == "single-event" and not injected and run == FILE_RUN:
            series = star_series(FILE_RUN)
            rows = [
                {
                    "sequence_id": sequence_of(FILE_RUN),
                    "run_id": run_id_of(FILE_RUN),
                    "data_path": data_path_of(FILE_RUN),
                    "row_start": 0,  # PICID is the first star of the file
                    "row_count": len(series["time"]),
                },
                {  # an entry naming a file that is not there
                    "sequence_id": sequence_of(FILE_RUN),
                    "run_id": run_id_of(FILE_RUN) + "-gone",
                    "data_path": "nowhere/lightcurves.parquet",
                    "row_start": 0,
                    "row_count": 5,
                },
            ]
            frames = frame_ids(FILE_RUN, [t for t in series["time"] if abs(t - time_s) < 1800])
            transit_frames = frames
        doc_id, doc = detection_doc(
            picid,
            search,
            time_s,
            significance,
            analysis_hash=analysis_hash,
            injected=injected,
            run=run,
            duration_s=300.0 if search != "flare" else 600.0,
            period_days=0.7 if search == "periodic" else None,
            rows=rows,
            frames=frames,
        )
        documents.merge(DETECTIONS, doc_id, doc)
        if analysis_hash != ANALYSIS_HASH:
            old.append(doc_id)
        else:
            (injected_ids if injected else real).append((significance, doc_id))
    assert transit_frames and TRANSIT_ID in [i for _, i in real]
    for k, image_id in enumerate(transit_frames[:2]):
        documents.merge(
            IMAGES,
            image_id,
            {
                "sequence_id": sequence_of(FILE_RUN),
                "status": "measured",
                "time": datetime.strptime(image_id[-15:], "%Y%m%dT%H%M%S").replace(tzinfo=UTC),
                "preview_url": f"https://storage.example.org/previews/{image_id}.jpg",
                "exptime": 30.0 + k,
            },
        )

    def ranked(pairs: list[tuple[float, str]]) -> list[str]:
        return [i for _, i in sorted(pairs, reverse=True)]

    return {
        "real": ranked(real),
        "injected": ranked(injected_ids),
        "old": old,
        "transit": TRANSIT_ID,
        "frames": transit_frames,
    }


def completeness_bins(run: int) -> list[dict[str, Any]]:
    """The injection-recovery counts of run ``run``: every kind, depth, duration, SNR bin."""
    bins = []
    for kind in ("transit", "flare"):
        for depth in range(len(COMPLETENESS_EDGES["depth"])):
            for duration in range(len(COMPLETENESS_EDGES["duration_min"])):
                for snr in range(len(COMPLETENESS_EDGES["snr"])):
                    injected = 1 + (run + depth + duration + snr) % 3
                    recovered = round(injected * RECOVERED_FRACTION[snr])
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
    bins.append(  # events whose SNR was not known
        {"kind": "transit", "depth": 1, "duration": 1, "snr": -1, "injected": 2, "recovered": 1}
    )
    return bins


def coverage_bins(run: int) -> list[dict[str, Any]]:
    """The coverage of run ``run``: points and seconds (60 s a point) in a few bins."""
    unit = RUNS[run][0]
    bins = []
    for quality, airmass, moon, points in (
        (0, 0, 3, 120 + run),
        (1, 1, 3, 60),
        (2, 1, 4, 30 * (run + 1)),
        (4, -1, 2, 7),  # frames without an airmass
    ):
        bins.append(
            {
                "quality": quality,
                "airmass": airmass,
                "moon": moon,
                "unit": unit,
                "points": points,
                "seconds": 60 * points,
            }
        )
    return bins


def build_analysis_runs(documents: MemoryDocuments, runs: tuple[int, ...] = (0, 1, 2)) -> None:
    """Store the completeness and coverage documents of ``runs``, and one of another analysis."""
    when = datetime(2024, 4, 1, 12, 0, tzinfo=UTC)
    for analysis_hash, chosen in ((ANALYSIS_HASH, runs), (OLD_HASH, (0,))):
        for run in chosen:
            names = {
                "analysis": "default",
                "analysis_hash": analysis_hash,
                "sequence_id": sequence_of(run),
                "run_id": run_id_of(run),
                "unit_id": RUNS[run][0],
                "analysed_time": when + timedelta(hours=run),
            }
            doc_id = f"{analysis_hash}_{sequence_of(run)}_{run_id_of(run)}"
            bins = completeness_bins(run)
            documents.merge(
                ANALYSIS_COMPLETENESS,
                doc_id,
                {
                    **names,
                    "injected": sum(b["injected"] for b in bins),
                    "recovered": sum(b["recovered"] for b in bins),
                    "edges": COMPLETENESS_EDGES,
                    "bins": bins,
                },
            )
            cover = coverage_bins(run)
            documents.merge(
                ANALYSIS_COVERAGE,
                doc_id,
                {
                    **names,
                    "points": sum(b["points"] for b in cover),
                    "hours": sum(b["seconds"] for b in cover) / 3600,
                    "edges": COVERAGE_EDGES,
                    "bins": cover,
                },
            )


def stitching(*, degenerate: bool) -> dict[str, Any]:
    """The ``stitching`` field of a star seen by PAN001 (reference), PAN012 and PAN006."""
    return {
        "reference_unit": "PAN001",
        "offsets": {
            "PAN012": {"offset_mag": 0.0132, "offset_err_mag": 0.0021, "overlap_hours": 2.5},
            "PAN001": {"offset_mag": 0.0, "offset_err_mag": 0.0, "overlap_hours": 4.0},
            "PAN006": {"offset_mag": -0.0071, "offset_err_mag": 0.0035, "overlap_hours": 1.5},
        },
        "degenerate": degenerate,
        "reason": "PAN006 never overlaps another unit in time: its offset is degenerate with "
        "the star's variability"
        if degenerate
        else "",
    }
