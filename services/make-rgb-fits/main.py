"""make-rgb-fits: RGB FITS, JPEG preview and Bayer FITS from a camera raw file.

Trigger: Pub/Sub push from topic ``make-rgb-fits``, message ``{"bucket", "name",
"generation", "object_name"}`` of an archived ``.cr2`` (``.cr3``, ``.nef``, ``.dng``) that
raw-file-uploaded queued. Runs on Cloud Run (exiftool is in the image), one file per instance.
See README.md beside this file.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from panoptes_network.adapters.push import PushMessage
from panoptes_network.adapters.runtime import ServiceRuntime
from panoptes_network.pipeline.context import StepResult, StoredObject, UploadRef
from panoptes_network.raw.make_rgb_fits import make_rgb_fits

SERVICE = "make-rgb-fits"
RUNTIME = ServiceRuntime(SERVICE, documents=True)


def _step(message: PushMessage) -> StepResult:
    obj = StoredObject.from_message(message.payload)
    upload = UploadRef.from_message(message.payload, message.delivery_attempt)
    return make_rgb_fits(RUNTIME.context, obj, message.payload.get("object_name"), upload)


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    """Handle one make-rgb-fits message delivered by Pub/Sub push."""
    RUNTIME.run_pubsub(event.data, _step)
