"""Request bodies: bounded however they are sent, strict JSON, no non-finite numbers."""

from __future__ import annotations

import io

import flask
import pytest

from panoptes_network.adapters.http_json import MAX_NUMBER, RequestRefused, read_json

APP = flask.Flask(__name__)
LIMIT = 1024


def _read(body: bytes, *, chunked: bool = False):
    headers = {"Content-Type": "application/json"}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        context = APP.test_request_context(  # as gunicorn passes a chunked body on
            "/",
            method="POST",
            input_stream=io.BytesIO(body),
            headers=headers,
            environ_overrides={"wsgi.input_terminated": True},
        )
    else:
        context = APP.test_request_context("/", method="POST", data=body, headers=headers)
    with context:
        return read_json(flask.request, LIMIT)


def test_a_good_body_is_read():
    assert _read(b'{"limit": 20, "radius_deg": 0.5, "name": "M42"}') == {
        "limit": 20,
        "radius_deg": 0.5,
        "name": "M42",
    }
    assert _read(b"") is None


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_limit_is_413_declared_or_chunked(chunked):
    body = b'{"x": "' + b"a" * (LIMIT * 10) + b'"}'
    with pytest.raises(RequestRefused) as caught:
        _read(body, chunked=chunked)
    assert caught.value.status == 413 and f"{LIMIT} bytes" in caught.value.reason


def test_a_chunked_body_within_the_limit_is_read():
    assert _read(b'{"ok": true}', chunked=True) == {"ok": True}


@pytest.mark.parametrize(
    "body",
    [
        b'{"x": NaN}',
        b'{"x": Infinity}',
        b'{"x": -Infinity}',
        b'{"x": 1e308}',
        b'{"x": 1e999}',
        b'{"x": 12345678901234567890}',
    ],
)
def test_non_finite_and_huge_numbers_are_400(body):
    with pytest.raises(RequestRefused) as caught:
        _read(body)
    assert caught.value.status == 400


def test_the_largest_allowed_number_passes():
    assert _read(b'{"x": %r}' % MAX_NUMBER) == {"x": MAX_NUMBER}


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[" * 1000])
def test_malformed_bodies_are_400_with_a_message(body):
    with pytest.raises(RequestRefused) as caught:
        _read(body)
    assert caught.value.status == 400 and "not JSON" in caught.value.reason


def test_error_pages_are_json_and_echo_nothing():
    from panoptes_network.adapters.http_json import quiet_error_pages

    app = flask.Flask("quiet")
    quiet_error_pages(app)

    @app.route("/bad")
    def bad():
        flask.abort(400, description=f"Got HTTP headers: {dict(flask.request.headers)}")

    @app.route("/crash")
    def crash():
        raise RuntimeError("secret internals")

    client = app.test_client()
    answer = client.get("/bad", headers={"X-Marker": "secret-marker"})
    assert answer.status_code == 400 and answer.json == {"error": "400 Bad Request"}
    crashed = client.get("/crash")
    assert crashed.status_code == 500 and "secret" not in crashed.get_data(as_text=True)
