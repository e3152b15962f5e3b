"""HTTP under the client: one requests session with bounded retries; failures as ExplorerError.

Retries are for transient faults only: a connection that cannot be made, a read that times
out, and the answers 429, 502, 503 and 504 (honouring ``Retry-After``), with exponential
backoff. A 400 or 404 is an answer about the request and is never retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ReadTimeoutError
from urllib3.util.retry import Retry

from panoptes_network import __version__
from panoptes_network.client.errors import ExplorerError

__all__ = [
    "RETRY_STATUSES",
    "answer_error",
    "json_of",
    "make_session",
    "request",
    "unreachable",
]

#: Answers that mean "try again shortly".
RETRY_STATUSES = (429, 502, 503, 504)
#: Longest part of a non-JSON error answer quoted in a message, in characters.
_QUOTE = 200


def make_session(retries: int, backoff: float) -> requests.Session:
    """Return a session that retries transient faults of GET and HEAD.

    Parameters
    ----------
    retries : int
        Most retries of one request after a refused or failed connection or a
        :data:`RETRY_STATUSES` answer; a read that timed out is retried once at most.
    backoff : float
        Backoff factor, s: the waits are 0, 2 x backoff, 4 x backoff ...

    Returns
    -------
    requests.Session
        With the retrying adapter mounted for http and https and a User-Agent naming the
        client.
    """
    retry = Retry(
        total=retries,
        connect=retries,
        read=min(retries, 1),
        status=retries,
        other=0,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"panoptes-network-client/{__version__}"
    return session


def _full_url(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    prepared = requests.Request("GET", url, params=dict(params)).prepare().url
    return prepared or url


def _reason(exc: requests.RequestException, timeout: float) -> str:
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "name resolution" in text or "nodename" in text:
        return "unknown host"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection within {timeout:g} s"
    return type(exc).__name__


def _read_timed_out(exc: requests.RequestException) -> bool:
    """Whether the connection was made but no answer came in time (after any retries)."""
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return True
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    return isinstance(cause, ReadTimeoutError)


def unreachable(
    url: str, exc: requests.RequestException, timeout: float, explorer: str | None
) -> ExplorerError:
    """Return the error of a request that got no answer.

    Parameters
    ----------
    url : str
        The URL asked, with its query.
    exc : requests.RequestException
        What requests raised.
    timeout : float
        The timeout used, s.
    explorer : str, optional
        The explorer's base URL when ``url`` is one of its endpoints: the message then says
        how to start it or point the client elsewhere.

    Returns
    -------
    ExplorerError
        With ``status`` None.
    """
    if _read_timed_out(exc):
        return ExplorerError(f"no answer from {url} within {timeout:g} s", url=url)
    reason = _reason(exc, timeout)
    if explorer is not None:
        message = (
            f"cannot reach the Data Explorer at {explorer} ({reason}): is it running? "
            "bin/dev up starts the local one; to use another, set PANOPTES_EXPLORER_URL or "
            "pass its URL"
        )
    else:
        message = f"cannot reach {urlsplit(url).netloc} ({reason})"
    return ExplorerError(message, url=url)


def answer_error(response: requests.Response) -> ExplorerError:
    """Return the error of an error answer: the API's ``{"error": message}``, else the status.

    Parameters
    ----------
    response : requests.Response
        An answer with a status of 400 or more (its body is read).

    Returns
    -------
    ExplorerError
        With the answer's status and URL.
    """
    message = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
    if message is None:
        message = f"{response.status_code} {response.reason or 'error'}".strip()
        text = (response.text or "").strip()
        if text and response.request.method != "HEAD":
            message += f": {text[:_QUOTE]}"
    return ExplorerError(message, url=response.url, status=response.status_code)


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: float,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    stream: bool = False,
    explorer: str | None = None,
) -> requests.Response:
    """Send one request (with the session's retries); return its answer if it is a success.

    Parameters
    ----------
    session : requests.Session
        See :func:`make_session`.
    method : str
        ``GET`` or ``HEAD``.
    url : str
        Without the query.
    timeout : float
        Seconds to connect, and seconds between two reads of the answer.
    params : Mapping, optional
        The query (no None values).
    headers : Mapping, optional
        Extra request headers.
    stream : bool
        Leave the body unread (the caller reads and closes it).
    explorer : str, optional
        See :func:`unreachable`.

    Returns
    -------
    requests.Response
        An answer with a status below 400.

    Raises
    ------
    ExplorerError
        For no answer, or an error answer (after the retries of a transient one).
    """
    try:
        response = session.request(
            method,
            url,
            params=dict(params) if params else None,
            headers=dict(headers) if headers else None,
            timeout=timeout,
            stream=stream,
        )
    except requests.RequestException as exc:
        raise unreachable(_full_url(url, params), exc, timeout, explorer) from None
    if response.status_code >= 400:
        error = answer_error(response)
        response.close()
        raise error
    return response


def json_of(response: requests.Response, explorer: str) -> dict[str, Any]:
    """Return the JSON object of an API answer.

    Parameters
    ----------
    response : requests.Response
        A successful answer of the explorer's API.
    explorer : str
        The explorer's base URL, for the message.

    Returns
    -------
    dict
        The answer.

    Raises
    ------
    ExplorerError
        When the body is not a JSON object (the URL is then not the explorer's API).
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ExplorerError(
            f"the answer is not a JSON object: is {explorer} the PANOPTES Data Explorer?",
            url=response.url,
            status=response.status_code,
        )
    return body
