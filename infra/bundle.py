"""The deployable bundle of a service: its code, the shared package and its locked requirements.

A service deploys from one folder (the source of a Cloud Function, the build context of a Cloud
Run image) that :func:`stage` makes under ``.dev/deploy/<service>``:

- the files of ``services/<service>`` (``main.py``, ``README.md``, a ``Dockerfile``);
- ``panoptes_network/``, a copy of the shared package's source with its package data. It is
  imported from the folder itself (a function's source root and the image's working
  directory are on ``sys.path``), not installed: pip's hash-checking mode refuses local
  directories;
- ``requirements.txt``, written by :func:`service_requirements`: the entries of
  ``requirements.lock`` that the shared package needs, with the service's extras, on the
  deployment target (CPython 3.11 on Linux x86_64), copied verbatim with their hashes. So a
  deployed service installs exactly the versions the tests ran against, and pip checks every
  file it downloads.

:func:`check_bundle` proves that a staged folder installs from its own ``requirements.txt`` in
a clean virtual environment (``pip --require-hashes --no-deps``, then ``pip check``) and that
its ``main`` imports there and holds the entry point.

The lock is made from ``requirements.txt`` by ``bin/lock``; the closure of a service's
requirements is walked through the dependency metadata of the ``.venv``, which ``bin/setup``
installs from that lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import tomllib
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

__all__ = [
    "BundleError",
    "LockedRequirement",
    "TARGET_ENVIRONMENT",
    "read_lock",
    "service_requirements",
    "stage",
    "check_bundle",
]

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
SHARED = ROOT / "shared"
SERVICES = ROOT / "services"
VENVS = ROOT / ".dev" / "deploy" / "venvs"
WHEELS = ROOT / ".dev" / "wheels"

#: The extra of the shared package every service installs (the cloud clients, the web
#: framework); the extras a service adds (``raw`` for make-rgb-fits) come from its caller.
BASE_EXTRAS = ("cloud",)

#: The marker environment of the deployment target: Cloud Functions' ``python311`` runtime
#: and the ``python:3.11-slim-bookworm`` image, CPython 3.11 on Linux x86_64. The lock's
#: markers split Python versions at minor releases only (a unit test checks it), so 3.11.0
#: stands for every 3.11 release. The kernel's release and version are unknown: empty.
TARGET_ENVIRONMENT: Mapping[str, str] = {
    "implementation_name": "cpython",
    "implementation_version": "3.11.0",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_system": "Linux",
    "platform_version": "",
    "python_full_version": "3.11.0",
    "python_version": "3.11",
    "sys_platform": "linux",
}

#: How many lines of a failing command's output a :class:`BundleError` quotes.
ERROR_TAIL_LINES = 15

GENERATED_HEADER = """\
# Generated from requirements.lock by bin/deploy (infra/bundle.py): do not edit.
# The requirements of {project} on CPython 3.11, Linux x86_64, each entry
# as the lock has it, pinned with its hashes: pip install --require-hashes --no-deps -r this.
# The shared package itself is not listed: its source ships beside this file
# (panoptes_network/).
"""


class BundleError(RuntimeError):
    """A service bundle cannot be made or does not install: the message says which and why."""


@dataclass(frozen=True)
class LockedRequirement:
    r"""One entry of ``requirements.lock``.

    Attributes
    ----------
    name : str
        Canonical distribution name (PEP 503: lower case, runs of ``-_.`` as ``-``).
    version : str
        The pinned version, as the lock writes it.
    marker : str or None
        The entry's environment marker (``sys_platform == 'win32'``), None when it has none.
    text : str
        The entry verbatim: its ``name==version ; marker \`` line and its ``--hash=`` lines,
        newline-terminated, without the lock's ``# via`` comments.
    """

    name: str
    version: str
    marker: str | None
    text: str


def _lock_entries(path: Path) -> Iterable[str]:
    """Yield the text of every requirement entry of a pip requirements file, verbatim."""
    lines = path.read_text().splitlines(keepends=True)
    entry: list[str] = []
    for line in lines:
        if entry:
            entry.append(line)
        elif line[:1].isalnum():
            entry = [line]
        else:
            continue
        if not line.rstrip("\r\n").endswith("\\"):
            yield "".join(entry)
            entry = []
    if entry:
        raise BundleError(f"{path}: the last entry ends in a line continuation: run bin/lock")


def read_lock(
    path: Path = LOCK, environment: Mapping[str, str] = TARGET_ENVIRONMENT
) -> dict[str, LockedRequirement]:
    """Read the entries of a lock file that apply to one environment.

    Parameters
    ----------
    path : Path
        A lock written by ``bin/lock`` (``uv pip compile --generate-hashes``), by default
        ``requirements.lock`` at the root of the repository.
    environment : Mapping of str to str
        The marker environment (PEP 508 names) the entries are for, by default the deployment
        target :data:`TARGET_ENVIRONMENT`. An entry whose marker does not hold there (another
        platform's package, a version for another Python) is left out.

    Returns
    -------
    dict of str to LockedRequirement
        By canonical name, in the order of the lock.

    Raises
    ------
    BundleError
        The file is missing, an entry is not one ``==`` pin with at least one hash, or two
        entries of one package both apply to ``environment``.
    """
    if not path.is_file():
        raise BundleError(f"{path} is missing: run bin/lock")
    entries: dict[str, LockedRequirement] = {}
    for text in _lock_entries(path):
        first = text.splitlines()[0].rstrip().removesuffix("\\").rstrip()
        try:
            requirement = Requirement(first)
        except InvalidRequirement as exc:
            raise BundleError(f"{path}: cannot read the entry {first!r}: {exc}") from exc
        pins = list(requirement.specifier)
        if len(pins) != 1 or pins[0].operator != "==" or "--hash=" not in text:
            raise BundleError(
                f"{path}: the entry {first!r} is not one == pin with its hashes: run bin/lock"
            )
        marker = requirement.marker
        if marker is not None and not marker.evaluate({**environment, "extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in entries:
            raise BundleError(
                f"{path}: two entries of {name} apply to the same environment: run bin/lock"
            )
        entries[name] = LockedRequirement(
            name, pins[0].version, None if marker is None else str(marker), text
        )
    return entries


def _applies(
    requirement: Requirement, extras: Iterable[str], environment: Mapping[str, str]
) -> bool:
    """Whether a requirement holds on ``environment`` for a distribution installed with extras."""
    if requirement.marker is None:
        return True
    return any(
        requirement.marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras)
    )


def _project_requirements(pyproject: Path, extras: tuple[str, ...]) -> list[Requirement]:
    """Return the requirements of the shared package with the given optional extras."""
    project = tomllib.loads(pyproject.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise BundleError(
            f"{pyproject}: no optional dependencies {', '.join(unknown)} "
            f"(it has: {', '.join(sorted(optional))})"
        )
    texts = list(project.get("dependencies", []))
    for extra in extras:
        texts.extend(optional[extra])
    return [Requirement(text) for text in texts]


def service_requirements(
    extras: tuple[str, ...] = (),
    lock: Path = LOCK,
    *,
    pyproject: Path = SHARED / "pyproject.toml",
    distribution: Callable[[str], importlib.metadata.Distribution] = (
        importlib.metadata.distribution
    ),
    environment: Mapping[str, str] = TARGET_ENVIRONMENT,
) -> str:
    """Return the ``requirements.txt`` of a service: its part of the lock, verbatim.

    The closure of the shared package's ``[project.dependencies]``, its ``cloud`` extra and
    ``extras``, walked through the dependency metadata of the installed distributions, with
    markers evaluated for ``environment`` and the extras each distribution is asked for.

    Parameters
    ----------
    extras : tuple of str
        The shared package's optional extras the service needs besides ``cloud`` (``raw`` for
        make-rgb-fits).
    lock : Path
        The lock file (``requirements.lock``).
    pyproject : Path
        The shared package's ``pyproject.toml``.
    distribution : callable
        Finds an installed distribution by name: by default ``importlib.metadata`` over the
        running interpreter's path (the ``.venv``, installed from the lock by ``bin/setup``).
    environment : Mapping of str to str
        The marker environment of the deployment target.

    Returns
    -------
    str
        A header comment, then the lock's entries of every needed distribution, sorted by
        name, each exactly as the lock has it (name, version, marker and hashes).

    Raises
    ------
    BundleError
        An extra the shared package lacks; a needed distribution the lock does not hold (for
        the target), whose locked version does not satisfy what requires it, that is not
        installed, or that is installed at another version than the lock's (run bin/setup).
    """
    locked = read_lock(lock, environment)
    wanted = tuple(dict.fromkeys((*BASE_EXTRAS, *extras)))
    pending = [
        (requirement, "shared/pyproject.toml")
        for requirement in _project_requirements(pyproject, wanted)
        if _applies(requirement, (), environment)
    ]
    walked: dict[str, frozenset[str]] = {}
    while pending:
        requirement, required_by = pending.pop()
        name = canonicalize_name(requirement.name)
        entry = locked.get(name)
        if entry is None:
            raise BundleError(
                f"{requirement.name} (required by {required_by}) is not in {lock.name} for "
                "CPython 3.11 on Linux: add it to requirements.txt and run bin/lock"
            )
        if not requirement.specifier.contains(entry.version, prereleases=True):
            raise BundleError(
                f"{lock.name} pins {name}=={entry.version}, but {required_by} requires "
                f"{requirement}: change the pin in requirements.txt and run bin/lock"
            )
        done = walked.get(name)
        with_extras = (done or frozenset()) | {canonicalize_name(e) for e in requirement.extras}
        if done == with_extras:
            continue
        try:
            installed = distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise BundleError(
                f"{name}=={entry.version} is in {lock.name} but not installed in this "
                "environment: run bin/setup"
            ) from None
        if Version(installed.version) != Version(entry.version):
            raise BundleError(
                f"{name}: this environment has {installed.version}, {lock.name} pins "
                f"{entry.version}: run bin/setup"
            )
        walked[name] = with_extras
        label = f"{name}[{','.join(sorted(with_extras))}]" if with_extras else name
        for text in installed.requires or []:
            dependency = Requirement(text)
            if _applies(dependency, with_extras, environment):
                pending.append((dependency, f"{label}=={entry.version}"))
    header = GENERATED_HEADER.format(project=f"panoptes-network[{','.join(wanted)}]")
    return header + "".join(locked[name].text for name in sorted(walked))


def stage(
    service: str,
    extras: tuple[str, ...],
    into: Path,
    *,
    services: Path = SERVICES,
    package: Path = SHARED / "panoptes_network",
    lock: Path = LOCK,
) -> Path:
    """Stage a service's deployable folder.

    Parameters
    ----------
    service : str
        The service's name: its folder under ``services/``.
    extras : tuple of str
        The shared package's extras the service needs besides ``cloud`` (see
        :func:`service_requirements`).
    into : Path
        Parent folder; ``<into>/<service>`` is replaced.
    services : Path
        The folder of the services (``services/``).
    package : Path
        The source of the shared package (``shared/panoptes_network``).
    lock : Path
        The lock file.

    Returns
    -------
    Path
        The staged folder: the service's files (without ``__pycache__``, ``*.pyc`` or a
        ``requirements.txt`` of its own), ``panoptes_network/`` with its package data, and
        the generated ``requirements.txt``.

    Raises
    ------
    BundleError
        The service has no folder with a ``main.py``, or its requirements cannot be made.
    """
    source = services / service
    if not (source / "main.py").is_file():
        raise BundleError(f"no service {service!r}: {source} has no main.py")
    requirements = service_requirements(extras, lock)
    target = into / service
    if target.exists():
        shutil.rmtree(target)
    generated = shutil.ignore_patterns("__pycache__", "*.pyc", "requirements.txt")
    shutil.copytree(source, target, ignore=generated)
    shutil.copytree(
        package,
        target / "panoptes_network",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    (target / "requirements.txt").write_text(requirements)
    return target


def _tail(text: str) -> str:
    """Return the last lines of a command's output, indented for an error message."""
    lines = [line for line in text.splitlines() if line.strip()][-ERROR_TAIL_LINES:]
    return "\n".join(f"    {line}" for line in lines)


