"""Cloud Logging for a service: google-cloud-logging's structured handler on stdout.

``StructuredLogHandler`` writes each record as one JSON line that Cloud Logging (Cloud Run and
Cloud Functions read stdout) turns into a structured entry: ``severity``, the message, the
record's ``json_fields``, the request's trace and span (``logging.googleapis.com/trace``, read
from the Flask request's ``traceparent`` or ``X-Cloud-Trace-Context`` header), and the stack
trace of a record logged with ``exc_info``. Python warnings are captured into the same
stream.
"""

from __future__ import annotations

import logging
import sys

from panoptes_network.pipeline.log import LOGGER_NAME

__all__ = ["configure_logging"]

_CONFIGURED = False


def configure_logging(project: str) -> None:
    """Send every log record of this process through the structured handler (once).

    Parameters
    ----------
    project : str
        The Google Cloud project, for the trace's resource name.
    """
    global _CONFIGURED
    if _CONFIGURED:
        return
    from google.cloud.logging.handlers import StructuredLogHandler

    handler = StructuredLogHandler(project_id=project, stream=sys.stdout)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    ours = logging.getLogger(LOGGER_NAME)  # its records go to the root's handler now
    ours.handlers = []
    ours.propagate = True
    ours.structured = True  # type: ignore[attr-defined]
    logging.captureWarnings(True)
    _CONFIGURED = True
