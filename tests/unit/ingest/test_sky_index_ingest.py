"""The sky index on observation documents: written by record-image, backfilled for old ones.

References: the cells astropy-healpix places the pointing (and points of the field) in, and
the real 2020 records, whose first frames' mount positions are found here by sorting the
seed's images by time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy_healpix import HEALPix

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.fits_header import read_header_from_bytes
from panoptes_network.frames.sky_index import (
    FIELD_RADIUS_DEG,
    INDEX_ORDERS,
    MOUNT_FIELD_RADIUS_DEG,
    SKY_FIELDS,
    SkySource,
    sky_fields,
    uniq,
)
from panoptes_network.ingest.counters import record_frame
from panoptes_network.ingest.records import build_frame_records
from panoptes_network.ingest.sky_backfill import backfill_sky_index, planned_sky_fields
from panoptes_network.pipeline.key_index import IDS, move_id
from panoptes_network.pipeline.ports import MAX_BATCH_WRITES, DocWrite
from panoptes_network.pipeline.schema import IMAGES, OBSERVATIONS, SKY_CELLS
from tests.unit.explorer.network import seed_records, seeded
from tests.unit.fakes import CountingDocuments, MemoryDocuments
from tests.unit.frame_files import unit_frame

UTC = timezone.utc
RECEIVED = datetime(2026, 11, 29, 12, tzinfo=UTC)
SEQ = "PAN001/14d3bd/20180216T110623"


def records_of(moment: str, **cards):
    path = ImagePath.parse(f"{SEQ}/{moment}.fits.fz")
    header = read_header_from_bytes(unit_frame(**cards))
    return build_frame_records(
        path, header, bucket_path=path.object_name, public_url="https://x", received_time=RECEIVED
    )


def cells_holding(ra: float, dec: float) -> set[int]:
    """The NUNIQ cells of a position at every order of the index, by astropy-healpix."""
    return {
        uniq(
            order,
            int(HEALPix(nside=2**order, order="nested").lonlat_to_healpix(ra * u.deg, dec * u.deg)),
        )
        for order in INDEX_ORDERS
    }


# --- record-image -----------------------------------------------------------------------


def test_the_first_frame_indexes_its_mount_position():
    records = records_of("20180216T112430", **{"RA-MNT": 40.5, "DEC-MNT": 37.5})
    observation = records.observation
    assert observation["sky_source"] == "mount" and observation["ra"] is None
    assert (observation["sky_ra"], observation["sky_dec"]) == (40.5, 37.5)
    assert observation["sky_radius"] == MOUNT_FIELD_RADIUS_DEG
    cells = set(observation["sky_cells"])
    assert cells_holding(40.5, 37.5) <= cells
    # a point as far as a full frame's corner plus the mount's margin
    edge = SkyCoord(40.5 * u.deg, 37.5 * u.deg).directional_offset_by(
        200 * u.deg, (MOUNT_FIELD_RADIUS_DEG - 1e-6) * u.deg
    )
    assert cells_holding(edge.ra.deg, edge.dec.deg) <= cells


@pytest.mark.parametrize(
    "cards",
    [{"RA-MNT": "", "DEC-MNT": 37.5}, {"RA-MNT": 40.5, "DEC-MNT": None}, {"DEC-MNT": 95.0}],
    ids=["empty RA", "no DEC", "DEC beyond the pole"],
)
def test_a_frame_without_a_mount_position_indexes_nothing(cards):
    observation = records_of("20180216T112430", **cards).observation
    assert not set(SKY_FIELDS) & set(observation)


def test_the_observation_keeps_the_first_frames_index():
    documents = MemoryDocuments()
    record_frame(documents, records_of("20180216T112430", **{"RA-MNT": 40.5, "DEC-MNT": 37.5}))
    first = documents.get(OBSERVATIONS, "PAN001_14d3bd_20180216T110623")
    assert first["sky_ra"] == 40.5
    later = records_of("20180216T112700", **{"RA-MNT": 41.5, "DEC-MNT": 37.0})
    record_frame(documents, later)
    observation = documents.get(OBSERVATIONS, "PAN001_14d3bd_20180216T110623")
    assert observation["num_images"] == 2
    assert {k: observation[k] for k in SKY_FIELDS} == {k: first[k] for k in SKY_FIELDS}


# --- the backfill -----------------------------------------------------------------------


def listings(documents: MemoryDocuments) -> dict[str, set[int]]:
    """The cells each observation is listed under in the sky cells key index."""
    out: dict[str, set[int]] = {}
    for (collection, cell), doc in documents.docs.items():
        if collection == SKY_CELLS:
            for sequence_id in doc.get(IDS, []):
                out.setdefault(sequence_id, set()).add(int(cell))
    return out


def indexed_cells(documents: MemoryDocuments) -> dict[str, set[int]]:
    """The cells of each observation's own sky index."""
    return {
        doc_id: set(doc["sky_cells"])
        for (collection, doc_id), doc in documents.docs.items()
        if collection == OBSERVATIONS and doc.get("sky_cells")
    }


