"""data-explorer: the web Data Explorer, pages and their JSON twins under ``/api/v1``.

A WSGI application for gunicorn (``gunicorn main:app``, on Cloud Run as in the local stack);
the pages, the API and the read models live in the shared package. See README.md beside
this file.
"""

from __future__ import annotations

import sys

from panoptes_network.adapters.explorer_web import create_app
from panoptes_network.adapters.logs import configure_logging
from panoptes_network.pipeline.settings import Settings

SERVICE = "data-explorer"
SETTINGS = Settings.from_env()
if "gunicorn" in sys.modules:  # served: structured logs on stdout; imported by a test: not
    configure_logging(SETTINGS.project_id)

app = create_app(settings=SETTINGS)
