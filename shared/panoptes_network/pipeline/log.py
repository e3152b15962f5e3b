"""Structured log lines, one JSON object per line on stdout (Cloud Logging reads them)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any

__all__ = ["log"]


def log(severity: str, message: str, **fields: Any) -> None:
    """Write one structured log line (Cloud Logging reads JSON on stdout).

    Parameters
    ----------
    severity : str
        ``INFO``, ``WARNING`` or ``ERROR``.
    message : str
        What happened.
    **fields
        Anything worth keeping with it.
    """
    record = {
        "severity": severity,
        "message": message,
        "time": datetime.now(timezone.utc).isoformat(),
        **fields,
    }
    print(json.dumps(record, default=str), file=sys.stdout, flush=True)
