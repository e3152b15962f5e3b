"""Files of an observation on disk: which ones a kind names, and a transfer that never lies.

A file is streamed to a temporary file beside its destination (``.<name>.<random>.part``)
and renamed to its name only once every byte the server announced has arrived, so a file
under its final name is always complete: an interrupted transfer leaves nothing under that
name (and removes its temporary file, unless the process is killed outright). A file already
on disk with the size the server announces (a ``HEAD`` request) is kept, not fetched again:
running a download again continues where it stopped. A transfer that breaks off is tried
again from the start, a bounded number of times.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from tqdm.auto import tqdm

from panoptes_network.client._http import request
from panoptes_network.client.errors import ExplorerError

__all__ = [
    "DOWNLOAD_KINDS",
    "RemoteFile",
    "fetch_all",
    "fetch_file",
    "observation_files",
    "safe_name",
]

#: What ``download`` can fetch of an observation, and where each comes from.
DOWNLOAD_KINDS: Mapping[str, str] = {
    "fits": "every frame's stored FITS file, fpack-compressed (.fits.fz; public_url)",
    "previews": "every frame's JPEG preview, for camera raw uploads (preview_url)",
    "lightcurves": "the light-curve Parquet file of each processing run (data_url; the "
    "newest 10 runs)",
}

#: Bytes read from the network at a time.
CHUNK_BYTES = 1 << 16
#: Ask for the stored bytes, never a compressed rendering of them: sizes must match.
_IDENTITY = {"Accept-Encoding": "identity"}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")
_SUFFIX = re.compile(r"(\.[A-Za-z0-9]{1,8}){1,3}")


@dataclass(frozen=True)
class RemoteFile:
    """A file to fetch and the name it gets on disk.

    Attributes
    ----------
    url : str
        Its public http(s) URL.
    name : str
        Its file name in the destination folder (no folder part).
    """

    url: str
    name: str


def safe_name(text: str) -> str:
    """Return ``text`` as a file name that stays in its folder and shows nowhere else.

    Parameters
    ----------
    text : str
        An id from the API (``PAN001_14d3bd_20180216T110653``).

    Returns
    -------
    str
        Letters, digits and ``_.+-`` only (others become ``_``), not starting with a dot.
    """
    name = _UNSAFE.sub("_", text).lstrip(".")
    return name or "_"


def _suffix(url: str, default: str) -> str:
    """Return the extension of the file a URL names (``.fits.fz``), else ``default``."""
    base = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
    _, dot, rest = base.partition(".")
    suffix = dot + rest
    return suffix if dot and _SUFFIX.fullmatch(suffix) else default


def _is_web_url(value: Any) -> bool:
    return isinstance(value, str) and value.lower().startswith(("https://", "http://"))


def observation_files(
    frames: Sequence[Mapping[str, Any]], runs: Sequence[Mapping[str, Any]], kind: str
) -> list[RemoteFile]:
    """Return the files of one kind of an observation, from its frames and runs.

    Parameters
    ----------
    frames : sequence of Mapping
        Every frame of the observation, as ``/api/v1/observations/<sequence_id>`` gives them
        (``image_id``, ``public_url``, ``preview_url``).
    runs : sequence of Mapping
        Its processing runs (``run_id``, ``data_url``).
    kind : str
        A key of :data:`DOWNLOAD_KINDS`.

    Returns
    -------
    list of RemoteFile
        In the API's order (frames in time order, runs newest first); frames or runs
        without such a file are left out. Frames are named ``<image_id>.fits.fz`` or
        ``<image_id>.jpg``, runs ``<run_id>.parquet`` (the extension from the URL when it
        has one).

    Raises
    ------
    ValueError
        For an unknown kind.
    """
    if kind not in DOWNLOAD_KINDS:
        raise ValueError(f"kind must be one of {', '.join(DOWNLOAD_KINDS)}, not {kind!r}")
    if kind == "lightcurves":
        items = [(run.get("run_id"), run.get("data_url"), ".parquet") for run in runs]
    else:
        field, default = ("public_url", ".fits.fz") if kind == "fits" else ("preview_url", ".jpg")
        items = [(frame.get("image_id"), frame.get(field), default) for frame in frames]
    files: list[RemoteFile] = []
    names: set[str] = set()
    for ident, url, default in items:
        if not _is_web_url(url):
            continue
        stem = safe_name(str(ident)) if ident else safe_name(Path(urlsplit(url).path).name)
        name = stem + _suffix(url, default)
        while name in names:  # two ids that differ only in characters made safe
            stem += "_"
            name = stem + _suffix(url, default)
        names.add(name)
        files.append(RemoteFile(url, name))
    return files


def _announced_size(response: requests.Response) -> int | None:
    """Return the size of the stored bytes an answer announces, or None when it does not."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    length = response.headers.get("Content-Length", "")
    if encoding not in ("", "identity") or not length.strip().isdigit():
        return None
    return int(length)


