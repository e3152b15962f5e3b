"""build-lightcurve: differential light curves of every star of one observation.

Trigger: Pub/Sub push from topic ``build-lightcurve``, message ``{"sequence_id", "options"}``.
See README.md beside this file.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from panoptes_network.adapters.push import PushMessage
from panoptes_network.adapters.runtime import ServiceRuntime
from panoptes_network.lightcurves.build_lightcurve import build_lightcurve
from panoptes_network.pipeline.context import StepResult

SERVICE = "build-lightcurve"
# One delivery at a time: one observation's arrays per instance.
RUNTIME = ServiceRuntime(SERVICE, documents=True, one_at_a_time=True)


def _step(message: PushMessage) -> StepResult:
    return build_lightcurve(
        RUNTIME.context, message.payload, delivery_id=message.message_id or None
    )


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    """Handle one build-lightcurve message delivered by Pub/Sub push."""
    RUNTIME.run_pubsub(event.data, _step)
