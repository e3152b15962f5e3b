"""Per-frame photometry of the catalog stars on a solved frame.

- :mod:`.measure_sources`: measure-sources (:func:`measure_sources`).
- :mod:`.frame_photometry`: centroids, apertures, backgrounds and flags of one frame.
- :mod:`.aperture`: aperture sums and annulus backgrounds on Bayer planes.
- :mod:`.star_width`: per-star FWHM. :mod:`.flags`: the quality bits of a measurement.
- :mod:`.noise`: the CCD equation. :mod:`.sources_table`: the per-image Parquet table.
"""
