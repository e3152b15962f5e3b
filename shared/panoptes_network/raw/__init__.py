"""Camera raw files (CR2, CR3, NEF, DNG): decoded with LibRaw into FITS, RGB and previews.

- :mod:`.make_rgb_fits`: make-rgb-fits (:func:`make_rgb_fits`).
- :mod:`.fits_release`: raw-fits-requests (:func:`release_raw_fits`, :func:`sweep_raw_fits`).
- :mod:`.decode`, :mod:`.exif`, :mod:`.preview`, :mod:`.products`: decoding, EXIF cards,
  the JPEG preview and the three products of one raw file.
"""
