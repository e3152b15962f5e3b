"""measure-sources: per-colour aperture photometry of the catalog stars on a solved frame.

Trigger: Pub/Sub push from topic ``measure-sources``, message ``{"bucket", "name",
"image_id"}`` of a solved ``.fits.fz`` (plate-solve sends one per solved frame). See README.md
beside this file.
"""

from __future__ import annotations

import threading

import functions_framework
from cloudevents.http import CloudEvent

from panoptes_network.adapters.catalog_source import catalog_path
from panoptes_network.adapters.push import PushMessage, run_pubsub_step
from panoptes_network.adapters.runtime import chain_context
from panoptes_network.catalog_file import LocalCatalog, open_catalog
from panoptes_network.ingest import StepResult, StoredObject
from panoptes_network.source_measurement import measure_sources

SERVICE = "measure-sources"
CONTEXT = chain_context(SERVICE, documents=True)
_catalog: LocalCatalog | None = None
_one_frame_at_a_time = threading.Lock()


def _step(message: PushMessage) -> StepResult:
    global _catalog
    with _one_frame_at_a_time:  # one full frame's working set per instance
        if _catalog is None:
            _catalog = open_catalog(catalog_path())
        return measure_sources(CONTEXT, StoredObject.from_message(message.payload), _catalog)


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    """Handle one measure-sources message delivered by Pub/Sub push."""
    run_pubsub_step(event.data, _step, service=SERVICE)
