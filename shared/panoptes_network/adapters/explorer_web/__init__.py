"""The Data Explorer on the web: a Flask app over the read models of :mod:`..explorer`.

- :mod:`.app`: :func:`create_app`, the pages and their JSON twins under ``/api/v1``.
- :mod:`.documents`: the Firestore store it reads, made at the first request.
- ``templates/`` and ``static/``: Jinja pages and one stylesheet (package data).
"""

from panoptes_network.adapters.explorer_web.app import create_app
from panoptes_network.adapters.explorer_web.documents import firestore_documents

__all__ = ["create_app", "firestore_documents"]