def first_mount(seed, sequence_id):
    """The earliest frame's mount position in the seed (times there are ISO strings)."""
    images = sorted(
        (image["time"], image_id, image)
        for image_id, image in seed["images"].items()
        if image["sequence_id"] == sequence_id
    )
    return (images[0][2]["ra_mnt"], images[0][2]["dec_mnt"]) if images else None


@pytest.mark.parametrize("timestamps", [False, True], ids=["strings", "timestamps"])
def test_the_backfill_indexes_every_real_record_once(timestamps):
    seed = seed_records()
    documents = seeded(seed, timestamps=timestamps)
    before = {i: documents.get(OBSERVATIONS, i) for i in seed["observations"]}
    assert not any(set(SKY_FIELDS) & set(doc) for doc in before.values())
    pages = []
    report = backfill_sky_index(documents, page_size=6, progress=lambda r: pages.append(r.pages))
    assert report.observations_read == len(seed["observations"]) == 20
    assert pages == list(range(1, report.pages + 1)) and report.pages == 4
    expected_sources = {"solved": 0, "mount": 0}
    for sequence_id, old in seed["observations"].items():
        doc = documents.get(OBSERVATIONS, sequence_id)
        if old.get("ra") is not None:
            assert doc["sky_source"] == "solved"
            assert (doc["sky_ra"], doc["sky_dec"]) == (old["ra"], old["dec"])
            assert doc["sky_radius"] == FIELD_RADIUS_DEG
            expected_sources["solved"] += 1
        elif first_mount(seed, sequence_id) is not None:
            assert doc["sky_source"] == "mount"
            assert (doc["sky_ra"], doc["sky_dec"]) == first_mount(seed, sequence_id)
            expected_sources["mount"] += 1
        else:
            assert not set(SKY_FIELDS) & set(doc), sequence_id
            continue
        assert cells_holding(doc["sky_ra"], doc["sky_dec"]) <= set(doc["sky_cells"])
        # nothing else of the document changed
        assert {k: v for k, v in doc.items() if k not in SKY_FIELDS} == before[sequence_id]
    assert report.indexed == expected_sources == {"solved": 1, "mount": 15}
    assert report.without_pointing == 4 and report.unchanged == 0 and not report.dry_run
    # each indexed observation is listed under exactly its cells
    assert listings(documents) == indexed_cells(documents) and len(listings(documents)) == 16
    assert report.listed == sum(map(len, indexed_cells(documents).values()))
    # a second run writes nothing
    versions = dict(documents.versions)
    again = backfill_sky_index(documents, page_size=6)
    assert again.indexed == {} and again.unchanged == 16 and again.without_pointing == 4
    assert again.listed == 0 and again.cells_read > 0
    assert documents.versions == versions
    # the mount indexes are re-planned from themselves; the four without frames read none
    assert report.images_read > 0 and again.images_read == 0


def test_a_dry_run_counts_and_writes_nothing():
    seed = seed_records()
    documents = seeded(seed, timestamps=True)
    versions = dict(documents.versions)
    report = backfill_sky_index(documents, dry_run=True)
    assert report.dry_run and report.indexed == {"solved": 1, "mount": 15}
    assert report.listed > 0 and report.cells_read > 0
    assert documents.versions == versions


