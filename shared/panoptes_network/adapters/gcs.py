"""Cloud Storage as an :class:`~panoptes_network.pipeline.ports.ObjectStore`."""

from __future__ import annotations

from collections.abc import Mapping

from google.api_core import exceptions as gexc
from google.cloud import storage

from panoptes_network.pipeline.errors import ObjectNotFoundError
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

    def stat(self, bucket: str, name: str) -> ObjectInfo | None:
        """Return the object's info, or None when it does not exist."""
        blob = self.client.bucket(bucket).get_blob(name)
        return None if blob is None else _info(blob)

    def read(self, bucket: str, name: str) -> bytes:
        """Return the whole object."""
        try:
            return self._blob(bucket, name).download_as_bytes()
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
    ) -> ObjectInfo:
        """Upload ``data`` (with an MD5 check) and return the stored object's info."""
        blob = self._blob(bucket, name)
        if metadata:
            blob.metadata = dict(metadata)
        blob.upload_from_string(data, content_type=content_type, checksum="md5")
        return _info(blob)

    def copy(
        self,
        bucket: str,
        name: str,
        to_bucket: str,
        to_name: str,
        *,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Copy an object server-side, optionally setting metadata on the copy."""
        source = self.client.bucket(bucket)
        try:
            copied = source.copy_blob(source.blob(name), self.client.bucket(to_bucket), to_name)
        except gexc.NotFound:
            raise ObjectNotFoundError(bucket, name) from None
        if metadata:
            copied.metadata = {**(copied.metadata or {}), **metadata}
            copied.patch()
        return _info(copied)

    def delete(self, bucket: str, name: str, *, generation: int | None = None) -> None:
        """Delete an object; a missing one is not an error."""
        try:
            self._blob(bucket, name).delete(if_generation_match=generation)
        except gexc.NotFound:
            pass

    def list(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        """Return the objects whose names start with ``prefix``, sorted by name."""
        blobs = self.client.list_blobs(bucket, prefix=prefix or None)
        return sorted((_info(blob) for blob in blobs), key=lambda info: info.name)
