"""The synthetic network of the explorer's benchmark: exact counters, distinct runs, determinism.

Seeded with ``bin/seed-explorer``'s own code on the in-memory store; the explorer's read
models then answer from it as from a real archive.
"""

from __future__ import annotations

from collections import Counter

from panoptes_network.cli.seed_explorer import seed
from panoptes_network.explorer import home, observations
from panoptes_network.explorer.stars import star
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
)
from panoptes_network.simulation.network_records import (
    NetworkSize,
    network_documents,
    seed_star_ids,
)
from tests.unit.fakes import MemoryDocuments

SIZE = NetworkSize(
    observations=60, images_per_observation=3, units=4, stars=6, lightcurves_per_star=5, points=8
)


def seeded(size: NetworkSize = SIZE) -> MemoryDocuments:
    documents = MemoryDocuments()
    seed(documents.merge_many, size, progress=False)
    return documents


def test_counters_are_the_exact_sums_of_the_documents():
    documents = seeded()
    images = documents.query(IMAGES)
    observations_ = documents.query(OBSERVATIONS)
    assert len(images) == 60 * 3 and len(observations_) == 60
    per_unit = Counter(doc["unit_id"] for _, doc in images)
    for unit_id, doc in documents.query(UNITS):
        assert doc["num_images"] == per_unit[unit_id]
        assert doc["num_observations"] == per_unit[unit_id] // 3
        assert doc["total_minutes_exptime"] == per_unit[unit_id] * 2.0
    weekly = documents.query(WEEKLY_STATS)
    assert sum(doc["num_images"] for _, doc in weekly) == 180
    assert sum(doc["num_observations"] for _, doc in weekly) == 60
    for sequence_id, doc in observations_:
        frames = [i for i, d in images if d["sequence_id"] == sequence_id]
        assert doc["num_images"] == len(frames) == 3
        assert doc["sky_cells"] and doc["sky_source"] == "solved"


def test_every_star_has_its_light_curves_in_distinct_runs():
    documents = seeded()
    for picid in seed_star_ids(SIZE):
        found = documents.query(LIGHTCURVES, [("picid", "==", picid)])
        runs = {doc["processed_observation"] for _, doc in found}
        assert len(found) == len(runs) == SIZE.lightcurves_per_star


def test_a_bigger_network_starts_with_the_smaller_one():
    small = {(c, i): f for c, i, f in network_documents(SIZE) if c in (IMAGES, OBSERVATIONS)}
    bigger = NetworkSize(**{**SIZE.__dict__, "observations": 120})
    big = {(c, i): f for c, i, f in network_documents(bigger) if c in (IMAGES, OBSERVATIONS)}
    assert all(big[key] == fields for key, fields in small.items())
    assert len(big) == 2 * len(small)


def test_the_explorer_reads_the_synthetic_network():
    documents = seeded()
    totals = home(documents)
    assert totals["totals"]["images"]["value"] == 180
    page = observations(documents, limit=10)
    assert len(page["observations"]) == 10
    one = star(documents, seed_star_ids(SIZE)[0])
    assert one["num_lightcurves"] == SIZE.lightcurves_per_star
    assert len(one["lightcurves"][0]["points"]["g"]) == SIZE.points


def test_the_key_indexes_list_exactly_the_documents_they_index():
    documents = seeded()

    def collection(name):
        return {doc_id: doc for (c, doc_id), doc in documents.docs.items() if c == name}

    def grouped(name, owner_of):
        out: dict[str, set[str]] = {}
        for doc_id, doc in collection(name).items():
            for owner in owner_of(doc):
                out.setdefault(str(owner), set()).add(doc_id)
        return out

    def listed(name):
        return {owner: set(doc["ids"]) for owner, doc in collection(name).items()}

    assert listed(OBSERVATION_FRAMES) == grouped(IMAGES, lambda d: [d["sequence_id"]])
    assert listed(OBSERVATION_RUNS) == grouped(PROCESSED_OBSERVATIONS, lambda d: [d["sequence_id"]])
    assert listed(STAR_LIGHTCURVES) == grouped(LIGHTCURVES, lambda d: [d["picid"]])
    assert listed(SKY_CELLS) == grouped(OBSERVATIONS, lambda d: d["sky_cells"])
    assert len(listed(SKY_CELLS)) > 10
    for run_id, run in collection(PROCESSED_OBSERVATIONS).items():
        in_run = grouped(LIGHTCURVES, lambda d: [d["processed_observation"]]).get(run_id, set())
        brightest = run.get("brightest_lightcurves", [])
        assert set(brightest) == in_run  # fewer than 20 stars per run here
        vmags = [documents.docs[(LIGHTCURVES, lcid)]["vmag"] for lcid in brightest]
        assert vmags == sorted(vmags)
