"""Structured log records through Python ``logging``: one JSON object per line.

The domain code logs with :func:`log` (severity, message, fields). On a service,
:func:`panoptes_network.adapters.logs.configure_logging` installs google-cloud-logging's
``StructuredLogHandler``: each record becomes one JSON line on stdout with its severity, its
fields, the trace of the request it belongs to (from ``traceparent`` or
``X-Cloud-Trace-Context``) and, where there is one, the stack trace. Anywhere else (tests,
command lines) a plain JSON handler writes the same shape. Records are written whole under
the handler's lock, so concurrent requests never share a line.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

__all__ = ["LOGGER_NAME", "JsonLineFormatter", "log"]

#: The logger every record of the network goes through.
LOGGER_NAME = "panoptes"
_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


class JsonLineFormatter(logging.Formatter):
    """Format a record as one JSON line: severity, message, time, fields and stack trace."""

    def format(self, record: logging.LogRecord) -> str:  # noqa: D102 - logging's method
        body: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            **getattr(record, "json_fields", {}),
        }
        if record.exc_info:
            body["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


class _Stdout(logging.StreamHandler):
    """A stream handler on whatever ``sys.stdout`` is when a record is written."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


def _logger() -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers and not getattr(logger, "structured", False):
        handler = _Stdout()
        handler.setFormatter(JsonLineFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def log(severity: str, message: str, *, exc_info: bool = False, **fields: Any) -> None:
    """Write one structured log record.

    Parameters
    ----------
    severity : str
        ``INFO``, ``WARNING`` or ``ERROR``.
    message : str
        What happened.
    exc_info : bool
        Attach the stack trace of the exception being handled.
    **fields
        Anything worth keeping with it (JSON-serialisable, or turned into strings).
    """
    json_fields = json.loads(json.dumps(fields, default=str))
    _logger().log(
        _LEVELS.get(severity, logging.INFO),
        message,
        exc_info=exc_info,
        extra={"json_fields": json_fields},
    )
