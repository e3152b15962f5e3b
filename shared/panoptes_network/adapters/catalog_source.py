"""Where a deployed service finds its star catalog file.

Locally the catalog is a file (``PANOPTES_CATALOG`` or the default cache path). A deployed
function has no such file: set ``PANOPTES_CATALOG`` to a ``gs://bucket/path.parquet`` URI and
the file is downloaded once per instance, at first use, to local disk (``/tmp``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from panoptes_network.catalog.local_file import default_catalog_path
from panoptes_network.pipeline.settings import Settings

__all__ = ["catalog_path"]


def catalog_path(environ: Mapping[str, str] | None = None, cache_dir: Path | None = None) -> Path:
    """Return a local path of the catalog, downloading it first when it is a ``gs://`` URI.

    Parameters
    ----------
    environ : Mapping, optional
        The environment (``os.environ`` by default).
    cache_dir : Path, optional
        Where a downloaded catalog goes (the system temporary folder by default).

    Returns
    -------
    Path
        The catalog file to open with :func:`panoptes_network.catalog.local_file.open_catalog`.
    """
    env = os.environ if environ is None else environ
    uri = Settings.from_env(env).catalog
    if not uri.startswith("gs://"):
        return default_catalog_path(env)
    bucket, _, name = uri[5:].partition("/")
    target = (cache_dir or Path(tempfile.gettempdir())) / "panoptes-catalog" / Path(name).name
    if not target.exists():
        from google.cloud import storage

        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        storage.Client().bucket(bucket).blob(name).download_to_filename(str(partial))
        partial.replace(target)
    return target
