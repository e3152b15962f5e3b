"""Read, plan and commit a batch of document writes; when someone wrote first, do it again.

Steps never hold Firestore transaction locks (frames of one observation must not wait on
each other). Instead each write is planned from what was just read and committed with
preconditions (:class:`~.ports.DocWrite` ``must_exist``,
``must_not_exist``, ``expected_version``); when a precondition fails the store raises
:class:`~.ports.WriteConflict`, and the plan is read and made again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from panoptes_network.pipeline.ports import DocumentStore, DocWrite, WriteConflict

__all__ = ["MAX_ATTEMPTS", "commit_with_retry"]

#: Rounds of read, plan and commit before giving up (a transient fault: the step is retried).
MAX_ATTEMPTS = 20

T = TypeVar("T")


def commit_with_retry(
    documents: DocumentStore,
    plan: Callable[[], tuple[list[DocWrite], T]],
    *,
    what: str,
    attempts: int = MAX_ATTEMPTS,
) -> T:
    """Commit the writes ``plan`` makes from a fresh read, again on every conflict.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    plan : callable
        Reads what it needs and returns ``(writes, result)``. No writes means there is
        nothing to commit: ``result`` is returned at once. It may raise to give up.
    what : str
        What is being written (e.g. ``images/<id>``), for the error message.
    attempts : int
        Most rounds.

    Returns
    -------
    object
        The ``result`` of the plan whose writes were committed.

    Raises
    ------
    WriteConflict
        If every round lost a race (a transient fault: the message is redelivered).
    """
    for _ in range(attempts):
        writes, result = plan()
        if not writes:
            return result
        try:
            documents.commit(writes)
        except WriteConflict:
            continue
        return result
    raise WriteConflict(f"could not write {what} in {attempts} attempts; will retry")
