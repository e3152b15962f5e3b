"""The hardening table, against the running stack: each case gets its status, and after each
one every service still answers.
"""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.integration

SECRET = "x-private-marker-7f3a"
FRAME = "PAN000/0e0e0e/20160909T081152/20160909T081226.fits"


@pytest.fixture(scope="module")
def endless(stack):
    """A file in the public images bucket whose header never ends (3 MB of cards, no END)."""
    cards = b"SIMPLE  =                    T" + b" " * 50
    cards += b"".join(f"COMMENT card {k:08d}".ljust(80).encode() for k in range(40_000))
    name = "PAN000/0e0e0e/20160909T081152/endless.fits"
    stack.upload(name, cards, bucket=stack.settings.images_bucket)
    return name


def _header(stack, body, **kwargs):
    return requests.post(stack.url("get-fits-header"), timeout=30, json=body, **kwargs)


def _sweep(stack, data: bytes):
    headers = {"Content-Type": "application/json", **stack.as_caller("reconcile")}
    return requests.post(stack.url("reconcile") + "sweep", data=data, headers=headers, timeout=30)


def _chunks(size: int):
    yield b'{"bucket_path": "'
    for _ in range(size // 65536):
        yield b"a" * 65536
    yield b'"}'


CASES = {
    "archive bucket": (
        lambda s: _header(s, {"bucket_path": FRAME, "bucket_name": s.settings.archive_bucket}),
        403,
    ),
    "quarantine bucket": (
        lambda s: _header(s, {"bucket_path": f"gs://{s.settings.quarantine_bucket}/{FRAME}"}),
        403,
    ),
    "incoming bucket": (
        lambda s: _header(s, {"bucket_path": FRAME, "bucket_name": s.settings.incoming_bucket}),
        403,
    ),
    "path traversal": (lambda s: _header(s, {"bucket_path": "PAN000/../../etc/passwd"}), 400),
    "absolute path": (lambda s: _header(s, {"bucket_path": "/etc/passwd"}), 400),
    "control character": (lambda s: _header(s, {"bucket_path": "PAN000/a\u0000b.fits"}), 400),
    "declared body too large": (lambda s: _header(s, {"bucket_path": "x" * 100_000}), 413),
    "chunked body too large": (
        lambda s: requests.post(
            s.url("get-fits-header"),
            data=_chunks(10 * 1024 * 1024),
            headers={"Content-Type": "application/json"},
            timeout=60,
        ),
        413,
    ),
    "malformed JSON": (
        lambda s: requests.post(
            s.url("get-fits-header"),
            data=b'{"bucket_path": ',
            headers={"Content-Type": "application/json"},
            timeout=30,
        ),
        400,
    ),
    "NaN in a sweep": (lambda s: _sweep(s, b'{"limit": NaN}'), 400),
    "Infinity in a sweep": (lambda s: _sweep(s, b'{"limit": Infinity}'), 400),
    "1e308 in a sweep": (lambda s: _sweep(s, b'{"limit": 1e308}'), 400),
    "NaN in a lookup": (
        lambda s: requests.post(
            s.url("lookup-field"),
            data=b'{"search_string": "M42", "radius_deg": NaN}',
            headers={"Content-Type": "application/json"},
            timeout=30,
        ),
        400,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hardening_table(stack, case):
    call, status = CASES[case]
    answer = call(stack)
    assert answer.status_code == status, (case, answer.text[:300])
    assert "Traceback" not in answer.text
    assert "error" in answer.json()
    assert stack.services_answer()


def test_a_header_that_never_ends_is_read_only_up_to_the_bound(stack, endless):
    answer = _header(stack, {"bucket_path": endless})
    assert answer.status_code == 422, answer.text
    assert "bytes" in answer.json()["error"]
    assert stack.services_answer()


def test_error_pages_do_not_echo_the_request(stack):
    """A push endpoint given garbage with a valid token: the answer holds none of the request."""
    headers = {
        "Content-Type": "application/json",
        "X-Marker": SECRET,
        **stack.as_caller("record-image", "push"),
    }
    answer = requests.post(
        stack.url("record-image"),
        data=b'{"not": "a push", "m": "' + SECRET.encode() + b'"}',
        headers=headers,
        timeout=30,
    )
    assert SECRET not in answer.text and "Traceback" not in answer.text
    bad = requests.put(
        stack.url("get-fits-header"), data=SECRET, headers={"X-Marker": SECRET}, timeout=30
    )
    assert bad.status_code == 405 and SECRET not in bad.text
    assert stack.services_answer()
