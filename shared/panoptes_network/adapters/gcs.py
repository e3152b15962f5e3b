"""Cloud Storage as an :class:`~panoptes_network.pipeline.ports.ObjectStore`."""

from __future__ import annotations

from collections.abc import Mapping

from google.api_core import exceptions as gexc
from google.cloud import storage

from panoptes_network.pipeline.errors import ObjectNotFoundError, PreconditionFailed
from panoptes_network.pipeline.ports import ObjectInfo

__all__ = ["GcsObjectStore", "storage_client"]


def storage_client(project: str) -> storage.Client:
    """Return a storage client for ``project`` (anonymous against the emulator).

    Parameters
    ----------
    project : str
        Google Cloud project id.

    Returns
    -------
    google.cloud.storage.Client
        The client.
    """
    return storage.Client(project=project)


def _info(blob: storage.Blob) -> ObjectInfo:
    return ObjectInfo(
        bucket=blob.bucket.name,
        name=blob.name,
        size=int(blob.size or 0),
        md5_hash=blob.md5_hash,
        generation=int(blob.generation) if blob.generation else None,
        metadata=dict(blob.metadata or {}),
    )


def _condition(if_generation_match: int | None) -> str:
    if if_generation_match == 0:
        return "it already exists and may not be replaced"
    return f"its generation is not {if_generation_match}"


class GcsObjectStore:
    """Object storage on Cloud Storage.

    Parameters
    ----------
    client : google.cloud.storage.Client
        A client made once per process.
    """

    def __init__(self, client: storage.Client):
        self.client = client

    def _blob(self, bucket: str, name: str) -> storage.Blob:
        return self.client.bucket(bucket).blob(name)

    def stat(self, bucket: str, name: str, *, generation: int | None = None) -> ObjectInfo | None:
        """Return the object's info (that generation's, when given), or None when missing."""
        blob = self.client.bucket(bucket).get_blob(name, generation=generation)
        return None if blob is None else _info(blob)

    def read(self, bucket: str, name: str, *, generation: int | None = None) -> bytes:
        """Return the whole object (that generation of it, when given)."""
        try:
            return self.client.bucket(bucket).blob(name, generation=generation).download_as_bytes()
        except gexc.NotFound:
            raise ObjectNotFoundError(bucket, name) from None

    def read_range(self, bucket: str, name: str, start: int, length: int) -> bytes:
        """Return up to ``length`` bytes from byte ``start`` (one ranged GET)."""
        if length <= 0:
            return b""
        try:
            return self._blob(bucket, name).download_as_bytes(
                start=start, end=start + length - 1, checksum=None
            )
        except gexc.NotFound:
            raise ObjectNotFoundError(bucket, name) from None
        except gexc.RequestRangeNotSatisfiable:
            return b""

    def write(
        self,
        bucket: str,
        name: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        if_generation_match: int | None = None,
    ) -> ObjectInfo:
        """Upload ``data`` (with an MD5 check) and return the stored object's info.

        ``if_generation_match`` is sent as the request's precondition (0: create only).
        """
        blob = self._blob(bucket, name)
        if metadata:
            blob.metadata = dict(metadata)
        try:
            blob.upload_from_string(
                data,
                content_type=content_type,
                checksum="md5",
                if_generation_match=if_generation_match,
            )
        except gexc.PreconditionFailed:
            raise PreconditionFailed(bucket, name, _condition(if_generation_match)) from None
        return _info(blob)

    def copy(
        self,
        bucket: str,
        name: str,
        to_bucket: str,
        to_name: str,
        *,
        metadata: Mapping[str, str] | None = None,
        source_generation: int | None = None,
        if_generation_match: int | None = None,
    ) -> ObjectInfo:
        """Copy an object server-side, optionally setting metadata on the copy.

        The target's precondition is sent with the request. fake-gcs-server ignores it on
        copies, so the target's generation is also checked first: on Google Cloud the
        request's condition is what makes it atomic.
        """
        if if_generation_match is not None:
            target = self.client.bucket(to_bucket).get_blob(to_name)
            if (target.generation if target else 0) != if_generation_match:
                raise PreconditionFailed(to_bucket, to_name, _condition(if_generation_match))
        source = self.client.bucket(bucket)
        try:
            copied = source.copy_blob(
                source.blob(name),
                self.client.bucket(to_bucket),
                to_name,
                source_generation=source_generation,
                if_generation_match=if_generation_match,
            )
        except gexc.NotFound:
            raise ObjectNotFoundError(bucket, name) from None
        except gexc.PreconditionFailed:
            raise PreconditionFailed(to_bucket, to_name, _condition(if_generation_match)) from None
        if metadata:
            copied.metadata = {**(copied.metadata or {}), **metadata}
            copied.patch()
        return _info(copied)

    def delete(self, bucket: str, name: str, *, generation: int) -> bool:
        """Delete the live object only while it is ``generation``; say whether it was.

        The request carries ``ifGenerationMatch``. fake-gcs-server ignores that condition and
        deletes whatever is live, so the live generation is checked first as well.
        """
        live = self.client.bucket(bucket).get_blob(name)
        if live is None or int(live.generation or 0) != int(generation):
            return False
        try:
            self._blob(bucket, name).delete(if_generation_match=generation)
        except (gexc.NotFound, gexc.PreconditionFailed):
            return False
        return True

    def list(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        """Return the objects whose names start with ``prefix``, sorted by name."""
        blobs = self.client.list_blobs(bucket, prefix=prefix or None)
        return sorted((_info(blob) for blob in blobs), key=lambda info: info.name)
