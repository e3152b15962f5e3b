"""Calibration: a camera's constants measured from its own calibration frames.

- :mod:`.photon_transfer`: gain and read noise from pairs of flats and of bias frames, bias
  from bias frames, saturation from the pixel histogram of an over-exposed flat.

The constants are resolved per frame by :mod:`panoptes_network.frames.camera_constants`,
where a measurement ranks after the header and before the camera registry.
"""
