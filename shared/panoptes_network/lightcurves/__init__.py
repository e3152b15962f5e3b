"""lightcurves."""