class RecordingQueries(CountingDocuments):
    def __init__(self) -> None:
        super().__init__()
        self.limits: list[tuple[str, int | None]] = []

    def query(self, collection, filters=(), **options):
        self.limits.append((collection, options.get("limit")))
        return super().query(collection, filters, **options)


def test_the_backfill_reads_in_bounded_pages_and_stops_at_its_limit():
    documents = RecordingQueries()
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    for n in range(23):
        sequence_id = f"PAN001_14d3bd_2020010{n % 5}T0000{n:02d}"
        documents.merge(OBSERVATIONS, sequence_id, {"time": t0 + timedelta(minutes=n % 7)})
        documents.merge(
            IMAGES,
            f"{sequence_id}_img",
            {"sequence_id": sequence_id, "time": t0, "ra_mnt": 10.0 + n, "dec_mnt": -20.0},
        )
    report = backfill_sky_index(documents, page_size=5)
    assert report.observations_read == 23 and report.pages == 5 and report.indexed == {"mount": 23}
    observation_pages = [limit for c, limit in documents.limits if c == OBSERVATIONS]
    assert observation_pages == [5, 5, 5, 5, 5]
    assert all(limit == 3 for c, limit in documents.limits if c == IMAGES)
    documents.limits.clear()
    limited = backfill_sky_index(documents, page_size=5, limit=7)
    assert limited.observations_read == 7 and limited.unchanged == 7
    assert [limit for c, limit in documents.limits if c == OBSERVATIONS] == [5, 2]


class RacingSolve(MemoryDocuments):
    """plate-solve solves an observation between the backfill's read and its batch."""

    def __init__(self, sequence_id: str) -> None:
        super().__init__()
        self.sequence_id = sequence_id
        self.raced = False

    def commit(self, writes):
        if not self.raced and any(w.doc_id == self.sequence_id for w in writes):
            self.raced = True
            solved = {"ra": 100.0, "dec": -5.0, **sky_fields(100.0, -5.0, "solved", radius=1.5)}
            held = self.get(OBSERVATIONS, self.sequence_id).get("sky_cells") or []
            super().commit(  # as plate-solve writes it: the cells move in the same batch
                [
                    DocWrite(OBSERVATIONS, self.sequence_id, solved, must_exist=True),
                    *move_id(SKY_CELLS, self.sequence_id, held, solved["sky_cells"]),
                ]
            )
        return super().commit(writes)


def test_a_solve_during_the_backfill_keeps_its_solved_index():
    documents = RacingSolve("PAN001_14d3bd_20200101T000001")
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    for n in range(3):
        sequence_id = f"PAN001_14d3bd_20200101T00000{n}"
        documents.merge(OBSERVATIONS, sequence_id, {"time": t0, "ra": None, "dec": None})
        documents.merge(
            IMAGES,
            f"{sequence_id}_a",
            {"sequence_id": sequence_id, "time": t0, "ra_mnt": 1.0 + n, "dec_mnt": 2.0},
        )
    report = backfill_sky_index(documents)
    assert documents.raced and report.conflicts == 1
    solved = documents.get(OBSERVATIONS, "PAN001_14d3bd_20200101T000001")
    assert solved["sky_source"] == "solved" and solved["sky_ra"] == 100.0
    assert solved["sky_radius"] == 1.5  # the radius plate-solve measured is kept
    others = [documents.get(OBSERVATIONS, f"PAN001_14d3bd_20200101T00000{n}") for n in (0, 2)]
    assert [o["sky_ra"] for o in others] == [1.0, 3.0]
    assert all(o["sky_source"] == "mount" for o in others)
    assert report.indexed == {"mount": 2} and report.unchanged == 1
    assert listings(documents) == indexed_cells(documents) and len(listings(documents)) == 3


def test_a_solution_replaces_a_mount_index():
    doc = {"ra": None, "dec": None, **sky_fields(5.0, 6.0, SkySource.MOUNT)}
    assert planned_sky_fields(doc) == sky_fields(5.0, 6.0, SkySource.MOUNT)  # no image read
    doc.update(ra=5.5, dec=6.5)
    assert planned_sky_fields(doc) == sky_fields(5.5, 6.5, SkySource.SOLVED)
    assert planned_sky_fields({"ra": "7.25", "dec": "-1"}) == sky_fields(7.25, -1.0, "solved")
    assert planned_sky_fields({"ra": None}, mount=(1.0, 2.0)) == sky_fields(1.0, 2.0, "mount")
    assert planned_sky_fields({"ra": None}) is None


