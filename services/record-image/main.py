"""record-image: write the units, observations and images documents of a stored frame.

Trigger: Pub/Sub push from topic ``record-image``, message ``{"bucket", "name"}`` of a
``.fits.fz`` in the images bucket. See README.md beside this file.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from panoptes_network.adapters.push import PushMessage, run_pubsub_step
from panoptes_network.adapters.runtime import chain_context
from panoptes_network.ingest import StepResult, StoredObject, record_image

SERVICE = "record-image"
CONTEXT = chain_context(SERVICE, documents=True)


def _step(message: PushMessage) -> StepResult:
    return record_image(CONTEXT, StoredObject.from_message(message.payload))


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    """Handle one record-image message delivered by Pub/Sub push."""
    run_pubsub_step(event.data, _step, service=SERVICE)
