"""Plate solving: where a recorded frame points.

- :mod:`.plate_solve`: plate-solve (:func:`plate_solve`).
- :mod:`.solve_field`: astrometry.net's ``solve-field`` and its solution, from an image or
  from a source list.
- :mod:`.bayer_background`: bias and per-colour sky, calibrated superpixels.
- :mod:`.source_extraction`: the sources of the superpixels, on the frame's pixel grid.
- :mod:`.tracking`: a frame's solution refined from an earlier frame's of its observation.
- :mod:`.star_count`: the star-count gate before solving.
- :mod:`.frame_wcs`: a solution on the frame's own pixel grid; :mod:`.solved_frame`: read a
  stored frame's pixels and write it again with its solution.
"""
