"""Decoding Pub/Sub push deliveries and the ack/retry decision."""

from __future__ import annotations

import base64
import json

import pytest

from panoptes_network.adapters.push import decode_push, run_pubsub_step
from panoptes_network.pipeline.context import StepResult
from panoptes_network.pipeline.errors import PermanentFailure


def envelope(payload, **attributes):
    data = base64.b64encode(json.dumps(payload).encode()).decode()
    return {"message": {"data": data, "attributes": attributes, "messageId": "7"}}


def test_decode_round_trips_payload_and_attributes():
    message = decode_push(envelope({"bucket": "b", "name": "n"}, eventType="OBJECT_FINALIZE"))
    assert message.payload == {"bucket": "b", "name": "n"}
    assert message.attributes == {"eventType": "OBJECT_FINALIZE"}
    assert message.message_id == "7"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"message": "x"},
        {"message": {"data": "%%%"}},
        {"message": {"data": base64.b64encode(b"[1]").decode()}},
    ],
)
def test_undecodable_deliveries_are_permanent(data):
    with pytest.raises(PermanentFailure):
        decode_push(data)


def test_permanent_failure_is_acknowledged_and_others_propagate(capsys):
    def permanent(message):
        raise PermanentFailure("bad input named here")

    assert run_pubsub_step(envelope({}), permanent, service="t") is None
    assert "bad input named here" in capsys.readouterr().out

    def transient(message):
        raise ConnectionError("storage unavailable")

    with pytest.raises(ConnectionError):
        run_pubsub_step(envelope({}), transient, service="t")
    assert "will retry" in capsys.readouterr().out

    result = run_pubsub_step(envelope({}), lambda m: StepResult("routed", {"x": 1}), service="t")
    assert result.action == "routed"
    line = json.loads(capsys.readouterr().out)
    assert line["severity"] == "INFO" and line["x"] == 1
