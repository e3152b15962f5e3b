"""Failures become ExplorerError with the API's message, its status and the URL asked.

Transient faults (503, refused connections, reads that time out) are retried a bounded
number of times; answers about the request (400, 404) are not.
"""

from __future__ import annotations

import socket
import time

import pytest
from google.api_core import exceptions as google_errors

from panoptes_network.adapters.explorer_web import create_app
from panoptes_network.client import Client, ExplorerError
from tests.unit.client.servers import FileServer, free_port, serve_wsgi
from tests.unit.explorer.network import SETTINGS, build_network
from tests.unit.fakes import MemoryDocuments


class FlakyDocuments(MemoryDocuments):
    """A store whose first ``failures`` queries fail as an unavailable Firestore does."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0

    def query(self, *args, **kwargs):
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise google_errors.ServiceUnavailable("firestore is down")
        return super().query(*args, **kwargs)


def test_a_bad_parameter_is_the_apis_400_message(client: Client):
    with pytest.raises(ExplorerError) as caught:
        client.search_observations(min_images=2_000_000)
    error = caught.value
    assert error.status == 400
    assert error.message == "min_images: must be a whole number from 0 to 1000000, not '2000000'"
    assert error.url.startswith(f"{client.base_url}/api/v1/observations?")
    assert "min_images=2000000" in error.url
    assert str(error) == f"{error.message} (HTTP 400 from {error.url})"


def test_an_unknown_observation_is_the_apis_404_message(client: Client, tmp_path):
    with pytest.raises(ExplorerError) as caught:
        client.download("PAN001_14d3bd_20000101T000000", to=tmp_path, progress=False)
    assert caught.value.status == 404
    assert "no observation 'PAN001_14d3bd_20000101T000000'" in caught.value.message
    assert list(tmp_path.iterdir()) == []  # nothing made for it


def test_503_is_retried_then_answers():
    documents = FlakyDocuments(failures=2)
    build_network(documents)
    with serve_wsgi(create_app(documents=documents, settings=SETTINGS)) as url:
        found = Client(url, retries=3, backoff=0).search_observations()
    assert documents.failures == 0 and documents.calls == 3  # two 503s, then the answer
    assert len(found) == 4


def test_503_every_time_gives_up_after_the_retries_with_the_apis_message():
    documents = FlakyDocuments(failures=100)
    with serve_wsgi(create_app(documents=documents, settings=SETTINGS)) as url:
        with pytest.raises(ExplorerError) as caught:
            Client(url, retries=2, backoff=0).search_observations()
    assert documents.calls == 3  # the request and two retries, no more
    assert caught.value.status == 503
    assert caught.value.message == "the document store did not answer; try again shortly"


def test_a_refused_connection_names_the_url_and_how_to_start_the_explorer():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ExplorerError) as caught:
        Client(url, retries=1, backoff=0).search_observations()
    error = caught.value
    assert error.status is None
    assert f"cannot reach the Data Explorer at {url} (connection refused)" in error.message
    assert "bin/dev up" in error.message and "PANOPTES_EXPLORER_URL" in error.message


def test_a_server_that_never_answers_times_out():
    with socket.socket() as listening:  # accepts connections (the backlog), never answers
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(ExplorerError) as caught:
            Client(url, timeout=0.3, retries=3, backoff=0).search_observations()
        elapsed = time.monotonic() - start
    assert caught.value.status is None
    assert caught.value.message.startswith(f"no answer from {url}/api/v1/observations?")
    assert caught.value.message.endswith("within 0.3 s")
    assert elapsed < 3  # one read retry at most, not one per connection retry


def test_a_server_that_is_not_the_explorer_says_so(files: FileServer):
    files.files["/api/v1/observations?limit=200"] = b"<html>a web page</html>"
    with pytest.raises(ExplorerError) as caught:
        Client(files.url(""), backoff=0).search_observations()
    assert "is not a JSON object" in caught.value.message
    assert "the PANOPTES Data Explorer" in caught.value.message
    with pytest.raises(ExplorerError) as caught:
        Client(files.url(""), backoff=0).get_frames("PAN001_14d3bd_20180216T110623")
    assert caught.value.status == 404
    assert caught.value.message == "404 Not Found: no such file"  # not JSON: status and text


@pytest.mark.parametrize("url", ["ftp://example.org", "127.0.0.1:8103", ""])
def test_a_base_url_that_is_not_http_is_refused(url, monkeypatch):
    monkeypatch.setenv("PANOPTES_EXPLORER_URL", url or "file:///tmp")
    with pytest.raises(ValueError, match="must start with http:// or https://"):
        Client(url or None)


def test_the_base_url_comes_from_the_environment_else_the_local_explorer(monkeypatch):
    monkeypatch.setenv("PANOPTES_EXPLORER_URL", "https://explorer.example.org/")
    assert Client().base_url == "https://explorer.example.org"
    assert Client("http://elsewhere:1").base_url == "http://elsewhere:1"
    monkeypatch.delenv("PANOPTES_EXPLORER_URL")
    assert Client().base_url == "http://127.0.0.1:8103"
