"""plate-solve: find where a recorded frame points and record it.

Trigger: Pub/Sub push from topic ``plate-solve``, message ``{"bucket", "name", "image_id"}``
of a ``.fits.fz`` in the images bucket (record-image sends one for each newly recorded,
unsolved frame). A frame whose observation has a solved frame is tracked from it against the
star catalog; the others go to astrometry.net. Runs on Cloud Run (astrometry.net and its
index files are in the image). See README.md beside this file.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from panoptes_network.adapters.push import PushMessage
from panoptes_network.adapters.runtime import ServiceRuntime
from panoptes_network.astrometry.plate_solve import PlateSolver, plate_solve
from panoptes_network.catalog.star_catalog import Catalog
from panoptes_network.pipeline.context import StepResult, StoredObject

SERVICE = "plate-solve"
RUNTIME = ServiceRuntime(SERVICE, documents=True)
SOLVER = PlateSolver()


def _catalog() -> Catalog | None:
    """Return the star catalog frames are tracked against, or None without one.

    Without a catalog every frame goes to solve-field, and each image says so in
    ``solve_not_tracked_reason``.
    """
    try:
        return RUNTIME.catalog()
    except FileNotFoundError:
        return None


def _step(message: PushMessage) -> StepResult:
    obj = StoredObject.from_message(message.payload)
    return plate_solve(RUNTIME.context, obj, SOLVER, _catalog())


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    """Handle one plate-solve message delivered by Pub/Sub push."""
    RUNTIME.run_pubsub(event.data, _step)
