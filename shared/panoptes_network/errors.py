"""How a step tells a permanent failure from a transient one.

A step raises :class:`PermanentFailure` for bad input that no retry can fix: the service
acknowledges the message after the failure is recorded. Any other exception is transient: the
service answers with an error so that Pub/Sub redelivers, and after a bounded number of tries
the dead-letter topic catches it.
"""

from __future__ import annotations

__all__ = ["PermanentFailure", "ObjectNotFoundError"]


class PermanentFailure(Exception):
    """Bad input: record it, acknowledge the message, never retry.

    Parameters
    ----------
    reason : str
        What is wrong, naming the input.
    """

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class ObjectNotFoundError(LookupError):
    """A storage object that does not exist.

    Parameters
    ----------
    bucket : str
        Bucket name.
    name : str
        Object name.
    """

    def __init__(self, bucket: str, name: str):
        self.bucket = bucket
        self.name = name
        super().__init__(f"gs://{bucket}/{name} does not exist")
