"""make-rgb-fits: RGB FITS, JPEG preview and Bayer FITS from a camera raw file.

Trigger: Pub/Sub push from topic ``make-rgb-fits``, message ``{"bucket", "name",
"generation", "object_name"}`` of an archived ``.cr2`` (``.cr3``, ``.nef``, ``.dng``) that
raw-file-uploaded queued. Runs on Cloud Run (exiftool is in the image), one file per instance.
See README.md beside this file.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from panoptes_network.adapters.push import PushMessage, run_pubsub_step
from panoptes_network.adapters.runtime import chain_context
from panoptes_network.ingest import StepResult, StoredObject
from panoptes_network.make_rgb import make_rgb_fits

SERVICE = "make-rgb-fits"
CONTEXT = chain_context(SERVICE, documents=True)


def _step(message: PushMessage) -> StepResult:
    obj = StoredObject.from_message(message.payload)
    return make_rgb_fits(CONTEXT, obj, message.payload.get("object_name"))


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    """Handle one make-rgb-fits message delivered by Pub/Sub push."""
    run_pubsub_step(event.data, _step, service=SERVICE)
