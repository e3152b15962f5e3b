"""analyse-run: update the analysis of the stars of one finished processing run.

Trigger: Pub/Sub push from topic ``analyse-run`` (published by build-lightcurve when a run is
done), message ``{"sequence_id", "run_id"}``. See README.md beside this file.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from panoptes_network.adapters.push import PushMessage
from panoptes_network.adapters.runtime import ServiceRuntime
from panoptes_network.analysis.incremental import analyse_run
from panoptes_network.pipeline.context import StepResult

SERVICE = "analyse-run"
RUNTIME = ServiceRuntime(SERVICE, documents=True)


def _step(message: PushMessage) -> StepResult:
    return analyse_run(RUNTIME.context, message.payload)


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    """Handle one analyse-run message delivered by Pub/Sub push."""
    RUNTIME.run_pubsub(event.data, _step)
