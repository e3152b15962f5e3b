"""Fixtures of the client's tests: the real Data Explorer over HTTP, and a file server.

The explorer is the real Flask app on the explorer tests' small network of real records
(:mod:`tests.unit.explorer.network`), served by werkzeug in a thread; the frames, previews
and run file of one observation point at :class:`~tests.unit.client.servers.FileServer`.

- :func:`sky`: the same network with the sky index of each observation at a known pointing
  (:data:`POINTINGS`), for name and cone searches;
- :func:`star`: the explorer serving one star's light curves across three runs
  (:mod:`tests.unit.explorer.star_records`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from panoptes_network.adapters.explorer_web import create_app
from panoptes_network.client import Client
from panoptes_network.frames.sky_index import SkySource, sky_fields
from panoptes_network.pipeline.key_index import move_id
from panoptes_network.pipeline.schema import (
    IMAGES,
    OBSERVATIONS,
    PROCESSED_OBSERVATIONS,
    SKY_CELLS,
)
from tests.unit.client.servers import FileServer, recorded, serve_wsgi
from tests.unit.explorer.network import (
    RUN_ID,
    SEQUENCES,
    SETTINGS,
    SOLVED_SEQUENCE,
    build_network,
)
from tests.unit.explorer.star_records import FLAGGED_RUN, RUNS, build_star
from tests.unit.fakes import MemoryDocuments, MemoryStore

#: The pointing each observation's sky index holds, sequence id -> (ra, dec, source), deg:
#: the solved observation at its plate solution, PAN012's placed (solved) near M 42, the other
#: two at their first frame's mount position (RA-MNT, DEC-MNT of the records).
POINTINGS: dict[str, tuple[float, float, str]] = {
    SOLVED_SEQUENCE: (40.62, 37.41, SkySource.SOLVED),
    "PAN001_ee04d1_20180216T110623": (40.5, 37.5, SkySource.MOUNT),
    "PAN001_14d3bd_20180217T104500": (40.5, 37.5, SkySource.MOUNT),
    "PAN012_95cdbc_20191025T075751": (84.1, -5.6, SkySource.SOLVED),
}
#: (path, query parameters) of each request an explorer got, in order.
RequestLog = list[tuple[str, dict[str, str]]]


@dataclass
class Network:
    """The seeded store and what its one observation's files hold, by the names they get."""

    documents: MemoryDocuments
    fits: dict[str, bytes]  # <image_id>.fits.fz -> bytes, in time order
    previews: dict[str, bytes]  # <image_id>.jpg -> bytes (two frames of three have one)
    runs: dict[str, bytes]  # <run_id>.parquet -> bytes
    paths: dict[str, str]  # file name -> its path on the file server


@pytest.fixture
def files() -> Iterator[FileServer]:
    with FileServer() as server:
        yield server


@pytest.fixture
def network(files: FileServer) -> Network:
    documents = MemoryDocuments()
    ids = build_network(documents)
    frames = sorted(
        image_id
        for image_id in ids["images"]
        if documents.get(IMAGES, image_id)["sequence_id"] == SOLVED_SEQUENCE
    )
    assert len(frames) == 3  # as tests.unit.explorer.network.SEQUENCES has it
    rng = np.random.default_rng(7)
    seeded = Network(documents, {}, {}, {}, {})

    def serve(name: str, path: str, size: int) -> tuple[str, bytes]:
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        files.files[path] = data
        seeded.paths[name] = path
        return files.url(path), data

    for index, image_id in enumerate(frames):
        bucket_path = documents.get(IMAGES, image_id)["bucket_path"]
        name = f"{image_id}.fits.fz"
        url, seeded.fits[name] = serve(name, f"/images/{bucket_path}", 150_000 + 7_919 * index)
        fields = {"public_url": url}
        if index < 2:
            name = f"{image_id}.jpg"
            url, seeded.previews[name] = serve(name, f"/previews/{image_id}.jpg", 20_000 + index)
            fields["preview_url"] = url
        documents.merge(IMAGES, image_id, fields)
    name = f"{RUN_ID}.parquet"
    url, seeded.runs[name] = serve(name, f"/lightcurves/{RUN_ID}/lightcurves.parquet", 5_000)
    documents.merge(PROCESSED_OBSERVATIONS, RUN_ID, {"data_url": url})
    return seeded


@pytest.fixture
def explorer(network: Network) -> Iterator[str]:
    """The base URL of the real explorer app serving :func:`network`."""
    with serve_wsgi(create_app(documents=network.documents, settings=SETTINGS)) as url:
        yield url


@pytest.fixture
def client(explorer: str) -> Iterator[Client]:
    with Client(explorer, timeout=10, backoff=0) as made:
        yield made


@dataclass
class Served:
    """A real explorer over HTTP, a client of it, and the requests it got."""

    url: str
    client: Client
    asked: RequestLog


@pytest.fixture
def sky(network: Network) -> Iterator[Served]:
    """The explorer on :func:`network`, each observation indexed at its :data:`POINTINGS`."""
    assert set(POINTINGS) == {f"{u}_{c}_{start}" for u, c, start, _, _ in SEQUENCES}
    for sequence_id, (ra, dec, source) in POINTINGS.items():
        fields = sky_fields(ra, dec, source)
        if source == SkySource.SOLVED:  # as plate-solve writes its solution with the index
            fields.update(ra=ra, dec=dec)
        held = network.documents.get(OBSERVATIONS, sequence_id).get("sky_cells") or []
        network.documents.merge(OBSERVATIONS, sequence_id, fields)
        # and its listing under the cells, moved in the sky cells key index
        network.documents.commit(move_id(SKY_CELLS, sequence_id, held, fields["sky_cells"]))
        doc = network.documents.get(OBSERVATIONS, sequence_id)
        assert (doc["sky_ra"], doc["sky_dec"], doc["sky_source"]) == (ra, dec, source)
    asked: RequestLog = []
    app = create_app(documents=network.documents, settings=SETTINGS)
    with serve_wsgi(recorded(app, asked)) as url, Client(url, backoff=0) as made:
        yield Served(url, made, asked)


@dataclass
class Star(Served):
    """The explorer serving :mod:`tests.unit.explorer.star_records`' star."""

    run_ids: list[str]  # the star's runs, in the order of its RUNS


def sequence_of(run_id: str) -> str:
    """The observation of a processing run (``<sequence_id>_<run time>``)."""
    return "_".join(run_id.split("_")[:3])


@pytest.fixture
def star() -> Iterator[Star]:
    documents, store = MemoryDocuments(), MemoryStore()
    records = build_star(documents, store)
    run_ids = [lcid.split("_", 1)[1] for lcid in records["lcids"]]
    assert len(run_ids) == len(RUNS)
    assert records["flagged_sequence"] == sequence_of(run_ids[FLAGGED_RUN])
    asked: RequestLog = []
    app = create_app(documents=documents, settings=SETTINGS, objects=store)
    with serve_wsgi(recorded(app, asked)) as url, Client(url, backoff=0) as made:
        yield Star(url, made, asked, run_ids)
