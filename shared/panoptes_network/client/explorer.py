"""The Data Explorer's JSON API as DataFrames and files: :class:`Client`, and shortcuts.

Every method reads the API at ``base_url`` (``$PANOPTES_EXPLORER_URL`` when set, else the
local stack's explorer, ``http://127.0.0.1:8103``): a search pages through
``/api/v1/observations`` by cursor; a star's points come from
``/api/v1/stars/<picid>/points.parquet``; a download lists an observation's files from
``/api/v1/observations/<sequence_id>`` and fetches them from their public URLs; the
analysis' detections page through ``/api/v1/analysis/candidates``, its coverage and
completeness come from ``/api/v1/analysis`` (:mod:`panoptes_network.client.analysis`).

Example::

    from panoptes_network.client import Client

    client = Client("https://explorer.example.org")
    found = client.search_observations(name="M42", radius=5, since="2020-01-01")
    points = client.get_lightcurves(261136679)
    paths = client.download(found.sequence_id[0], kind="fits", to="frames")
    transits = client.get_detections(kind="transit")  # most significant first
    hours = client.get_coverage("airmass")
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import requests

from panoptes_network.client._http import json_of, make_session, request
from panoptes_network.client.analysis import (
    COVERAGE_DIMENSIONS,
    DETECTION_KINDS,
    analysed_stars_frame,
    completeness_frame,
    coverage_frame,
    detections_frame,
)
from panoptes_network.client.downloads import (
    DOWNLOAD_KINDS,
    fetch_all,
    observation_files,
    safe_name,
)
from panoptes_network.client.errors import ExplorerError
from panoptes_network.client.observations import (
    frames_frame,
    observations_frame,
    search_parameters,
)
from panoptes_network.client.stars import picid_text, points_frame

__all__ = [
    "DEFAULT_MAX_ROWS",
    "DEFAULT_URL",
    "MAX_PAGE_SIZE",
    "URL_VARIABLE",
    "Client",
    "default_client",
    "download",
    "get_analysed_stars",
    "get_completeness",
    "get_coverage",
    "get_detections",
    "get_lightcurves",
    "get_star_detections",
    "search_observations",
]

#: The environment variable naming the explorer.
URL_VARIABLE = "PANOPTES_EXPLORER_URL"
#: The explorer of the local stack (``bin/dev up``).
DEFAULT_URL = "http://127.0.0.1:8103"
#: Most rows the API gives in one page.
MAX_PAGE_SIZE = 200
#: Most observations a search returns unless told otherwise.
DEFAULT_MAX_ROWS = 10_000
#: Most detections a listing returns unless told otherwise.
DEFAULT_DETECTIONS = 1_000
#: Where the JSON API is, under the base URL.
_API = "/api/v1"


def _whole_text(name: str, value: Any) -> str:
    """Return a whole number as the API's text; raise ValueError for anything else."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    return str(value)


