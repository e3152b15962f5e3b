"""build-lightcurve: differential light curves of every star of one observation.

Trigger: Pub/Sub push from topic ``build-lightcurve``, message ``{"sequence_id", "options"}``.
See README.md beside this file.
"""

from __future__ import annotations

import threading

import functions_framework
from cloudevents.http import CloudEvent

from panoptes_network.adapters.push import PushMessage, run_pubsub_step
from panoptes_network.adapters.runtime import chain_context
from panoptes_network.ingest import StepResult
from panoptes_network.lightcurve_run import build_lightcurve

SERVICE = "build-lightcurve"
CONTEXT = chain_context(SERVICE, documents=True)
_one_observation_at_a_time = threading.Lock()


def _step(message: PushMessage) -> StepResult:
    with _one_observation_at_a_time:  # one observation's arrays per instance
        return build_lightcurve(CONTEXT, message.payload, delivery_id=message.message_id or None)


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    """Handle one build-lightcurve message delivered by Pub/Sub push."""
    run_pubsub_step(event.data, _step, service=SERVICE)
