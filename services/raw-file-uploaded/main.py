"""raw-file-uploaded: archive, validate and route every upload to the incoming bucket.

Trigger: Pub/Sub push from topic ``raw-file-uploaded``, which receives the incoming bucket's
OBJECT_FINALIZE notifications. See README.md beside this file.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from panoptes_network.adapters.push import PushMessage, run_pubsub_step
from panoptes_network.adapters.runtime import chain_context
from panoptes_network.ingest import StepResult, StoredObject, handle_raw_upload

SERVICE = "raw-file-uploaded"
CONTEXT = chain_context(SERVICE)


def _step(message: PushMessage) -> StepResult:
    event_type = message.attributes.get("eventType", "OBJECT_FINALIZE")
    if event_type != "OBJECT_FINALIZE":
        return StepResult("skipped", {"why": f"event type {event_type}"})
    return handle_raw_upload(
        CONTEXT, StoredObject.from_message({**message.payload, **message.attributes})
    )


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    """Handle one bucket notification delivered by Pub/Sub push."""
    run_pubsub_step(event.data, _step, service=SERVICE)
