"""plate-solve keeps the sky cells key index in agreement with the observation's sky index.

Replayed solver runs (no ``solve-field`` is run) on the in-memory fakes. The reference is the
observation document itself: after every step, the cell documents that list the observation
are exactly the cells of its ``sky_cells``.
"""

from __future__ import annotations

from astropy.io import fits

from panoptes_network.astrometry.plate_solve import PlateSolver, _update_documents, plate_solve
from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.compression import compress_frame
from panoptes_network.frames.sky_index import SkySource, sky_fields
from panoptes_network.ingest.record import record_image
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.key_index import IDS
from panoptes_network.pipeline.schema import IMAGES, OBSERVATIONS, SKY_CELLS
from panoptes_network.pipeline.settings import Settings
from tests.unit.fakes import MemoryDocuments, ReplayRunner
from tests.unit.frame_files import unit_frame

S = Settings()
SEQUENCE_ID = "PAN001_14d3bd_20180216T110623"
FRAMES = {
    "A": "PAN001/14d3bd/20180216T110623/20180216T112430.fits.fz",
    "B": "PAN001/14d3bd/20180216T110623/20180216T112700.fits.fz",
}
SHAPE = (256, 384)  # rows, columns of the raw frame
MOUNT = (10.0, 37.5)  # the mount's position, far from where the frames point
SOLVED = (40.5, 37.5)  # where frame A's solution puts it


def frame_solution(ra: float, dec: float) -> fits.Header:
    """A TAN WCS of the frame's pixels: 10.3 arcsec each, centred on (ra, dec)."""
    header = fits.Header()
    header["WCSAXES"] = 2
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    header["CRVAL1"], header["CRVAL2"] = ra, dec
    header["CRPIX1"], header["CRPIX2"] = SHAPE[1] / 2 + 0.5, SHAPE[0] / 2 + 0.5
    header["CD1_1"], header["CD1_2"] = -10.3 / 3600, 0.0
    header["CD2_1"], header["CD2_2"] = 0.0, 10.3 / 3600
    return header


def solver_at(ra: float, dec: float) -> PlateSolver:
    return PlateSolver(runner=ReplayRunner(frame_solution(ra, dec)), min_stars=0, background_box=32)


def recorded(ctx: ChainContext, frame: str = "A", mount=MOUNT) -> StoredObject:
    """Store and record a frame (its mount position in the header, or none)."""
    name = FRAMES[frame]
    moment = name.rsplit("/", 1)[1].removesuffix(".fits.fz")
    cards = {
        "DATE-OBS": f"{moment[:4]}-{moment[4:6]}-{moment[6:8]}T{moment[9:11]}:"
        f"{moment[11:13]}:{moment[13:15]}",
        "IMAGEID": f"PAN001_14d3bd_{moment}",
        "RA-MNT": mount[0] if mount else None,
        "DEC-MNT": mount[1] if mount else None,
    }
    ctx.store.put(S.images_bucket, name, compress_frame(unit_frame(SHAPE, stars=12, **cards)).data)
    obj = StoredObject(S.images_bucket, name)
    assert record_image(ctx, obj).action == "recorded"
    return obj


def cells_listing(documents: MemoryDocuments, sequence_id: str = SEQUENCE_ID) -> set[int]:
    """The cells whose key index document lists the observation."""
    return {
        int(cell)
        for (collection, cell), doc in documents.docs.items()
        if collection == SKY_CELLS and sequence_id in doc.get(IDS, [])
    }


def observation_cells(documents: MemoryDocuments) -> set[int]:
    return set(documents.get(OBSERVATIONS, SEQUENCE_ID).get("sky_cells", []))


