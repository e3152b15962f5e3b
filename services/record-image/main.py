"""record-image: write the units, observations and images documents of a stored frame.

Trigger: Pub/Sub push from topic ``record-image``, message ``{"bucket", "name"}`` of a
``.fits.fz`` in the images bucket. See README.md beside this file.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from panoptes_network.adapters.push import PushMessage
from panoptes_network.adapters.runtime import ServiceRuntime
from panoptes_network.ingest.record import record_image
from panoptes_network.pipeline.context import StepResult, StoredObject, UploadRef

SERVICE = "record-image"
RUNTIME = ServiceRuntime(SERVICE, documents=True)


def _step(message: PushMessage) -> StepResult:
    upload = UploadRef.from_message(message.payload, message.delivery_attempt)
    return record_image(RUNTIME.context, StoredObject.from_message(message.payload), upload)


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    """Handle one record-image message delivered by Pub/Sub push."""
    RUNTIME.run_pubsub(event.data, _step)
