"""How a step tells a permanent failure from a transient one.

A step raises :class:`PermanentFailure` for bad input that no retry can fix: the service
acknowledges the message after the failure is recorded. Any other exception is transient: the
service answers with an error so that Pub/Sub redelivers, and after a bounded number of tries
the dead-letter topic catches it.
"""

from __future__ import annotations

__all__ = ["BadInput", "NotFound", "PermanentFailure", "ObjectNotFoundError", "PreconditionFailed"]


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


class NotFound(PermanentFailure):
    """What a request or message names does not exist (an HTTP service answers 404).

    Parameters
    ----------
    reason : str
        What was not found, naming it, e.g. ``"image PAN001_14d3bd_20250101T000000 does not
        exist"``.
    """


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


class PreconditionFailed(Exception):
    """A conditional write or copy found the target not as required (e.g. it exists).

    Parameters
    ----------
    bucket, name : str
        The target object.
    reason : str
        What the condition was.
    """

    def __init__(self, bucket: str, name: str, reason: str):
        self.bucket = bucket
        self.name = name
        self.reason = reason
        super().__init__(f"gs://{bucket}/{name}: {reason}")


class BadInput(ValueError):
    """An input (a file, an object, a request) that cannot be used, and why.

    The base of the errors that name their input: ``str(error)`` reads
    ``"<source>: <reason>"``, and ``reason`` alone is what gets recorded (quarantine metadata,
    image docs).

    Parameters
    ----------
    source : str
        The input's name (a path, a ``gs://`` URI).
    reason : str
        What is wrong, in words the owner of the input can act on.
    """

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")
