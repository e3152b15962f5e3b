"""The get-fits-header request: validate it, read the header, answer with a status code.

Answers are ``(status, body)`` pairs that the HTTP service returns as JSON: 200 with
``{"header": {...}}``; 400 for a malformed request (a path with empty, ``.`` or ``..``
segments, a leading ``/``, a backslash or a control character); 403 for a bucket that is not
public (only :meth:`Settings.header_buckets` are read: the archive, quarantine and incoming
buckets never, and the answer is the same whether the object exists or not); 404 for a
missing object; 422 for an object that is not a readable FITS file, or whose header does not
end within ``Settings.max_header_bytes``.
"""

from __future__ import annotations

import re
from typing import Any

from panoptes_network.frames.fits_header import HeaderTooLargeError, NotFitsError, read_header
from panoptes_network.pipeline.errors import ObjectNotFoundError
from panoptes_network.pipeline.ports import ObjectStore
from panoptes_network.pipeline.settings import Settings

__all__ = ["MAX_REQUEST_BYTES", "lookup_header"]

#: Largest request body accepted, in bytes.
MAX_REQUEST_BYTES = 16 * 1024
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


def _bad(message: str, status: int = 400) -> tuple[int, dict[str, Any]]:
    return status, {"error": message}


def lookup_header(
    request: Any, store: ObjectStore, settings: Settings
) -> tuple[int, dict[str, Any]]:
    """Answer one get-fits-header request.

    Parameters
    ----------
    request : object
        The decoded JSON body: ``{"bucket_path": str, "bucket_name": str (optional),
        "hdu": int (optional)}``. ``bucket_path`` may also be a ``gs://bucket/path`` URI.
    store : ObjectStore
        Where the objects are.
    settings : Settings
        Default bucket (``images_bucket``) and the header size bound.

    Returns
    -------
    status : int
        HTTP status code.
    body : dict
        ``{"header", "bucket_name", "bucket_path", "hdu", "bytes_read"}`` on success, else
        ``{"error": message}``.
    """
    if not isinstance(request, dict):
        return _bad('send a JSON object like {"bucket_path": "PAN001/.../frame.fits.fz"}')
    path = request.get("bucket_path")
    bucket = request.get("bucket_name") or settings.images_bucket
    if not isinstance(path, str) or not path.strip():
        return _bad("bucket_path is required and must be a non-empty string")
    path = path.strip()
    if path.startswith("gs://"):
        bucket, _, path = path[5:].partition("/")
    if len(path) > 1024:
        return _bad("bucket_path is longer than 1024 characters")
    if _CONTROL.search(path):
        return _bad("bucket_path holds a control character or a backslash")
    if any(part in ("", ".", "..") for part in path.split("/")):
        return _bad(f"bucket_path {path!r} has empty, '.' or '..' segments (or starts with /)")
    if not isinstance(bucket, str) or not _BUCKET.fullmatch(bucket):
        return _bad(f"bucket_name {str(bucket)[:80]!r} is not a valid bucket name")
    if bucket not in settings.header_buckets():
        readable = ", ".join(sorted(settings.header_buckets()))
        return _bad(f"bucket {bucket} is not readable here; public FITS buckets: {readable}", 403)
    hdu = request.get("hdu")
    if hdu is not None and (
        isinstance(hdu, bool) or not isinstance(hdu, int) or not 0 <= hdu < 100
    ):
        return _bad("hdu must be an integer from 0 to 99")
    uri = f"gs://{bucket}/{path}"
    info = store.stat(bucket, path)
    if info is None:
        return _bad(f"{uri} does not exist", 404)
    try:
        header = read_header(
            lambda start, length: store.read_range(bucket, path, start, length),
            hdu=hdu,
            size=info.size,
            source=uri,
            max_header_bytes=settings.max_header_bytes,
        )
    except HeaderTooLargeError as exc:
        return _bad(str(exc), 422)
    except NotFitsError as exc:
        return _bad(str(exc), 422)
    except ObjectNotFoundError:
        return _bad(f"{uri} does not exist", 404)
    return 200, {
        "header": header.to_dict(),
        "bucket_name": bucket,
        "bucket_path": path,
        "hdu": header.hdu,
        "bytes_read": header.bytes_read,
    }
