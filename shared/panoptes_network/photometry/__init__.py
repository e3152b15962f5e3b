"""photometry."""
