"""Domain logic of the PANOPTES data network.

Modules hold one concept each: :mod:`.bucket_path` (the upload path grammar),
:mod:`.fits_header` (streaming header reader), :mod:`.frame_check` (is an upload a usable
frame), :mod:`.compression` (lossless Rice compression), :mod:`.records` (Firestore documents),
:mod:`.counters` (exact counters under redelivery), and :mod:`.ingest` (the steps of the ingest
chain, written against the ports in :mod:`.ports`). Nothing here imports a cloud client: the
adapters in :mod:`panoptes_network.adapters` do, and only services and tools load them.
"""

__version__ = "0.1.0"