class RecordingDocuments(MemoryDocuments):
    """Keeps every committed batch, as the list of its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.committed: list[list] = []

    def commit(self, writes):
        super().commit(writes)
        self.committed.append(list(writes))


def test_a_solution_moves_the_observation_from_the_mount_cells_to_the_solved_ones(make_ctx):
    documents = RecordingDocuments()
    ctx = make_ctx(documents=documents, service="plate-solve")
    obj = recorded(ctx)
    mount_cells = observation_cells(documents)
    assert mount_cells == set(sky_fields(*MOUNT, SkySource.MOUNT)["sky_cells"])
    assert cells_listing(documents) == mount_cells  # record-image listed it
    documents.committed.clear()
    assert plate_solve(ctx, obj, solver_at(*SOLVED)).action == "solved"
    solved_cells = observation_cells(documents)
    assert documents.get(OBSERVATIONS, SEQUENCE_ID)["sky_source"] == "solved"
    assert solved_cells - mount_cells and mount_cells - solved_cells  # cells left and joined
    assert cells_listing(documents) == solved_cells
    for cell in mount_cells - solved_cells:  # the documents stay, without the observation
        assert SEQUENCE_ID not in documents.get(SKY_CELLS, str(cell))[IDS]
    # in the very batch that writes the observation's sky index
    (batch,) = [b for b in documents.committed if any(w.collection == SKY_CELLS for w in b)]
    assert any(w.collection == OBSERVATIONS and "sky_cells" in w.fields for w in batch)
    assert any(w.collection == IMAGES for w in batch)


def test_an_observation_without_a_mount_position_joins_its_solved_cells(make_ctx):
    ctx = make_ctx(service="plate-solve")
    obj = recorded(ctx, mount=None)
    assert "sky_cells" not in ctx.documents.get(OBSERVATIONS, SEQUENCE_ID)
    assert cells_listing(ctx.documents) == set()
    assert plate_solve(ctx, obj, solver_at(*SOLVED)).action == "solved"
    assert cells_listing(ctx.documents) == observation_cells(ctx.documents) != set()


class RacingSolve(MemoryDocuments):
    """Frame B's solve lands between frame A's read and its batch."""

    def __init__(self) -> None:
        super().__init__()
        self.race = None  # set to a callable that makes B's writes

    def commit(self, writes):
        if self.race is not None and any(w.collection == OBSERVATIONS for w in writes):
            race, self.race = self.race, None
            race()
        return super().commit(writes)


def test_a_lost_race_moves_no_cells(make_ctx):
    documents = RacingSolve()
    ctx = make_ctx(documents=documents, service="plate-solve")
    obj = recorded(ctx, "A")
    recorded(ctx, "B")
    other = (60.0, 20.0)
    b_fields = {"ra": other[0], "dec": other[1], **sky_fields(*other, SkySource.SOLVED)}

    def solve_b() -> None:
        path = ImagePath.parse(FRAMES["B"])
        assert _update_documents(ctx, path, {"solved": True, "status": "solved"}, b_fields)

    documents.race = solve_b
    assert plate_solve(ctx, obj, solver_at(*SOLVED)).action == "solved"
    assert documents.conflicts == 1 and documents.race is None
    observation = documents.get(OBSERVATIONS, SEQUENCE_ID)
    assert (observation["sky_ra"], observation["sky_dec"]) == other  # B's solution stands
    assert cells_listing(documents) == set(b_fields["sky_cells"]) == observation_cells(documents)
    assert documents.get(IMAGES, "PAN001_14d3bd_20180216T112430")["solved"] is True


def test_a_frame_solved_already_writes_nothing(make_ctx):
    ctx = make_ctx(service="plate-solve")
    recorded(ctx)
    path = ImagePath.parse(FRAMES["A"])
    first = {"ra": SOLVED[0], "dec": SOLVED[1], **sky_fields(*SOLVED, SkySource.SOLVED)}
    assert _update_documents(ctx, path, {"solved": True}, first)
    versions = dict(ctx.documents.versions)
    again = {"ra": 1.0, "dec": 2.0, **sky_fields(1.0, 2.0, SkySource.SOLVED)}
    assert _update_documents(ctx, path, {"solved": True}, again) is False
    assert ctx.documents.versions == versions
    assert cells_listing(ctx.documents) == set(first["sky_cells"])


def test_a_second_solved_frame_leaves_the_index_as_it_is(make_ctx):
    ctx = make_ctx(service="plate-solve")
    recorded(ctx, "A")
    recorded(ctx, "B")
    first = {"ra": SOLVED[0], "dec": SOLVED[1], **sky_fields(*SOLVED, SkySource.SOLVED)}
    assert _update_documents(ctx, ImagePath.parse(FRAMES["A"]), {"solved": True}, first)
    before = {k: v for k, v in ctx.documents.docs.items() if k[0] == SKY_CELLS}
    second = {"ra": 1.0, "dec": 2.0, **sky_fields(1.0, 2.0, SkySource.SOLVED)}
    assert _update_documents(ctx, ImagePath.parse(FRAMES["B"]), {"solved": True}, second)
    assert {k: v for k, v in ctx.documents.docs.items() if k[0] == SKY_CELLS} == before
    assert (
        cells_listing(ctx.documents) == set(first["sky_cells"]) == observation_cells(ctx.documents)
    )
