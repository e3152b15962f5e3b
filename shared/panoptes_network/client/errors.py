"""What the client raises when the Data Explorer or a file server does not give an answer."""

from __future__ import annotations

__all__ = ["ExplorerError"]


class ExplorerError(Exception):
    """A request to the Data Explorer (or to a file it links to) failed.

    Raised for an error answer (the API's JSON ``{"error": ...}``, 400, 404, 503 ...), for
    an answer that is not what the API promises, for a server that cannot be reached or
    does not answer in time, and for a file transfer that broke off every time it was tried.

    Parameters
    ----------
    message : str
        What went wrong: the API's own message for an error answer.
    url : str
        The URL that was asked, with its query.
    status : int, optional
        The HTTP status of the answer; None when there was no answer.

    Attributes
    ----------
    message, url : str
        As given.
    status : int or None
        As given.
    """

    def __init__(self, message: str, *, url: str, status: int | None = None):
        self.message = message
        self.url = url
        self.status = status
        super().__init__(message)

    def __str__(self) -> str:
        if self.status is None:
            return f"{self.message} (GET {self.url})"
        return f"{self.message} (HTTP {self.status} from {self.url})"
