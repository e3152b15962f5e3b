"""What the explorer's read models raise: an unknown id (404) and a bad query (400)."""

from __future__ import annotations

from panoptes_network.pipeline.errors import NotFound as _PipelineNotFound
from panoptes_network.pipeline.errors import PermanentFailure

__all__ = ["InvalidQuery", "NotFound"]

#: Longest part of a request quoted back in a message, in characters.
_QUOTE = 120


def quote(text: object) -> str:
    """Return ``text`` as a short ``repr`` for a message (long input is cut)."""
    shown = str(text)
    return repr(shown if len(shown) <= _QUOTE else shown[:_QUOTE] + "...")


class NotFound(_PipelineNotFound):
    """No document of that kind has that id.

    Parameters
    ----------
    kind : str
        What was asked for: ``unit``, ``observation`` or ``image``.
    requested : str
        The id that was asked for, as given.

    Attributes
    ----------
    kind, requested : str
        As given.
    """

    def __init__(self, kind: str, requested: str):
        self.kind = kind
        self.requested = requested
        super().__init__(f"no {kind} {quote(requested)} in the PANOPTES network")


class InvalidQuery(PermanentFailure):
    """A query parameter the read models cannot use.

    Parameters
    ----------
    parameter : str
        The parameter, e.g. ``since``.
    reason : str
        What is wrong and what is allowed.

    Attributes
    ----------
    parameter : str
        As given.
    """

    def __init__(self, parameter: str, reason: str):
        self.parameter = parameter
        super().__init__(f"{parameter}: {reason}")
