"""measure-sources: per-colour aperture photometry of the catalog stars on a solved frame.

Trigger: Pub/Sub push from topic ``measure-sources``, message ``{"bucket", "name",
"image_id"}`` of a solved ``.fits.fz`` (plate-solve sends one per solved frame). See README.md
beside this file.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from panoptes_network.adapters.push import PushMessage
from panoptes_network.adapters.runtime import ServiceRuntime
from panoptes_network.photometry.measure_sources import measure_sources
from panoptes_network.pipeline.context import StepResult, StoredObject

SERVICE = "measure-sources"
# One delivery at a time: one full frame's working set per instance.
RUNTIME = ServiceRuntime(SERVICE, documents=True, one_at_a_time=True)


def _step(message: PushMessage) -> StepResult:
    obj = StoredObject.from_message(message.payload)
    return measure_sources(RUNTIME.context, obj, RUNTIME.catalog())


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    """Handle one measure-sources message delivered by Pub/Sub push."""
    RUNTIME.run_pubsub(event.data, _step)
