"""What the local stack keeps between bin/dev down and bin/dev up, and where.

``bin/dev up`` keeps the emulators' data in a data folder (``.dev/data`` unless
``PANOPTES_DEV_DIR`` moves ``.dev``; ``bin/dev up --in-memory`` keeps nothing)::

    firestore/<stamp>/   the newest export of the Firestore emulator: ``down`` asks the
                         running emulator for it (its export endpoint), ``up`` imports it
                         (``--import-data``)
    auth/<stamp>/        the newest export of the Auth emulator: the Firebase CLI writes it
                         when it stops (``--export-on-exit``), ``up`` imports it (``--import``)
    storage/             fake-gcs-server's filesystem backend: every object is a file,
                         written when it is stored, so there is nothing to save at ``down``

An export is first written under a name that starts with a dot (``.partial-<stamp>``,
``.exporting``) and renamed to ``<stamp>`` only once it is complete; older snapshots are
removed after that. ``up`` imports the newest ``<stamp>`` and removes dot folders. So a stop
that is cut short (a killed emulator, a power cut) leaves at most a dot folder, never a
half-written snapshot: the next ``up`` imports the previous one.

The Firestore emulator's own ``--export-on-exit`` is not used: it exports only when stopped
through its ``/shutdown`` endpoint (not on SIGTERM), and for the ``(default)`` database it
fails (it names the database ``projects/<p>/databases/`` and logs "Failed during export").
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = [
    "KeptData",
    "ExportFailed",
    "export_firestore",
]

#: How a snapshot folder is named: the UTC time of the export; sorts by time.
STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
#: Where the Firebase CLI writes the Auth export when it stops (adopted as a snapshot after).
AUTH_EXPORTING = ".exporting"
#: The file the Firebase CLI writes into an export (last, before it moves the export in place).
AUTH_METADATA = "firebase-export-metadata.json"
#: The name of the Firestore export inside its folder (``firestore.overall_export_metadata``).
FIRESTORE_EXPORT_NAME = "firestore"


class ExportFailed(RuntimeError):
    """An emulator did not export its data (the previous snapshot stays)."""


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime(STAMP_FORMAT)


def _snapshots(folder: Path) -> list[Path]:
    """Complete snapshots in ``folder``, oldest first (dot folders are never complete)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _human(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"  # not reached


def _when(snapshot: Path) -> str:
    """Return the time of a snapshot, from its name, for people."""
    try:
        moment = datetime.strptime(snapshot.name, STAMP_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return snapshot.name
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class KeptData:
    """The data folder of a stack that keeps its data.

    Parameters
    ----------
    root : Path
        The folder (``.dev/data``).
    """

    root: Path

    @property
    def firestore(self) -> Path:
        """Snapshots of the Firestore emulator."""
        return self.root / "firestore"

    @property
    def auth(self) -> Path:
        """Snapshots of the Auth emulator."""
        return self.root / "auth"

    @property
    def storage(self) -> Path:
        """fake-gcs-server's filesystem root."""
        return self.root / "storage"

    @property
    def auth_exporting(self) -> Path:
        """Where the Firebase CLI writes its export when it stops (``--export-on-exit``)."""
        return self.auth / AUTH_EXPORTING

    # -- up ---------------------------------------------------------------------------

    def prepare(self) -> list[str]:
        """Make the folders, adopt a complete Auth export, remove what a cut stop left.

        Returns
        -------
        list of str
            One line per export adopted or leftover removed (for the log of ``up``).
        """
        for folder in (self.firestore, self.auth, self.storage):
            folder.mkdir(parents=True, exist_ok=True)
        said = []
        if (self.auth_exporting / AUTH_METADATA).is_file():  # finished after the last down
            said.append(f"kept the Auth emulator's last export: {self.adopt_auth_export()}")
        for folder in (self.firestore, self.auth):
            for leftover in sorted(folder.glob(".*")):
                shutil.rmtree(leftover, ignore_errors=True)
                said.append(f"removed an unfinished export: {leftover}")
        return said

    def firestore_import(self) -> Path | None:
        """Return the export file ``up`` gives the Firestore emulator (None: none kept)."""
        for snapshot in reversed(_snapshots(self.firestore)):
            found = sorted(snapshot.glob("*.overall_export_metadata"))
            if found:
                return found[0]
        return None

    def auth_import(self) -> Path | None:
        """Return the export folder ``up`` gives the Auth emulator (None: none kept)."""
        for snapshot in reversed(_snapshots(self.auth)):
            if (snapshot / AUTH_METADATA).is_file():
                return snapshot
        return None

    # -- down -------------------------------------------------------------------------

    def new_firestore_export(self) -> Path:
        """Return a fresh, empty folder for an export that is not complete yet."""
        partial = self.firestore / f".partial-{_stamp()}"
        partial.mkdir(parents=True)
        return partial

    def keep_firestore_export(self, partial: Path) -> Path:
        """Make a complete export in ``partial`` the newest snapshot; drop older ones.

        Raises
        ------
        ExportFailed
            If ``partial`` holds no complete export (it is removed; the previous snapshot
            stays).
        """
        export = partial / FIRESTORE_EXPORT_NAME
        if not (export / f"{FIRESTORE_EXPORT_NAME}.overall_export_metadata").is_file():
            shutil.rmtree(partial, ignore_errors=True)
            raise ExportFailed(f"the Firestore emulator wrote no complete export in {partial}")
        return self._keep(self.firestore, export, cleanup=partial)

    def adopt_auth_export(self) -> Path | None:
        """Make the export the Firebase CLI wrote when it stopped the newest snapshot.

        The CLI writes its export in a temporary folder and moves it to
        :attr:`auth_exporting` whole, so a folder there with its metadata file is complete;
        anything else there is removed.

        Returns
        -------
        Path or None
            The new snapshot, or None when there was no complete export.
        """
        exported = self.auth_exporting
        if not exported.is_dir():
            return None
        if not (exported / AUTH_METADATA).is_file():
            shutil.rmtree(exported, ignore_errors=True)
            return None
        return self._keep(self.auth, exported)

    def _keep(self, folder: Path, complete: Path, cleanup: Path | None = None) -> Path:
        snapshot = folder / _stamp()
        complete.rename(snapshot)  # one rename: the snapshot appears whole or not at all
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
        for older in _snapshots(folder):
            if older != snapshot:
                shutil.rmtree(older, ignore_errors=True)
        return snapshot

    # -- what is kept -----------------------------------------------------------------

    def _storage_objects(self) -> tuple[int, int, int, int]:
        """Count fake-gcs-server's buckets, the ones holding objects, objects and their bytes."""
        if not self.storage.is_dir():
            return 0, 0, 0, 0
        buckets = [p for p in self.storage.iterdir() if p.is_dir()]
        holding = objects = size = 0
        for bucket in buckets:
            files = [p for p in bucket.rglob("*") if p.is_file()]
            holding += bool(files)
            objects += len(files)
            size += sum(p.stat().st_size for p in files)
        return len(buckets), holding, objects, size

    def auth_users(self) -> int | None:
        """Return the number of users in the newest Auth snapshot (None: none kept)."""
        snapshot = self.auth_import()
        if snapshot is None:
            return None
        try:
            accounts = json.loads((snapshot / "auth_export" / "accounts.json").read_text())
        except (OSError, ValueError):
            return 0
        return len(accounts.get("users") or [])

    def describe(self) -> list[str]:
        """Say what is kept, one line per emulator.

        Returns
        -------
        list of str
            E.g. ``Firestore: export of 2026-01-02 03:04:05 (12.3 kB)``.
        """
        lines = []
        found = self.firestore_import()
        if found is None:
            lines.append("Firestore: nothing kept")
        else:
            lines.append(
                f"Firestore: export of {_when(found.parent)} ({_human(_size(found.parent))})"
            )
        buckets, holding, count, size = self._storage_objects()
        lines.append(
            f"Cloud Storage: {count} object(s) in {holding} of {buckets} bucket(s) ({_human(size)})"
        )
        users = self.auth_users()
        if users is None:
            lines.append("Auth: nothing kept")
        else:
            lines.append(f"Auth: {users} user(s), export of {_when(self.auth_import())}")
        return lines

    def forget(self) -> list[str]:
        """Remove every kept thing; return what was there (:meth:`describe`, before).

        Returns
        -------
        list of str
            What was forgotten; empty when the folder did not exist.
        """
        if not self.root.exists():
            return []
        said = self.describe()
        shutil.rmtree(self.root)
        return said


def export_firestore(host: str, port: int, project: str, kept: KeptData) -> Path:
    """Ask a running Firestore emulator to export ``project``'s database; keep the export.

    The emulator writes into a new dot folder (:meth:`KeptData.new_firestore_export`); once
    its answer says it is done and its metadata file is there, the folder becomes the newest
    snapshot.

    Parameters
    ----------
    host, port : str, int
        Where the emulator listens.
    project : str
        The project whose ``(default)`` database is exported.
    kept : KeptData
        The data folder.

    Returns
    -------
    Path
        The new snapshot.

    Raises
    ------
    ExportFailed
        If the emulator does not answer or does not export (the previous snapshot stays).
    """
    partial = kept.new_firestore_export()
    body = {
        "database": f"projects/{project}/databases/(default)",
        "export_directory": str(partial),
        "export_name": FIRESTORE_EXPORT_NAME,
    }
    request = urllib.request.Request(
        f"http://{host}:{port}/emulator/v1/projects/{project}:export",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=120):
            pass
    except (urllib.error.URLError, OSError) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise ExportFailed(f"the Firestore emulator did not export ({exc})") from None
    return kept.keep_firestore_export(partial)