def _run(
    command: list[str],
    step: str,
    staged: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run one step of the check; raise :class:`BundleError` naming it when it fails."""
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, cwd=cwd, env=env or _pip_env()
    )
    if result.returncode != 0:
        raise BundleError(
            f"{staged.name}: {step} failed (exit {result.returncode}; bundle {staged}):\n"
            f"{_tail(result.stderr or result.stdout)}"
        )


def _pip_env() -> dict[str, str]:
    """Return this process's environment without what would point pip at other packages."""
    return {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE")
    }


def _target_python(staged: Path) -> str:
    """Return a CPython 3.11 interpreter (the target's) to make a clean environment with."""
    if sys.implementation.name == "cpython" and sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if found is None:
        raise BundleError(
            f"{staged.name}: checking a bundle needs CPython 3.11, the deployment target's "
            f"Python (this is {sys.version.split()[0]}): put python3.11 on the PATH"
        )
    return found


def _install(
    staged: Path, venv: Path, wheels: Path, say: Callable[[str], object], count: int
) -> None:
    """Install a bundle's requirements into a new environment, from the wheel cache first.

    The environment is made without pip: this process's pip installs into it
    (``pip --python``), which saves bootstrapping a pip per environment.
    """
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    into = ["--python", str(venv / "bin" / "python")]
    requirements = ["-r", str(staged / "requirements.txt")]
    hashed = ["--quiet", "--require-hashes", "--no-deps"]
    # --no-compile: the environment runs one import per bundle, byte-compiling every module
    # of every package would take most of the install's time.
    offline = [*pip, *into, "install", *hashed, "--no-compile", "--no-index"]
    offline += ["--find-links", str(wheels)]
    say(f"{staged.name}: installing {count} locked packages into a clean environment {venv}")
    _run([_target_python(staged), "-m", "venv", "--without-pip", str(venv)], "venv", staged)
    first = subprocess.run(
        [*offline, *requirements], capture_output=True, text=True, check=False, env=_pip_env()
    )
    if first.returncode != 0:
        say(f"{staged.name}: downloading what {wheels} lacks (hash-checked)")
        wheels.mkdir(parents=True, exist_ok=True)
        download = [*pip, *into, "download", *hashed, *requirements, "--dest", str(wheels)]
        _run(download, "pip download --require-hashes", staged)
        _run([*offline, *requirements], "pip install --require-hashes --no-deps", staged)
    _run([*pip, *into, "check"], "pip check (a requirement the bundle lacks)", staged)


def check_bundle(
    staged: Path,
    entry_point: str,
    *,
    say: Callable[[str], object] = print,
    venvs: Path = VENVS,
    wheels: Path = WHEELS,
) -> None:
    """Prove that a staged bundle installs and imports in a clean virtual environment.

    The environment holds only the bundle's ``requirements.txt``, installed with
    ``pip install --require-hashes --no-deps`` (from the wheel cache ``wheels``; what it lacks
    is downloaded first, hash-checked) and checked with ``pip check``. It is kept under
    ``venvs/<sha256 of the requirements.txt>`` and reused once verified, so bundles with the
    same requirements install once. Then ``import main`` runs in the staged folder with a
    clean environment (``PYTHONPATH`` the folder, ``HOME`` kept, nothing else inherited)
    and ``main.<entry_point>`` must be callable.

    Parameters
    ----------
    staged : Path
        A folder made by :func:`stage`.
    entry_point : str
        The name of the function ``main.py`` exports (``handle``).
    say : callable
        Receives one line per step (progress).
    venvs : Path
        Where the verified environments are kept (``.dev/deploy/venvs``).
    wheels : Path
        The wheel cache (``.dev/wheels``).

    Raises
    ------
    BundleError
        Naming the staged folder and the failing step (``pip install``, ``pip check``,
        ``import main``) with the last lines of its error output.
    """
    requirements = staged / "requirements.txt"
    if not requirements.is_file() or not (staged / "main.py").is_file():
        raise BundleError(f"{staged} is not a staged bundle (no main.py or requirements.txt)")
    if not entry_point.isidentifier():
        raise BundleError(f"{staged.name}: {entry_point!r} is not a Python name")
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    venv = venvs / digest
    verified = venv / ".verified"
    venvs.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with open(venvs / f"{digest}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if verified.is_file():
            say(f"{staged.name}: reusing the verified environment {venv}")
        else:
            if venv.exists():
                shutil.rmtree(venv)
            count = sum(1 for _ in _lock_entries(requirements))
            try:
                _install(staged, venv, wheels, say, count)
            except BaseException:
                shutil.rmtree(venv, ignore_errors=True)
                raise
            verified.write_text(requirements.read_text())
    clean = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.defpath}",
        "PYTHONPATH": str(staged),
        "PYTHONNOUSERSITE": "1",
        # Byte code goes to the environment, not into the folder that gets deployed.
        "PYTHONPYCACHEPREFIX": str(venv / ".pycache"),
        "LANG": "C.UTF-8",
    }
    if "HOME" in os.environ:
        clean["HOME"] = os.environ["HOME"]
    say(f"{staged.name}: import main in the clean environment")
    _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            f"import main; assert callable(main.{entry_point}), 'main.{entry_point} is missing'",
        ],
        f"import main (entry point {entry_point})",
        staged,
        cwd=staged,
        env=clean,
    )
    say(f"{staged.name}: the bundle installs and imports ({time.monotonic() - start:.1f} s)")
