"""Fixtures of the client's tests: the real Data Explorer over HTTP, and a file server.

The explorer is the real Flask app on the explorer tests' small network of real records
(:mod:`tests.unit.explorer.network`), served by werkzeug in a thread; the frames, previews
and run file of one observation point at :class:`~tests.unit.client.servers.FileServer`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from panoptes_network.adapters.explorer_web import create_app
from panoptes_network.client import Client
from panoptes_network.pipeline.schema import IMAGES, PROCESSED_OBSERVATIONS
from tests.unit.client.servers import FileServer, serve_wsgi
from tests.unit.explorer.network import RUN_ID, SETTINGS, SOLVED_SEQUENCE, build_network
from tests.unit.fakes import MemoryDocuments


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