class Client:
    """A connection to the PANOPTES Data Explorer's JSON API.

    One client holds one HTTP session (connections are reused): make it once and use it
    for every call. It can be used as a context manager, which closes the session.

    Parameters
    ----------
    base_url : str, optional
        The explorer, e.g. ``http://127.0.0.1:8103`` (without ``/api/v1``). Default:
        ``$PANOPTES_EXPLORER_URL`` when set, else :data:`DEFAULT_URL`.
    timeout : float
        Seconds to wait for a connection, and for each read of an answer.
    session : requests.Session, optional
        The session to use, as it is (its own retries, proxies, headers). Default: a new
        one that retries refused connections and the answers 429, 502, 503 and 504
        ``retries`` times with exponential backoff.
    retries : int
        Retries of one request for those transient faults; also how many times a file
        transfer that breaks off is tried in all.
    backoff : float
        Backoff factor, s: waits of 0, 2, 4 ... times it between retries.
    page_size : int
        Rows asked per page, 1 to :data:`MAX_PAGE_SIZE` (fewer means more requests).

    Attributes
    ----------
    base_url : str
        As used, without a trailing slash.
    timeout : float
        As given.
    session : requests.Session
        The session used.

    Raises
    ------
    ValueError
        For a base URL that is not http(s), or a page size out of range.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        timeout: float = 30.0,
        session: requests.Session | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        page_size: int = MAX_PAGE_SIZE,
    ):
        url = (base_url or os.environ.get(URL_VARIABLE) or DEFAULT_URL).strip()
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"the explorer's URL must start with http:// or https://: {url!r}")
        if isinstance(page_size, bool) or not isinstance(page_size, int):
            raise ValueError(f"page_size must be a whole number, not {page_size!r}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1 to {MAX_PAGE_SIZE}, not {page_size}")
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.base_url = url.rstrip("/")
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self.backoff = float(backoff)
        self.page_size = page_size
        self.session = session if session is not None else make_session(self.retries, backoff)

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session (its pooled connections)."""
        self.session.close()

    # --- the API ------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        return request(
            self.session,
            "GET",
            f"{self.base_url}{_API}/{path}",
            timeout=self.timeout,
            params=params,
            explorer=self.base_url,
        )

    def _get_json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._get(path, params)
        with response:
            return json_of(response, self.base_url)

    def _pages(
        self, path: str, params: dict[str, Any], cursor_field: str
    ) -> Iterator[dict[str, Any]]:
        """Yield the pages of a paged answer, following ``cursor_field`` until it is null."""
        cursor = None
        seen: set[str] = set()
        while True:
            page = self._get_json(path, {**params, **({"cursor": cursor} if cursor else {})})
            yield page
            cursor = page.get(cursor_field)
            if not cursor:
                return
            if not isinstance(cursor, str) or cursor in seen:
                raise ExplorerError(
                    f"the explorer gave back a cursor it gave before ({cursor_field}): "
                    "stopping rather than reading the same pages again",
                    url=f"{self.base_url}{_API}/{path}",
                )
            seen.add(cursor)

    def search_observations(
        self,
        name: str | None = None,
        *,
        ra: Any = None,
        dec: Any = None,
        radius: Any = None,
        unit: str | None = None,
        camera: str | None = None,
        status: str | None = None,
        since: Any = None,
        until: Any = None,
        min_images: int | None = None,
        order: str = "time",
        descending: bool = True,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> pd.DataFrame:
        """Return the observations that match, as a DataFrame.

        Reads ``/api/v1/observations`` page after page until the last one or ``max_rows``
        rows. Filters the API applies to the page it read rather than in its query (see
        ``after_read`` of the API) may make some pages short or empty; paging goes on.

        Parameters
        ----------
        name : str, optional
            Centre of a cone search by name: a target of the explorer's offline table of
            bright stars, Messier objects and exoplanet hosts (``M 42``, ``WASP-33``; case,
            spacing and punctuation do not matter), or coordinates as text
            (``"303.21 46.02"``). A name the table lacks is refused (400).
        ra, dec : float or astropy Quantity, optional
            Centre of a cone search, deg.
        radius : float or astropy Quantity, optional
            Radius of the cone, deg (0 to 10; the explorer's default, 2, when not given).
            An observation matches when its field (about 9 deg from centre to corner)
            meets the cone; ``distance_deg`` is the angle to its pointing.
        unit, camera, status : str, optional
            Only observations of that unit id (``PAN001``), camera id, or status.
        since, until : str, date, datetime or pandas.Timestamp, optional
            Only observations that started at or after ``since`` and before ``until``
            (a date alone: midnight UTC for ``since``, that whole day included for
            ``until``; naive times are UTC).
        min_images : int, optional
            Only observations with at least that many frames.
        order : str
            ``time`` (start) or ``num_images``.
        descending : bool
            Newest (largest) first.
        max_rows : int
            Most rows returned; paging stops there.

        Returns
        -------
        pandas.DataFrame
            One row per observation, in the order asked; the columns of
            :data:`~panoptes_network.client.observations.OBSERVATION_COLUMNS` (times as
            UTC datetimes; see :mod:`panoptes_network.client.observations`), even when no
            observation matches. ``attrs`` holds ``truncated`` (``max_rows`` stopped the
            paging while more may match), ``pages`` (requests made), ``filters`` (as the
            API applied them) and ``url`` (the first page's).

        Raises
        ------
        ValueError
            For a parameter of the wrong type (before any request).
        ExplorerError
            When the API refuses a parameter (its message names it), or does not answer.
        """
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise ValueError(f"max_rows must be a whole number of at least 1, not {max_rows!r}")
        query = search_parameters(
            name=name,
            ra=ra,
            dec=dec,
            radius=radius,
            unit=unit,
            camera=camera,
            status=status,
            since=since,
            until=until,
            min_images=min_images,
            order=order,
            descending=descending,
        )
        query["limit"] = str(min(self.page_size, max_rows))
        rows: list[dict[str, Any]] = []
        pages = 0
        truncated = False
        filters: Any = None
        for page in self._pages("observations", query, "next_cursor"):
            pages += 1
            found = page.get("observations")
            if not isinstance(found, list):
                raise ExplorerError(
                    "the answer has no list of observations", url=f"{self.base_url}{_API}"
                )
            filters = page.get("filters", filters)
            rows.extend(row for row in found if isinstance(row, dict))
            if len(rows) >= max_rows:
                truncated = len(rows) > max_rows or page.get("next_cursor") is not None
                rows = rows[:max_rows]
                break
        frame = observations_frame(rows)
        frame.attrs.update(
            truncated=truncated,
            pages=pages,
            filters=filters,
            url=requests.Request("GET", f"{self.base_url}{_API}/observations", params=query)
            .prepare()
            .url,
        )
        return frame

    def get_observation(self, sequence_id: str) -> dict[str, Any]:
        """Return one observation with every frame and its processing runs.

        Parameters
        ----------
        sequence_id : str
            The observation, ``<UNIT>_<CAMERA>_<SEQSTART>``.

        Returns
        -------
        dict
            The API's answer (``observation``, ``document``, ``runs`` ...) with ``frames``
            holding every page of frames.

        Raises
        ------
        ExplorerError
            404 for an unknown observation; or no answer.
        """
        detail, frames = self._observation(sequence_id, every_frame=True)
        return {**detail, "frames": frames, "frames_next_cursor": None}

    def get_frames(self, sequence_id: str) -> pd.DataFrame:
        """Return the frames of one observation as a DataFrame, in time order.

        Parameters
        ----------
        sequence_id : str
            The observation.

        Returns
        -------
        pandas.DataFrame
            The columns of :func:`~panoptes_network.client.observations.frames_frame`.

        Raises
        ------
        ExplorerError
            404 for an unknown observation; or no answer.
        """
        _, frames = self._observation(sequence_id, every_frame=True)
        return frames_frame(frames)

    def _observation(
        self, sequence_id: str, *, every_frame: bool
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if not isinstance(sequence_id, str) or not sequence_id.strip():
            raise ValueError(f"sequence_id must be text, not {sequence_id!r}")
        path = f"observations/{quote(sequence_id.strip(), safe='')}"
        params = {"limit": str(self.page_size if every_frame else 1)}
        first: dict[str, Any] | None = None
        frames: list[dict[str, Any]] = []
        for page in self._pages(path, params, "frames_next_cursor"):
            first = first or page
            frames.extend(f for f in page.get("frames") or [] if isinstance(f, dict))
            if not every_frame:
                break
        return first or {}, frames

    def get_star(self, picid: int | str) -> dict[str, Any]:
        """Return a star: its catalog entry, its light curves, and its points flags.

        Parameters
        ----------
        picid : int or str
            The star's PICID (TIC id).

        Returns
        -------
        dict
            The API's answer: ``picid``, ``catalog`` (``ra``, ``dec`` in deg, ``vmag``),
            ``units``, ``lightcurves`` (newest run first, at most 100: ``lcid``,
            ``sequence_id``, ``run_id``, ``unit_id``, ``camera_id``, ``num_points``,
            per colour statistics in ``colours``, and ``points`` for plotting, or None
            with ``points_note``), ``truncated`` and ``flags``. Every point, as a table:
            :meth:`get_lightcurves`.

        Raises
        ------
        ValueError
            For a picid that is not a whole number.
        ExplorerError
            404 for a star the network has no light curve of; or no answer.
        """
        return self._get_json(f"stars/{picid_text(picid)}")

    def get_lightcurves(self, picid: int | str) -> pd.DataFrame:
        """Return every light-curve point of a star, across processing runs.

        Parameters
        ----------
        picid : int or str
            The star's PICID (TIC id).

        Returns
        -------
        pandas.DataFrame
            One row per (run, frame): ``picid``, ``unit_id``, ``camera_id``,
            ``sequence_id``, ``run_id``, ``time`` (POSIX s, mid-exposure), ``time_utc``
            (UTC datetime), ``airmass``, ``flux_c``, ``flux_err_c`` and ``outlier_c`` per
            colour ``c`` of the run, and ``flagged`` (see
            :mod:`panoptes_network.client.stars`).

        Raises
        ------
        ValueError
            For a picid that is not a whole number.
        ExplorerError
            404 for a star the network has no light curve of; or no answer.
        """
        response = self._get(f"stars/{picid_text(picid)}/points.parquet")
        with response:
            return points_frame(response.content, response.url, response.status_code)

    # --- the analysis -------------------------------------------------------------------

    def _detections(self, query: dict[str, str], limit: int) -> pd.DataFrame:
        """Page through ``analysis/candidates`` until ``limit`` rows or the last page."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a whole number of at least 1, not {limit!r}")
        query = {**query, "limit": str(min(self.page_size, limit))}
        rows: list[dict[str, Any]] = []
        pages, truncated, analysis_hash = 0, False, None
        for page in self._pages("analysis/candidates", query, "next_cursor"):
            pages += 1
            found = page.get("candidates")
            if not isinstance(found, list):
                raise ExplorerError(
                    "the answer has no list of candidates", url=f"{self.base_url}{_API}"
                )
            analysis_hash = page.get("analysis_hash", analysis_hash)
            rows.extend(row for row in found if isinstance(row, dict))
            if len(rows) >= limit:
                truncated = len(rows) > limit or page.get("next_cursor") is not None
                rows = rows[:limit]
                break
        frame = detections_frame(rows)
        frame.attrs.update(truncated=truncated, pages=pages, analysis_hash=analysis_hash)
        return frame

    def get_detections(
        self, kind: str | None = None, injected: bool = False, limit: int = DEFAULT_DETECTIONS
    ) -> pd.DataFrame:
        """Return the analysis' detections, the most significant first.

        Pages through ``/api/v1/analysis/candidates`` (the explorer's current analysis).

        Parameters
        ----------
        kind : str, optional
            ``transit`` or ``flare``; both when None.
        injected : bool
            False: real detections only. True: only the detections of the synthetic events
            the analysis injected to measure its completeness (their truth in the
            ``injection_*`` columns). Never both at once.
        limit : int
            Most rows; paging stops there.

        Returns
        -------
        pandas.DataFrame
            One row per detection, the columns of
            :data:`~panoptes_network.client.analysis.DETECTION_COLUMNS` (times UTC, depth
            and amplitude fractional, durations in s), then ``sequence_ids``, ``run_ids``
            and ``unit_ids`` (lists). ``attrs``: ``truncated`` (``limit`` stopped the
            paging), ``pages``, ``analysis_hash``.

        Raises
        ------
        ValueError
            For an unknown kind or a bad limit (before any request).
        ExplorerError
            When the API refuses a parameter, or does not answer.
        """
        if kind is not None and kind not in DETECTION_KINDS:
            raise ValueError(f"kind must be one of {', '.join(DETECTION_KINDS)}, not {kind!r}")
        if not isinstance(injected, bool):
            raise ValueError(f"injected must be True or False, not {injected!r}")
        query = {"injected": "true" if injected else "false"}
        if kind is not None:
            query["kind"] = kind
        return self._detections(query, limit)

    def get_star_detections(self, picid: int | str, injected: bool = False) -> pd.DataFrame:
        """Return every detection of one star, the most significant first.

        Parameters
        ----------
        picid : int or str
            The star's PICID (TIC id).
        injected : bool
            As for :meth:`get_detections`.

        Returns
        -------
        pandas.DataFrame
            As :meth:`get_detections`; no rows when the analysis found nothing there.

        Raises
        ------
        ValueError
            For a picid that is not a whole number.
        ExplorerError
            When the explorer does not answer.
        """
        if not isinstance(injected, bool):
            raise ValueError(f"injected must be True or False, not {injected!r}")
        query = {"picid": picid_text(picid), "injected": "true" if injected else "false"}
        return self._detections(query, DEFAULT_DETECTIONS)

    def get_analysed_stars(
        self,
        *,
        min_points: int = 500,
        order: str = "rms_over_floor",
        limit: int = 100,
        ra: Any = None,
        dec: Any = None,
        radius: Any = None,
    ) -> pd.DataFrame:
        """Return analysed stars: the most variable with enough points, or those near a position.

        Parameters
        ----------
        min_points : int
            Fewest points (one of the explorer's thresholds, e.g. 100, 500, 1000).
        order : str
            ``rms_over_floor``, ``chi2_red`` or ``amplitude``; highest first.
        limit : int
            Most stars, 1 to 500.
        ra, dec, radius : float or astropy Quantity, optional
            A position and a radius (deg, up to 10): the analysed stars there instead,
            nearest first, with ``distance`` (deg).

        Returns
        -------
        pandas.DataFrame
            One row per star, the columns of
            :data:`~panoptes_network.client.analysis.ANALYSED_STAR_COLUMNS`. ``attrs``:
            ``mode`` (``variable`` or ``near``) and ``truncated`` (more stars near the
            position than ``limit``).

        Raises
        ------
        ValueError
            For a parameter of the wrong type, or part of a position.
        ExplorerError
            When the API refuses a parameter (its message names it), or does not answer.
        """
        sky = [ra, dec, radius]
        if any(v is not None for v in sky) and any(v is None for v in sky):
            raise ValueError("ra, dec and radius go together (degrees)")
        query = search_parameters(ra=ra, dec=dec, radius=radius)
        if ra is None:
            query.update(min_points=_whole_text("min_points", min_points), order=order)
        query["limit"] = _whole_text("limit", limit)
        answer = self._get_json("analysis/stars", query)
        frame = analysed_stars_frame([s for s in answer.get("stars") or [] if isinstance(s, dict)])
        frame.attrs.update(mode=answer.get("mode"), truncated=bool(answer.get("truncated")))
        return frame

    def _analysis(self) -> dict[str, Any]:
        return self._get_json("analysis")

    def get_coverage(self, dimension: str) -> pd.DataFrame:
        """Return how much data the analysis searched, by one dimension, every run added.

        Parameters
        ----------
        dimension : str
            ``quality`` (the star's rms over its photon-noise floor), ``airmass``, ``moon``
            (the Moon's distance from the field, deg) or ``unit``.

        Returns
        -------
        pandas.DataFrame
            One row per bin with data: ``bin`` (index into the edges, -1 unknown; the unit's
            id for ``unit``), ``label``, ``low`` and ``high`` (the bin's edges), ``points``
            and ``hours`` (star-hours searched). ``attrs``: ``runs``, ``points``, ``hours``
            (all bins), ``edges`` and ``analysis_hash``.

        Raises
        ------
        ValueError
            For an unknown dimension (before any request).
        ExplorerError
            When the explorer does not answer.
        """
        if dimension not in COVERAGE_DIMENSIONS:
            raise ValueError(
                f"dimension must be one of {', '.join(COVERAGE_DIMENSIONS)}, not {dimension!r}"
            )
        answer = self._analysis()
        coverage = answer.get("coverage") if isinstance(answer.get("coverage"), dict) else {}
        marginals = coverage.get("marginals") if isinstance(coverage.get("marginals"), dict) else {}
        frame = coverage_frame(marginals.get(dimension) or [], dimension)
        frame.attrs.update(
            runs=coverage.get("runs"),
            points=coverage.get("points"),
            hours=coverage.get("hours"),
            edges=coverage.get("edges"),
            analysis_hash=answer.get("analysis_hash"),
        )
        return frame

    def get_completeness(self) -> pd.DataFrame:
        """Return the analysis' injection-recovery counts, every run added, bin by bin.

        Returns
        -------
        pandas.DataFrame
            One row per (kind, depth, duration, SNR) bin with injected events, the columns
            of :data:`~panoptes_network.client.analysis.COMPLETENESS_COLUMNS`:
            ``completeness`` is ``recovered / injected``; sum ``injected`` and
            ``recovered`` over the bins you merge (``groupby``), never average the
            fractions. ``attrs``: ``runs``, ``injected``, ``recovered``, ``edges`` and
            ``analysis_hash``.

        Raises
        ------
        ExplorerError
            When the explorer does not answer.
        """
        answer = self._analysis()
        completeness = answer.get("completeness")
        completeness = completeness if isinstance(completeness, dict) else {}
        frame = completeness_frame(completeness)
        frame.attrs.update(
            runs=completeness.get("runs"),
            injected=completeness.get("injected"),
            recovered=completeness.get("recovered"),
            edges=completeness.get("edges"),
            analysis_hash=answer.get("analysis_hash"),
        )
        return frame

    def download(
        self,
        sequence_id: str,
        kind: str = "fits",
        *,
        to: str | os.PathLike[str] = ".",
        progress: bool = True,
    ) -> list[Path]:
        """Fetch files of one observation into ``to/<sequence_id>/``.

        Files already there complete (the size the server announces) are kept, not fetched
        again; a file is written under its name only once complete (see
        :mod:`panoptes_network.client.downloads`), so running the same download again after
        an interruption continues where it stopped.

        Parameters
        ----------
        sequence_id : str
            The observation, ``<UNIT>_<CAMERA>_<SEQSTART>``.
        kind : str
            ``fits``: every frame's ``.fits.fz`` (``<image_id>.fits.fz``); ``previews``:
            every frame's JPEG preview, for camera raw uploads (``<image_id>.jpg``);
            ``lightcurves``: each processing run's light-curve Parquet file
            (``<run_id>.parquet``, the newest 10 runs).
        to : str or PathLike
            The folder under which ``<sequence_id>/`` is made.
        progress : bool
            Show progress bars (tqdm, on stderr): files, and each file's bytes.

        Returns
        -------
        list of Path
            The files, in time order (frames) or newest first (runs); empty when the
            observation has no file of that kind.

        Raises
        ------
        ValueError
            For an unknown kind.
        ExplorerError
            404 for an unknown observation; when a file cannot be fetched (the others
            are); or no answer.
        """
        if kind not in DOWNLOAD_KINDS:
            raise ValueError(f"kind must be one of {', '.join(DOWNLOAD_KINDS)}, not {kind!r}")
        detail, frames = self._observation(sequence_id, every_frame=kind != "lightcurves")
        runs = [run for run in detail.get("runs") or [] if isinstance(run, dict)]
        if kind == "lightcurves" and detail.get("runs_truncated"):
            warnings.warn(
                f"{sequence_id} has more processing runs than the explorer lists: "
                f"the newest {len(runs)} are fetched",
                stacklevel=2,
            )
        files = observation_files(frames, runs, kind)
        folder = Path(to) / safe_name(sequence_id.strip())
        return fetch_all(
            self.session,
            files,
            folder,
            timeout=self.timeout,
            tries=self.retries + 1,
            backoff=self.backoff,
            progress=progress,
            label=f"{sequence_id} {kind}",
        )


_DEFAULT: Client | None = None


def default_client() -> Client:
    """Return the client the module's functions use, made at the first call.

    Returns
    -------
    Client
        ``Client()``: ``$PANOPTES_EXPLORER_URL`` as it was at that first call, else the
        local explorer. Make your own :class:`Client` for another explorer.
    """
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Client()
    return _DEFAULT


def search_observations(name: str | None = None, **filters: Any) -> pd.DataFrame:
    """Return the observations that match, with :func:`default_client`.

    Parameters
    ----------
    name : str, optional
        A target name or coordinates as text (see :meth:`Client.search_observations`).
    **filters
        The keyword arguments of :meth:`Client.search_observations` (``ra``, ``dec``,
        ``radius``, ``unit``, ``since``, ``until``, ``min_images`` ...).

    Returns
    -------
    pandas.DataFrame
        See :meth:`Client.search_observations`.
    """
    return default_client().search_observations(name, **filters)


def get_lightcurves(picid: int | str) -> pd.DataFrame:
    """Return every light-curve point of a star, with :func:`default_client`.

    Parameters
    ----------
    picid : int or str
        The star's PICID (TIC id).

    Returns
    -------
    pandas.DataFrame
        See :meth:`Client.get_lightcurves`.
    """
    return default_client().get_lightcurves(picid)


def download(
    sequence_id: str,
    kind: str = "fits",
    *,
    to: str | os.PathLike[str] = ".",
    progress: bool = True,
) -> list[Path]:
    """Fetch files of one observation, with :func:`default_client`.

    Parameters
    ----------
    sequence_id : str
        The observation.
    kind : str
        ``fits``, ``previews`` or ``lightcurves``.
    to : str or PathLike
        The folder under which ``<sequence_id>/`` is made.
    progress : bool
        Show progress bars.

    Returns
    -------
    list of Path
        See :meth:`Client.download`.
    """
    return default_client().download(sequence_id, kind, to=to, progress=progress)


def get_detections(
    kind: str | None = None, injected: bool = False, limit: int = DEFAULT_DETECTIONS
) -> pd.DataFrame:
    """Return the analysis' detections, the most significant first, with :func:`default_client`.

    Parameters
    ----------
    kind : str, optional
        ``transit`` or ``flare``.
    injected : bool
        Only the detections of injected (synthetic) events instead of the real ones.
    limit : int
        Most rows.

    Returns
    -------
    pandas.DataFrame
        See :meth:`Client.get_detections`.
    """
    return default_client().get_detections(kind, injected, limit)


def get_star_detections(picid: int | str, injected: bool = False) -> pd.DataFrame:
    """Return every detection of one star, with :func:`default_client`.

    Parameters
    ----------
    picid : int or str
        The star's PICID (TIC id).
    injected : bool
        Only the detections of injected events instead of the real ones.

    Returns
    -------
    pandas.DataFrame
        See :meth:`Client.get_star_detections`.
    """
    return default_client().get_star_detections(picid, injected)


def get_analysed_stars(**query: Any) -> pd.DataFrame:
    """Return analysed stars, with :func:`default_client`.

    Parameters
    ----------
    **query
        The keyword arguments of :meth:`Client.get_analysed_stars` (``min_points``,
        ``order``, ``limit``, or ``ra``, ``dec`` and ``radius``).

    Returns
    -------
    pandas.DataFrame
        See :meth:`Client.get_analysed_stars`.
    """
    return default_client().get_analysed_stars(**query)


def get_coverage(dimension: str) -> pd.DataFrame:
    """Return the analysis' coverage by one dimension, with :func:`default_client`.

    Parameters
    ----------
    dimension : str
        ``quality``, ``airmass``, ``moon`` or ``unit``.

    Returns
    -------
    pandas.DataFrame
        See :meth:`Client.get_coverage`.
    """
    return default_client().get_coverage(dimension)


def get_completeness() -> pd.DataFrame:
    """Return the analysis' injection-recovery counts, with :func:`default_client`.

    Returns
    -------
    pandas.DataFrame
        See :meth:`Client.get_completeness`.
    """
    return default_client().get_completeness()
