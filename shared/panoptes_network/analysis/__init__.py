"""The analysis layer: per-star statistics across units, detections, sensitivity, coverage."""
