"""infra.bundle: a service's bundle ships its slice of requirements.lock, verbatim and hashed."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

from infra.bundle import (
    LOCK,
    ROOT,
    TARGET_ENVIRONMENT,
    BundleError,
    check_bundle,
    read_lock,
    service_requirements,
    stage,
)
from infra.spec import load

LOCK_TEXT = LOCK.read_text()
WINDOWS = {
    **TARGET_ENVIRONMENT,
    "os_name": "nt",
    "platform_system": "Windows",
    "sys_platform": "win32",
    "platform_machine": "AMD64",
}


def entries_of(requirements: str) -> dict[str, str]:
    """Split a hashed requirements file into its entries (first line to last hash line)."""
    entries: dict[str, str] = {}
    for match in re.finditer(
        r"(?m)^([A-Za-z0-9][^=\s]*)==[^\n]*\\\n(?:[ \t]+--hash=[^\n]*\n)+", requirements
    ):
        entries[match.group(1)] = match.group(0)
    return entries


def names_of(requirements: str) -> list[str]:
    return list(entries_of(requirements))


# --- the lock -----------------------------------------------------------------------------


def test_every_lock_entry_is_pinned_and_hashed_and_requirements_txt_is_covered():
    lock = read_lock()
    assert len(lock) > 50
    for entry in lock.values():
        assert entry.text.startswith(f"{entry.name}=={entry.version}")
        assert "--hash=sha256:" in entry.text
        assert ("\n" + entry.text) in LOCK_TEXT
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            pin = Requirement(line)
            name = re.sub(r"[-_.]+", "-", pin.name).lower()
            assert name in lock, f"{line} is not in requirements.lock: run bin/lock"
            assert f"=={lock[name].version}" == str(pin.specifier), line


def test_the_lock_forks_by_python_version_and_read_lock_takes_the_targets_entry():
    # contourpy (from matplotlib) is locked at two versions, one per Python range.
    assert LOCK_TEXT.count("\ncontourpy==") == 2
    py312 = {**TARGET_ENVIRONMENT, "python_version": "3.12", "python_full_version": "3.12.0"}
    assert read_lock()["contourpy"].version != read_lock(environment=py312)["contourpy"].version
    assert read_lock()["contourpy"].version == importlib.metadata.version("contourpy")


def test_the_target_patch_release_does_not_change_any_marker_of_the_lock():
    markers = re.findall(r"(?m)^[A-Za-z0-9][^;\n]* ; ([^\\\n]*?) \\$", LOCK_TEXT)
    assert markers, "the lock holds markers"
    late = {**TARGET_ENVIRONMENT, "python_full_version": "3.11.99"}
    late["implementation_version"] = "3.11.99"
    for text in markers:
        marker = Marker(text)
        assert marker.evaluate({**TARGET_ENVIRONMENT, "extra": ""}) == marker.evaluate(
            {**late, "extra": ""}
        ), text


# --- service_requirements -----------------------------------------------------------------


def test_a_function_bundle_holds_what_the_shared_package_needs_and_no_tools():
    requirements = service_requirements(())
    names = names_of(requirements)
    for needed in (
        "google-cloud-firestore",
        "google-api-core",
        "protobuf",
        "numpy",
        "astropy",
        "functions-framework",
        "google-auth",
        "pyjwt",
        "cryptography",
    ):
        assert needed in names, needed
    for tool in ("pytest", "ruff", "matplotlib", "uv", "import-linter", "rawpy", "pillow"):
        assert tool not in names, tool
    assert names == sorted(names)
    assert requirements.startswith("# Generated from requirements.lock by bin/deploy")
    assert "./shared" not in requirements and "panoptes-network==" not in requirements
    # Every line is a comment, an entry's first line or one of its hashes.
    for line in requirements.splitlines():
        assert line.startswith(("#", "    --hash=sha256:")) or line[0].isalnum(), line


def test_the_raw_extra_adds_rawpy_and_pillow():
    base = set(names_of(service_requirements(())))
    raw = set(names_of(service_requirements(("raw",))))
    assert raw - base == {"rawpy", "pillow"}
    assert base <= raw


def test_the_preview_extra_of_plate_solve_adds_pillow_only():
    assert load().services["plate-solve"].extras == ("preview",)
    base = set(names_of(service_requirements(())))
    preview = set(names_of(service_requirements(("preview",))))
    assert preview - base == {"pillow"}


def test_every_bundle_entry_is_byte_identical_to_the_locks():
    lock = read_lock()
    entries = entries_of(service_requirements(("raw",)))
    assert len(entries) > 40
    for name, text in entries.items():
        assert text == lock[name].text
        assert ("\n" + text) in LOCK_TEXT, name
    # And nothing but those entries and the header comment.
    body = service_requirements(("raw",)).split("\n", 5)[5]
    assert body == "".join(entries.values())


def test_the_closure_is_what_an_independent_resolver_finds(tmp_path):
    """uv, resolving ./shared[cloud,raw] for manylinux x86_64 with the lock as constraints."""
    pins = re.findall(r"(?m)^([A-Za-z0-9][^\\\n]*?) \\$", LOCK_TEXT)
    (tmp_path / "constraints.txt").write_text("\n".join(pins) + "\n")
    (tmp_path / "in.txt").write_text(
        f"panoptes-network[cloud,raw] @ {(ROOT / 'shared').as_uri()}\n"
    )
    result = subprocess.run(
        [ROOT / ".venv" / "bin" / "uv", "pip", "compile", tmp_path / "in.txt"]
        + ["-c", tmp_path / "constraints.txt", "--python-version", "3.11"]
        + ["--python-platform", "x86_64-manylinux_2_28", "--no-header", "--no-annotate", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    uv_names = {line.split("==")[0] for line in result.stdout.splitlines() if "==" in line} - {
        "panoptes-network"
    }
    assert uv_names == set(names_of(service_requirements(("raw",))))


def test_an_installed_version_differing_from_the_lock_is_named(tmp_path):
    installed = importlib.metadata.version("numpy")
    other = f"{installed}.post1"  # within every specifier on numpy, but not what is installed
    fake = tmp_path / "requirements.lock"
    fake.write_text(LOCK_TEXT.replace(f"\nnumpy=={installed} \\", f"\nnumpy=={other} \\"))
    assert read_lock(fake)["numpy"].version == other
    with pytest.raises(BundleError) as raised:
        service_requirements((), fake)
    message = str(raised.value)
    assert message.startswith("numpy:")
    assert installed in message and other in message and "run bin/setup" in message


def test_a_locked_version_outside_a_requirement_is_named(tmp_path):
    installed = importlib.metadata.version("numpy")
    fake = tmp_path / "requirements.lock"
    fake.write_text(LOCK_TEXT.replace(f"\nnumpy=={installed} \\", "\nnumpy==1.0 \\"))
    with pytest.raises(BundleError, match=r"pins numpy==1.0, but .* requires numpy"):
        service_requirements((), fake)


def test_a_needed_package_missing_from_the_lock_is_named(tmp_path):
    fake = tmp_path / "requirements.lock"
    entry = read_lock()["google-api-core"].text
    fake.write_text(LOCK_TEXT.replace(entry, ""))
    with pytest.raises(BundleError, match=r"google-api-core.*\(required by google-.*run bin/lock"):
        service_requirements((), fake)


def test_an_unknown_extra_is_refused_with_the_known_ones():
    with pytest.raises(BundleError, match=r"no optional dependencies rwa .*it has: .*raw"):
        service_requirements(("rwa",))


def test_a_dependency_for_older_pythons_is_left_out_of_the_bundle():
    # anyio (under starlette) wants exceptiongroup below Python 3.11 only: the lock (3.11 and
    # newer) does not hold it, so a walk that ignored markers would stop there.
    anyio_needs = [Requirement(r) for r in importlib.metadata.requires("anyio") or []]
    assert any(r.name == "exceptiongroup" and r.marker is not None for r in anyio_needs)
    assert "\nexceptiongroup==" not in LOCK_TEXT
    names = names_of(service_requirements(()))
    assert "anyio" in names and "exceptiongroup" not in names


# A tiny project with its own lock and installed metadata, to see the walk's markers alone.
TINY_HASH = "    --hash=sha256:" + "0" * 64 + "\n"


def tiny_project(tmp_path: Path, *, app_requires: list[str]):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "tiny"\ndependencies = ["app>=1"]\n'
        '[project.optional-dependencies]\ncloud = []\nextra = ["app[tz]"]\n'
    )
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        "# a lock\n"
        + f"app==1.0 \\\n{TINY_HASH}"
        + f"colorama==0.4.6 ; sys_platform == 'win32' \\\n{TINY_HASH}    # via app\n"
        + f"tzdata==1 \\\n{TINY_HASH}"
    )
    dists = {}
    for name, version, requires in [
        ("app", "1.0", app_requires),
        ("colorama", "0.4.6", []),
        ("tzdata", "1", []),
    ]:
        folder = tmp_path / f"{name}-{version}.dist-info"
        folder.mkdir()
        (folder / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
        )
        dists[name] = importlib.metadata.PathDistribution(folder)

    def bundle(extras=(), environment=TARGET_ENVIRONMENT) -> list[str]:
        text = service_requirements(
            extras,
            lock,
            pyproject=tmp_path / "pyproject.toml",
            distribution=dists.__getitem__,
            environment=environment,
        )
        return names_of(text)

    return bundle


def test_walk_evaluates_each_dependencys_marker_for_the_target(tmp_path):
    bundle = tiny_project(
        tmp_path,
        app_requires=['colorama; sys_platform == "win32"', 'tzdata; extra == "tz"'],
    )
    assert bundle() == ["app"]
    assert bundle(environment=WINDOWS) == ["app", "colorama"]
    assert bundle(("extra",)) == ["app", "tzdata"]


def test_walk_follows_an_unmarked_dependency(tmp_path):
    bundle = tiny_project(tmp_path, app_requires=["tzdata>=1"])
    assert bundle() == ["app", "tzdata"]


# --- stage --------------------------------------------------------------------------------


def test_stage_ships_the_service_the_package_with_its_data_and_the_requirements(tmp_path):
    services = tmp_path / "services"
    shutil.copytree(ROOT / "services" / "get-fits-header", services / "get-fits-header")
    junk = services / "get-fits-header" / "__pycache__"
    junk.mkdir()
    (junk / "main.cpython-311.pyc").write_bytes(b"stale")
    (services / "get-fits-header" / "requirements.txt").write_text("./shared[cloud]\n")
    source_package = tmp_path / "panoptes_network"
    shutil.copytree(ROOT / "shared" / "panoptes_network", source_package)
    (source_package / "__pycache__").mkdir(exist_ok=True)
    (source_package / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"stale")
    into = tmp_path / "deploy"
    (into / "get-fits-header").mkdir(parents=True)
    (into / "get-fits-header" / "left-over.txt").write_text("from an older stage")

    staged = stage("get-fits-header", (), into, services=services, package=source_package)

    assert staged == into / "get-fits-header"
    assert not (staged / "left-over.txt").exists()
    assert (staged / "main.py").read_bytes() == (
        services / "get-fits-header" / "main.py"
    ).read_bytes()
    assert (staged / "panoptes_network" / "__init__.py").is_file()
    csvs = sorted((source_package / "catalog" / "data").glob("*.csv"))
    assert csvs
    for csv in csvs:
        copy = staged / "panoptes_network" / "catalog" / "data" / csv.name
        assert copy.read_bytes() == csv.read_bytes()
    assert not list(staged.rglob("__pycache__")) and not list(staged.rglob("*.pyc"))
    assert not (staged / "shared").exists()
    assert (staged / "requirements.txt").read_text() == service_requirements(())


def test_stage_refuses_a_folder_without_main(tmp_path):
    with pytest.raises(BundleError, match="no service 'nope'"):
        stage("nope", (), tmp_path)


# --- check_bundle (real pip, a clean virtual environment) ---------------------------------


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """The get-fits-header bundle, checked once into a new folder of environments."""
    root = tmp_path_factory.mktemp("bundle")
    staged = stage("get-fits-header", (), root / "deploy")
    venvs = root / "venvs"
    assert not venvs.exists()
    said: list[str] = []
    start = time.monotonic()
    check_bundle(staged, "handle", say=said.append, venvs=venvs)
    return staged, venvs, said, time.monotonic() - start


def test_check_bundle_installs_and_imports_the_get_fits_header_bundle(checked):
    staged, venvs, said, first = checked
    assert any("installing" in line and "locked packages" in line for line in said), said
    assert [p.name for p in venvs.glob("*/.verified")] == [".verified"]
    assert not list(staged.rglob("__pycache__")), "the check leaves no byte code in the bundle"

    said = []
    start = time.monotonic()
    check_bundle(staged, "handle", say=said.append, venvs=venvs)
    second = time.monotonic() - start
    assert any("reusing" in line for line in said) and not any("installing" in s for s in said)
    print(f"check_bundle get-fits-header: first {first:.1f} s, reused {second:.1f} s")


def test_check_bundle_names_the_bundle_and_the_step_that_failed(checked, tmp_path):
    _, venvs, _, _ = checked
    staged = stage("get-fits-header", (), tmp_path)
    main = staged / "main.py"
    main.write_text(main.read_text().replace("def handle(", "def renamed("))
    with pytest.raises(BundleError) as raised:
        check_bundle(staged, "handle", say=lambda line: None, venvs=venvs)
    assert str(raised.value).startswith("get-fits-header: import main (entry point handle)")
    assert "has no attribute 'handle'" in str(raised.value)


def test_check_bundle_needs_a_clean_environment_not_the_callers(checked, tmp_path, monkeypatch):
    """A package only the caller's PYTHONPATH holds does not make a bundle pass."""
    _, venvs, _, _ = checked
    staged = stage("get-fits-header", (), tmp_path)
    (staged / "main.py").write_text("import tqdm\n\n\ndef handle():\n    pass\n")
    tqdm_home = Path(importlib.metadata.distribution("tqdm").locate_file(""))
    assert (tqdm_home / "tqdm" / "__init__.py").is_file()
    monkeypatch.setenv("PYTHONPATH", str(tqdm_home))
    with pytest.raises(BundleError, match="No module named 'tqdm'"):
        check_bundle(staged, "handle", say=lambda line: None, venvs=venvs)
