"""Log records: one JSON object per line under concurrency, the request's trace, stack traces.

The service path uses google-cloud-logging's real StructuredLogHandler on a stream this test
owns; the default path is the JSON handler of ``pipeline/log.py``.
"""

from __future__ import annotations

import io
import json
import logging
import threading

import flask

from panoptes_network.pipeline.log import LOGGER_NAME, log


def test_concurrent_records_never_share_a_line(capsys):
    def burst(k: int) -> None:
        for n in range(200):
            log("INFO", f"thread {k} record {n}", payload="x" * 500, k=k)

    threads = [threading.Thread(target=burst, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1600
    records = [json.loads(line) for line in lines]  # each line is exactly one record
    assert {r["k"] for r in records} == set(range(8))


def test_a_record_logged_while_handling_an_error_carries_its_stack_trace(capsys):
    try:
        raise ConnectionError("storage unavailable")
    except ConnectionError:
        log("WARNING", "will retry", exc_info=True, service="t")
    record = json.loads(capsys.readouterr().out)
    assert "Traceback" in record["stack_trace"] and "ConnectionError" in record["stack_trace"]


def test_the_structured_handler_adds_the_requests_trace_and_fields():
    from google.cloud.logging.handlers import StructuredLogHandler

    stream = io.StringIO()
    handler = StructuredLogHandler(project_id="demo-panoptes", stream=stream)
    logger = logging.getLogger(LOGGER_NAME + ".structured-test")
    logger.handlers, logger.propagate = [handler], False
    app = flask.Flask("trace")
    trace = "105445aa7843bc8bf206b12000100000/1;o=1"
    with app.test_request_context("/", headers={"X-Cloud-Trace-Context": trace}):
        logger.warning("refused caller", extra={"json_fields": {"service": "record-image"}})
        try:
            raise ValueError("bad")
        except ValueError:
            logger.warning("will retry", exc_info=True)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]  # one per line
    first, second = (r for r in records if "logging.googleapis.com/diagnostic" not in r)
    assert first["severity"] == "WARNING" and first["service"] == "record-image"
    assert first["logging.googleapis.com/trace"] == (
        "projects/demo-panoptes/traces/105445aa7843bc8bf206b12000100000"
    )
    assert "Traceback" in second["message"] and "ValueError: bad" in second["message"]
