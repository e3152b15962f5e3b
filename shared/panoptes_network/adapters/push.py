"""Run a chain step on a Pub/Sub push delivery and turn its outcome into ack or retry.

functions-framework turns a Pub/Sub push envelope into a CloudEvent whose data is ``{"message":
{"data": <base64>, "attributes": {...}, "messageId": ...}}``. The step's return acknowledges the
message (HTTP 2xx); an exception answers HTTP 500, so Pub/Sub redelivers with backoff and, after the
subscription's limit, sends it to the dead-letter topic. Bad input is a
:class:`~panoptes_network.pipeline.errors.PermanentFailure` or a step result, and is acknowledged
after it is logged.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from panoptes_network.pipeline.context import StepResult
from panoptes_network.pipeline.errors import PermanentFailure
from panoptes_network.pipeline.log import log

__all__ = ["PushMessage", "decode_push", "run_pubsub_step"]


@dataclass(frozen=True)
class PushMessage:
    """One delivered Pub/Sub message.

    Attributes
    ----------
    payload : dict
        The JSON data (empty when the data was not JSON).
    attributes : dict
        Message attributes.
    message_id : str
        Pub/Sub message id.
    delivery_attempt : int or None
        Which delivery this is (1 first), when the subscription has a dead-letter policy.
    """

    payload: dict[str, Any]
    attributes: dict[str, str]
    message_id: str
    delivery_attempt: int | None = None


def decode_push(data: Mapping[str, Any]) -> PushMessage:
    """Decode the data of a Pub/Sub CloudEvent (or a raw push envelope).

    Parameters
    ----------
    data : Mapping
        ``event.data``: ``{"message": {...}, "subscription": ...}``.

    Returns
    -------
    PushMessage
        The decoded message.

    Raises
    ------
    PermanentFailure
        If the envelope or its data cannot be decoded.
    """
    message = data.get("message") if isinstance(data, Mapping) else None
    if not isinstance(message, Mapping):
        raise PermanentFailure("push delivery has no message")
    raw = message.get("data") or ""
    try:
        text = base64.b64decode(raw, validate=True).decode("utf-8") if raw else ""
        payload = json.loads(text) if text else {}
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PermanentFailure(f"message data is not base64 JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise PermanentFailure("message data is JSON but not an object")
    attributes = dict(message.get("attributes") or {})
    attempt = data.get("deliveryAttempt")
    attempt = int(attempt) if isinstance(attempt, int | str) and str(attempt).isdigit() else None
    return PushMessage(payload, attributes, str(message.get("messageId", "")), attempt)


def run_pubsub_step(
    data: Mapping[str, Any],
    step: Callable[[PushMessage], StepResult],
    *,
    service: str,
) -> StepResult | None:
    """Decode a delivery, run ``step`` and log the outcome.

    Parameters
    ----------
    data : Mapping
        ``event.data`` of the CloudEvent.
    step : callable
        Does the work for one message.
    service : str
        Name of the service, for the log.

    Returns
    -------
    StepResult or None
        The step's result; None for a permanent failure (acknowledged).

    Raises
    ------
    Exception
        Whatever the step raised that is not a permanent failure, so the message is redelivered.
    """
    try:
        message = decode_push(data)
        result = step(message)
    except PermanentFailure as exc:
        log("ERROR", f"{service}: permanent failure, acknowledged: {exc.reason}", service=service)
        return None
    except Exception as exc:
        log(
            "WARNING",
            f"{service}: will retry: {type(exc).__name__}: {exc}",
            exc_info=True,
            service=service,
        )
        raise
    severity = "WARNING" if result.action in ("quarantined", "refused") else "INFO"
    log(severity, f"{service}: {result.action}", service=service, **dict(result.detail))
    return result
