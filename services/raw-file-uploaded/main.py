"""raw-file-uploaded: archive, validate and route every upload to the incoming bucket.

Trigger: Pub/Sub push from topic ``raw-file-uploaded``, which receives the incoming bucket's
OBJECT_FINALIZE notifications. See README.md beside this file.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from panoptes_network.adapters.push import PushMessage
from panoptes_network.adapters.runtime import ServiceRuntime
from panoptes_network.ingest.route_upload import handle_raw_upload
from panoptes_network.pipeline.context import StepResult, StoredObject

SERVICE = "raw-file-uploaded"
RUNTIME = ServiceRuntime(SERVICE, documents=True)


def _step(message: PushMessage) -> StepResult:
    event_type = message.attributes.get("eventType", "OBJECT_FINALIZE")
    if event_type != "OBJECT_FINALIZE":
        return StepResult("skipped", {"why": f"event type {event_type}"})
    obj = StoredObject.from_message({**message.payload, **message.attributes})
    return handle_raw_upload(RUNTIME.context, obj, delivery_attempt=message.delivery_attempt)


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    """Handle one bucket notification delivered by Pub/Sub push."""
    RUNTIME.run_pubsub(event.data, _step)
