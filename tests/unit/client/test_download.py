"""Client.download: files of an observation from their public URLs, complete or not at all.

The explorer is the real app; the files come from a local file server whose bytes are the
reference. A transfer that breaks off never leaves a file under its final name; a second
run fetches only what is missing or incomplete.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from panoptes_network.client import Client, ExplorerError
from panoptes_network.client.downloads import observation_files, safe_name
from tests.unit.client.conftest import Network
from tests.unit.client.servers import FileServer
from tests.unit.explorer.network import SOLVED_SEQUENCE


def folder_of(root: Path) -> Path:
    return root / SOLVED_SEQUENCE


def contents(folder: Path) -> dict[str, bytes]:
    """Every file in the folder, hidden ones (temporary files) included."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("kind", ["fits", "previews", "lightcurves"])
def test_downloads_every_file_of_a_kind(client: Client, network: Network, tmp_path, kind):
    expected = {"fits": network.fits, "previews": network.previews, "lightcurves": network.runs}
    assert expected[kind]  # the network serves files of this kind
    paths = client.download(SOLVED_SEQUENCE, kind, to=tmp_path, progress=False)
    assert [p.name for p in paths] == list(expected[kind])  # frames in time order
    assert all(p.parent == folder_of(tmp_path) for p in paths)
    assert contents(folder_of(tmp_path)) == expected[kind]


def test_frames_are_listed_across_pages(explorer: str, network: Network, tmp_path):
    client = Client(explorer, page_size=2, backoff=0)  # three frames: two pages
    assert len(client.get_frames(SOLVED_SEQUENCE)) == 3
    paths = client.download(SOLVED_SEQUENCE, "fits", to=tmp_path, progress=False)
    assert contents(folder_of(tmp_path)) == network.fits
    assert len(paths) == 3


def test_a_second_run_fetches_nothing_complete(
    client: Client, network: Network, files: FileServer, tmp_path
):
    first = client.download(SOLVED_SEQUENCE, "fits", to=tmp_path, progress=False)
    stamps = {p: p.stat().st_mtime_ns for p in first}
    gets = {name: files.count("GET", network.paths[name]) for name in network.fits}
    assert set(gets.values()) == {1}
    again = client.download(SOLVED_SEQUENCE, "fits", to=tmp_path, progress=False)
    assert again == first
    assert {p: p.stat().st_mtime_ns for p in again} == stamps  # not written again
    for name in network.fits:
        assert files.count("GET", network.paths[name]) == 1  # only a HEAD for its size
        assert files.count("HEAD", network.paths[name]) == 1


def test_an_incomplete_file_under_the_name_is_fetched_again(
    client: Client, network: Network, files: FileServer, tmp_path
):
    client.download(SOLVED_SEQUENCE, "fits", to=tmp_path, progress=False)
    damaged, kept = list(network.fits)[:2]
    path = folder_of(tmp_path) / damaged
    path.write_bytes(network.fits[damaged][:1000])  # e.g. copied by hand, cut short
    assert path.stat().st_size < len(network.fits[damaged])
    client.download(SOLVED_SEQUENCE, "fits", to=tmp_path, progress=False)
    assert contents(folder_of(tmp_path)) == network.fits
    assert files.count("GET", network.paths[damaged]) == 2
    assert files.count("GET", network.paths[kept]) == 1


def test_a_transfer_broken_off_every_time_leaves_nothing_under_its_name(
    explorer: str, network: Network, files: FileServer, tmp_path
):
    first, broken, last = list(network.fits)
    files.break_after[network.paths[broken]] = (100_000, 99)  # 100 kB of 158 kB, every time
    client = Client(explorer, retries=2, backoff=0)
    with pytest.raises(ExplorerError) as caught:
        client.download(SOLVED_SEQUENCE, "fits", to=tmp_path, progress=False)
    assert files.count("GET", network.paths[broken]) == 3  # tried, then twice more
    assert "broke off 3 times" in caught.value.message
    assert caught.value.url == files.url(network.paths[broken])
    # the file before it is complete; nothing of the broken one, not even a temporary file
    assert contents(folder_of(tmp_path)) == {first: network.fits[first]}
    del files.break_after[network.paths[broken]]  # the connection is good again
    client.download(SOLVED_SEQUENCE, "fits", to=tmp_path, progress=False)
    assert contents(folder_of(tmp_path)) == network.fits
    assert files.count("GET", network.paths[first]) == 1  # continued, not started over
    assert files.count("GET", network.paths[last]) == 1


def test_a_transfer_broken_off_once_is_tried_again(
    client: Client, network: Network, files: FileServer, tmp_path
):
    broken = list(network.fits)[1]
    files.break_after[network.paths[broken]] = (70_000, 1)
    client.download(SOLVED_SEQUENCE, "fits", to=tmp_path, progress=False)
    assert files.break_after[network.paths[broken]] == (70_000, 0)  # it did break off
    assert files.count("GET", network.paths[broken]) == 2
    assert contents(folder_of(tmp_path)) == network.fits


def test_a_missing_file_does_not_stop_the_others(
    client: Client, network: Network, files: FileServer, tmp_path
):
    missing = list(network.fits)[0]
    del files.files[network.paths[missing]]
    with pytest.raises(ExplorerError) as caught:
        client.download(SOLVED_SEQUENCE, "fits", to=tmp_path, progress=False)
    assert caught.value.status == 404
    assert caught.value.message.startswith("1 of 3 files could not be fetched")
    assert contents(folder_of(tmp_path)) == {
        name: data for name, data in network.fits.items() if name != missing
    }


def test_progress_bars_count_files_and_bytes(client: Client, network: Network, tmp_path, capsys):
    client.download(SOLVED_SEQUENCE, "fits", to=tmp_path, progress=True)
    err = capsys.readouterr().err
    assert f"{SOLVED_SEQUENCE} fits" in err and "3/3" in err
    client.download(SOLVED_SEQUENCE, "fits", to=tmp_path, progress=False)
    assert capsys.readouterr().err == ""


def test_an_unknown_kind_is_refused_before_any_request(tmp_path):
    nowhere = Client("http://127.0.0.1:9", retries=0)
    with pytest.raises(ValueError, match="kind must be one of fits, previews, lightcurves"):
        nowhere.download(SOLVED_SEQUENCE, "raw", to=tmp_path)


def test_names_from_the_api_stay_inside_the_folder():
    frames = [
        {"image_id": "../../etc/passwd", "public_url": "https://x.org/a/b.fits.fz"},
        {"image_id": "..", "public_url": "https://x.org/a/c.fits.fz"},
        {"image_id": "PAN001_a_1", "public_url": "javascript:alert(1)"},  # not fetched
        {"image_id": "PAN001_a_2", "public_url": None},
        {"image_id": "PAN001_a/3", "public_url": "https://x.org/a/d.weird;x"},
        {"image_id": "PAN001_a?3", "public_url": "https://x.org/a/e"},
    ]
    names = [f.name for f in observation_files(frames, [], "fits")]
    assert names == [
        "_.._etc_passwd.fits.fz",
        "_.fits.fz",
        "PAN001_a_3.fits.fz",
        "PAN001_a_3_.fits.fz",
    ]
    assert all("/" not in n and not n.startswith(".") for n in names)
    assert safe_name("PAN001_14d3bd_20180216T110653") == "PAN001_14d3bd_20180216T110653"