@pytest.mark.parametrize("options", [{"page_size": 0}, {"page_size": 501}, {"limit": 0}])
def test_bad_backfill_options(options):
    with pytest.raises(ValueError):
        backfill_sky_index(MemoryDocuments(), **options)


# --- the sky cells key index ------------------------------------------------------------

T0 = datetime(2020, 1, 1, tzinfo=UTC)


def indexed_before_the_key_index(documents: MemoryDocuments, count: int) -> list[str]:
    """Observations with a right sky index that no cell document lists, spread over the sky."""
    ids = []
    for n in range(count):
        sequence_id = f"PAN{n % 7 + 1:03d}_14d3bd_20200101T{n // 60:02d}{n % 60:02d}00"
        ra, dec = (n * 37.0) % 360.0, -80.0 + (n * 13.0) % 160.0
        source = SkySource.SOLVED if n % 2 else SkySource.MOUNT
        fields = sky_fields(ra, dec, source)
        solution = {"ra": ra, "dec": dec} if source == SkySource.SOLVED else {}
        documents.merge(OBSERVATIONS, sequence_id, {"time": T0, **fields, **solution})
        ids.append(sequence_id)
    return ids


class Batches(CountingDocuments):
    """Keeps the writes of every committed batch, and the sizes of the batch reads."""

    def __init__(self) -> None:
        super().__init__()
        self.committed: list[list[DocWrite]] = []
        self.reads_of: list[int] = []

    def read(self, keys):
        self.reads_of.append(len(keys))
        return super().read(keys)

    def commit(self, writes):
        super().commit(writes)
        self.committed.append(list(writes))


def test_observations_indexed_before_the_key_index_are_listed_once():
    documents = Batches()
    ids = indexed_before_the_key_index(documents, 40)
    assert listings(documents) == {}
    report = backfill_sky_index(documents, page_size=25)
    assert report.indexed == {} and report.unchanged == 40 and report.without_pointing == 0
    assert listings(documents) == indexed_cells(documents) and set(listings(documents)) == set(ids)
    assert report.listed == sum(map(len, indexed_cells(documents).values()))
    # one batch read of the cells per page, each cell once, of the two orders' 3,840 at most
    assert report.cells_read <= 2 * (768 + 3072) and report.pages == 2
    # the fields themselves were not changed, only guarded
    for batch in documents.committed:
        for write in batch:
            if write.collection == OBSERVATIONS:
                assert set(write.fields) == {"sky_source"} and write.expected_version is not None
    # a second run reads the cells again and writes nothing
    versions, batches = dict(documents.versions), len(documents.committed)
    again = backfill_sky_index(documents, page_size=25)
    assert again.listed == 0 and again.unchanged == 40 and again.cells_read == report.cells_read
    assert documents.versions == versions and len(documents.committed) == batches


