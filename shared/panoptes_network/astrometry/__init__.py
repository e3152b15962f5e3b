"""astrometry."""
