"""Plate solving: where a recorded frame points.

- :mod:`.plate_solve`: plate-solve (:func:`plate_solve`).
- :mod:`.solve_field`: astrometry.net's ``solve-field`` and its solution.
- :mod:`.bayer_background`: bias and per-colour sky, calibrated superpixels.
- :mod:`.star_count`: the star-count gate before solving.
- :mod:`.frame_wcs`: a solution on the frame's own pixel grid; :mod:`.solved_frame`: read a
  stored frame's pixels and write it again with its solution.
"""
