"""What every frame needs, whatever the stage.

- :mod:`.bucket_path`: the bucket path grammar of uploads (``ImagePath``, ids).
- :mod:`.fits_header`: a streaming FITS header reader over ranged reads;
  :mod:`.header_values`: header cards as clean document values.
- :mod:`.checksum`: FITS ``CHECKSUM``/``DATASUM`` and uint16 frames written with them.
- :mod:`.compression`: lossless Rice compression to ``.fits.fz`` and its verification.
- :mod:`.camera`: sensor size, Bayer layout and the camera's electronics.
- :mod:`.header_lookup`: the get-fits-header request.
- :mod:`.sky_index`: the HEALPix cells of an observation's field, and of a cone search.
"""
