"""Domain logic of the PANOPTES data network.

Modules hold one concept each: :mod:`panoptes_network.frames.bucket_path` (the upload path grammar),
:mod:`panoptes_network.frames.fits_header` (streaming header reader), :mod:`panoptes_network.ingest.frame_check` (is an upload a usable
frame), :mod:`panoptes_network.frames.compression` (lossless Rice compression), :mod:`panoptes_network.ingest.records` (Firestore documents),
:mod:`panoptes_network.ingest.counters` (exact counters under redelivery), and :mod:`panoptes_network.ingest` (the steps of the ingest
chain, written against the ports in :mod:`panoptes_network.pipeline.ports`). Nothing here imports a cloud client: the
adapters in :mod:`panoptes_network.adapters` do, and only services and tools load them.
"""

__version__ = "0.1.0"