def test_only_the_missing_listings_are_written():
    documents = Batches()
    ids = indexed_before_the_key_index(documents, 6)
    listed_already = {}
    for n, sequence_id in enumerate(ids[:4]):  # some listed under every cell, some under a few
        cells = documents.get(OBSERVATIONS, sequence_id)["sky_cells"]
        listed_already[sequence_id] = cells if n < 2 else cells[: len(cells) // 2]
        documents.commit(move_id(SKY_CELLS, sequence_id, [], listed_already[sequence_id]))
    documents.committed.clear()
    expected = sum(len(c) for c in indexed_cells(documents).values()) - sum(
        len(c) for c in listed_already.values()
    )
    report = backfill_sky_index(documents)
    assert report.listed == expected and report.unchanged == 6
    added = [
        (write.doc_id, sequence_id)
        for batch in documents.committed
        for write in batch
        if write.collection == SKY_CELLS
        for sequence_id in write.array_union.get(IDS, [])
    ]
    assert len(added) == len(set(added)) == expected  # nothing listed twice, no remove
    assert not {i for _, i in added} & set(ids[:2])  # the complete ones are not touched
    observations_written = {
        w.doc_id for batch in documents.committed for w in batch if w.collection == OBSERVATIONS
    }
    assert observations_written == set(ids[2:])
    assert listings(documents) == indexed_cells(documents)


def test_a_page_is_written_in_batches_of_at_most_500_writes():
    documents = Batches()
    ids = indexed_before_the_key_index(documents, 200)
    report = backfill_sky_index(documents, page_size=200)
    assert report.pages == 1 and len(documents.committed) > 1
    assert all(len(batch) <= MAX_BATCH_WRITES for batch in documents.committed)
    for sequence_id in ids:  # an observation's guard and all its listings share one batch
        (batch,) = [b for b in documents.committed if any(w.doc_id == sequence_id for w in b)]
        joined = {
            int(w.doc_id)
            for w in batch
            if w.collection == SKY_CELLS and sequence_id in w.array_union.get(IDS, [])
        }
        assert joined == set(documents.get(OBSERVATIONS, sequence_id)["sky_cells"])
    for batch in documents.committed:  # one write per cell per batch
        cells = [w.doc_id for w in batch if w.collection == SKY_CELLS]
        assert len(cells) == len(set(cells))
    assert listings(documents) == indexed_cells(documents)
    assert documents.reads_of[0] == report.cells_read  # the page's cells in one batch read


def test_a_new_solution_moves_the_observation_to_its_cells():
    documents = MemoryDocuments()
    sequence_id = "PAN001_14d3bd_20200101T000000"
    mount = sky_fields(10.0, 20.0, SkySource.MOUNT)
    documents.merge(OBSERVATIONS, sequence_id, {"time": T0, "ra": None, "dec": None, **mount})
    documents.commit(move_id(SKY_CELLS, sequence_id, [], mount["sky_cells"]))
    # a solution recorded without its sky index (as plate-solve did before it wrote one)
    documents.merge(OBSERVATIONS, sequence_id, {"ra": 30.0, "dec": 25.0})
    report = backfill_sky_index(documents)
    assert report.indexed == {"solved": 1}
    solved = set(documents.get(OBSERVATIONS, sequence_id)["sky_cells"])
    assert solved == set(sky_fields(30.0, 25.0, SkySource.SOLVED)["sky_cells"])
    assert set(mount["sky_cells"]) - solved and solved - set(mount["sky_cells"])
    assert report.listed == len(solved - set(mount["sky_cells"]))  # only the new cells
    assert listings(documents) == {sequence_id: solved}
    for cell in set(mount["sky_cells"]) - solved:  # the cells left no longer list it
        assert documents.get(SKY_CELLS, str(cell))[IDS] == []


class SolveWhileListing(MemoryDocuments):
    """plate-solve moves an observation between the backfill's read and its listings."""

    def __init__(self, sequence_id: str) -> None:
        super().__init__()
        self.sequence_id = sequence_id
        self.raced = False

    def commit(self, writes):
        if not self.raced and any(w.doc_id == self.sequence_id for w in writes):
            self.raced = True
            held = self.get(OBSERVATIONS, self.sequence_id)["sky_cells"]
            solved = {"ra": 200.0, "dec": 50.0, **sky_fields(200.0, 50.0, "solved", radius=2.0)}
            super().commit(
                [
                    DocWrite(OBSERVATIONS, self.sequence_id, solved, must_exist=True),
                    *move_id(SKY_CELLS, self.sequence_id, held, solved["sky_cells"]),
                ]
            )
        return super().commit(writes)


def test_a_solve_during_the_repair_of_the_listings_leaves_them_right():
    documents = SolveWhileListing("PAN001_14d3bd_20200101T000000")
    ids = indexed_before_the_key_index(documents, 3)
    assert ids[0] == documents.sequence_id
    report = backfill_sky_index(documents)
    assert documents.raced and report.conflicts == 1
    solved = documents.get(OBSERVATIONS, documents.sequence_id)
    assert (solved["sky_ra"], solved["sky_radius"]) == (200.0, 2.0)  # the solution stands
    # never listed under the mount cells it left, listed under every solved one
    assert listings(documents) == indexed_cells(documents) and len(listings(documents)) == 3
    assert report.unchanged == 3 and report.indexed == {}
