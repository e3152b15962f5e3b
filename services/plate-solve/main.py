"""plate-solve: find where a recorded frame points (astrometry.net) and record it.

Trigger: Pub/Sub push from topic ``plate-solve``, message ``{"bucket", "name", "image_id"}``
of a ``.fits.fz`` in the images bucket (record-image sends one for each newly recorded,
unsolved frame). Runs on Cloud Run (astrometry.net and its index files are in the image), one
request per instance. See README.md beside this file.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from panoptes_network.adapters.push import PushMessage
from panoptes_network.adapters.runtime import ServiceRuntime
from panoptes_network.astrometry.plate_solve import PlateSolver, plate_solve
from panoptes_network.pipeline.context import StepResult, StoredObject

SERVICE = "plate-solve"
RUNTIME = ServiceRuntime(SERVICE, documents=True)
SOLVER = PlateSolver()


def _step(message: PushMessage) -> StepResult:
    return plate_solve(RUNTIME.context, StoredObject.from_message(message.payload), SOLVER)


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    """Handle one plate-solve message delivered by Pub/Sub push."""
    RUNTIME.run_pubsub(event.data, _step)