def _is_complete(session: requests.Session, remote: RemoteFile, path: Path, timeout: float) -> bool:
    """Whether ``path`` holds as many bytes as the server announces for the file."""
    if not path.is_file():
        return False
    try:
        response = request(session, "HEAD", remote.url, timeout=timeout, headers=_IDENTITY)
    except ExplorerError as exc:
        if exc.status is None:
            raise
        return False  # no HEAD here (405) or no answer about the size: fetch it again
    response.close()
    size = _announced_size(response)
    return size is not None and path.stat().st_size == size


class _BrokenOff(Exception):
    """A transfer ended before every announced byte arrived."""


def _transfer(
    session: requests.Session, remote: RemoteFile, path: Path, timeout: float, progress: bool
) -> None:
    response = request(session, "GET", remote.url, timeout=timeout, headers=_IDENTITY, stream=True)
    with response:
        expected = _announced_size(response)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".part"
        )
        try:
            with (
                os.fdopen(handle, "wb") as out,
                tqdm(
                    total=expected,
                    desc=path.name,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    leave=False,
                    disable=not progress,
                ) as bar,
            ):
                written = 0
                for chunk in response.iter_content(CHUNK_BYTES):
                    out.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
                out.flush()
                os.fsync(out.fileno())
            if expected is not None and written != expected:
                raise _BrokenOff(f"{written} of {expected} bytes arrived")
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def fetch_file(
    session: requests.Session,
    remote: RemoteFile,
    folder: Path,
    *,
    timeout: float,
    tries: int = 3,
    backoff: float = 0.5,
    progress: bool = False,
) -> Path:
    """Fetch one file into ``folder`` unless it is there complete already.

    Parameters
    ----------
    session : requests.Session
        With retries for connections and transient answers (see :mod:`._http`).
    remote : RemoteFile
        The file.
    folder : Path
        Where it goes (it must exist).
    timeout : float
        Seconds to connect, and between two reads.
    tries : int
        Transfers at most, when one breaks off after the answer began.
    backoff : float
        Seconds before the second transfer; doubled before each next one.
    progress : bool
        Show a progress bar over the file's bytes (tqdm, on stderr).

    Returns
    -------
    Path
        ``folder / remote.name``, complete.

    Raises
    ------
    ExplorerError
        For an error answer, no answer, or a transfer that broke off ``tries`` times;
        nothing is then left under the file's name.
    """
    path = folder / remote.name
    if _is_complete(session, remote, path, timeout):
        return path
    reason = ""
    for attempt in range(max(1, tries)):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            _transfer(session, remote, path, timeout, progress)
            return path
        except (requests.RequestException, _BrokenOff) as exc:
            reason = f"{type(exc).__name__}: {str(exc)[:160]}"
    raise ExplorerError(
        f"the transfer of {remote.name} broke off {max(1, tries)} times ({reason}); nothing "
        f"is kept under its name: run again to continue",
        url=remote.url,
    )


def fetch_all(
    session: requests.Session,
    files: Iterable[RemoteFile],
    folder: Path,
    *,
    timeout: float,
    tries: int = 3,
    backoff: float = 0.5,
    progress: bool = False,
    label: str = "files",
) -> list[Path]:
    """Fetch files into ``folder`` (made if missing), keeping those complete already.

    A file the server answers with an error (404, 403 ...) does not stop the others: they
    are fetched, then the first error is raised. No answer at all, or a transfer that keeps
    breaking off, stops at once. Either way, every file fetched so far stays.

    Parameters
    ----------
    session : requests.Session
        See :func:`fetch_file`.
    files : iterable of RemoteFile
        What to fetch.
    folder : Path
        The destination folder.
    timeout, tries, backoff : float, int, float
        See :func:`fetch_file`.
    progress : bool
        Show a progress bar over the files, and one over the bytes of each.
    label : str
        The files' bar's title.

    Returns
    -------
    list of Path
        Every file's path, in the order given.

    Raises
    ------
    ExplorerError
        See above; for errors answered, the message counts the files that failed.
    """
    files = list(files)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    failed: list[ExplorerError] = []
    with tqdm(total=len(files), desc=label, unit="file", disable=not progress) as bar:
        for remote in files:
            try:
                paths.append(
                    fetch_file(
                        session,
                        remote,
                        folder,
                        timeout=timeout,
                        tries=tries,
                        backoff=backoff,
                        progress=progress,
                    )
                )
            except ExplorerError as exc:
                if exc.status is None:
                    raise
                failed.append(exc)
            bar.update(1)
    if failed:
        first = failed[0]
        raise ExplorerError(
            f"{len(failed)} of {len(files)} files could not be fetched (the others are in "
            f"{folder}); the first: {first.message}",
            url=first.url,
            status=first.status,
        )
    return paths
