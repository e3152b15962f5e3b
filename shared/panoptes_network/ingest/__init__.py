"""The ingest stage: an upload becomes an archived, compressed, recorded frame.

- :mod:`.route_upload`: raw-file-uploaded (:func:`handle_raw_upload`).
- :mod:`.compress`: compress-fits (:func:`compress_fits`).
- :mod:`.record`: record-image (:func:`record_image`), with :mod:`.records` (the documents
  of a frame) and :mod:`.counters` (exact counters under redelivery).
- :mod:`.frame_check`: is an uploaded FITS file a frame the network can record.
- :mod:`.frame_preview`: the JPEG preview of a recorded frame rendered from its pixels
  (plate-solve makes it), and the rule that a preview from the raw file takes precedence.
- :mod:`.upload_plan`: the bucket path a local file is uploaded under (``bin/upload``).
- :mod:`.sky_backfill`: the sky index of observations recorded before it existed
  (``bin/key-index``).
"""
