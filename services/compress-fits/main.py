"""compress-fits: Rice-compress a ``.fits`` upload, verify it, and hand it to record-image.

Trigger: Pub/Sub push from topic ``compress-fits``, message ``{"bucket", "name",
"generation", "object_name"}``. See README.md beside this file.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from panoptes_network.adapters.push import PushMessage
from panoptes_network.adapters.runtime import ServiceRuntime
from panoptes_network.ingest.compress import compress_fits
from panoptes_network.pipeline.context import StepResult, StoredObject, UploadRef

SERVICE = "compress-fits"
RUNTIME = ServiceRuntime(SERVICE, documents=True)


def _step(message: PushMessage) -> StepResult:
    obj = StoredObject.from_message(message.payload)
    upload = UploadRef.from_message(message.payload, message.delivery_attempt)
    return compress_fits(RUNTIME.context, obj, message.payload.get("object_name"), upload)


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    """Handle one compress-fits message delivered by Pub/Sub push."""
    RUNTIME.run_pubsub(event.data, _step)
