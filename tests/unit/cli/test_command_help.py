"""The commands people type: quick, plain help; one-line errors for bad input or no cloud.

``--help`` of every ``bin/`` command prints at once, without setting up, linting or starting
the stack; help texts carry no reST markup; every option has a help string; and
``bin/lightcurve`` / ``bin/upload`` check their input before making cloud clients.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from panoptes_network.cli import plain_text, summary

ROOT = Path(__file__).resolve().parents[3]
COMMANDS = sorted(path.name for path in (ROOT / "bin").iterdir() if path.is_file())
#: Generous: a help that sets up, lints or starts the stack takes minutes, not seconds.
TIMEOUT = 60
REST_MARKUP = ("``", ":mod:", ":func:", ":class:", ":meth:", ":attr:", ":data:")
#: A stand-in for a command that must not run: it leaves a marker file and fails.
STUB = '#!/usr/bin/env bash\ntouch "$(dirname "$0")/../{marker}"\nexit 1\n'
#: Environment variables that point the commands at the local stack or a cloud project.
CLOUD_VARIABLES = ("PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "STORAGE_EMULATOR_HOST")


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def _no_cloud_environment() -> dict[str, str]:
    """The environment without the stack's variables and with credentials that do not exist."""
    env = {k: v for k, v in os.environ.items() if k not in CLOUD_VARIABLES}
    env["GOOGLE_APPLICATION_CREDENTIALS"] = "/nonexistent/panoptes-credentials.json"
    return env


def _assert_plain_help(command: str, output: str) -> None:
    assert output.strip(), f"bin/{command} --help printed nothing"
    assert "usage" in output.lower() or f"bin/{command}" in output, output
    for markup in REST_MARKUP:
        assert markup not in output, f"bin/{command} --help shows reST markup {markup!r}"


def test_every_command_is_covered():
    assert set(COMMANDS) >= {
        "bench",
        "catalog",
        "dead-letters",
        "demo",
        "dev",
        "setup",
        "test",
        "upload",
    }


@pytest.mark.parametrize("command", COMMANDS)
def test_help_prints_at_once_in_plain_text(command: str):
    done = _run([str(ROOT / "bin" / command), "--help"], cwd=ROOT)
    assert done.returncode == 0, done.stderr
    _assert_plain_help(command, done.stdout + done.stderr)
    assert "Traceback" not in done.stderr


#: A stand-in for ``python -m emulator.stack``: its help is the real one; any other call
#: (status, env, up, ...) leaves a marker file and answers "not running" (exit status 3).
STACK_STUB = f"""import os
import sys
from pathlib import Path

if {{"-h", "--help"}} & set(sys.argv[1:]):
    os.chdir({str(ROOT)!r})
    os.execv(sys.executable, [sys.executable, "-m", "emulator.stack", *sys.argv[1:]])
(Path(__file__).resolve().parents[1] / "stack-ran").touch()
sys.exit(3)
"""


def _make_sandbox(root: Path, with_venv: bool) -> Path:
    """Copy bin/ into ``root``, with an apt-get that only fails and, set up, the real .venv.

    Set up, ``root`` also gets the real infra/ and tests/ and a stand-in emulator package whose
    stack leaves a marker when it is asked anything but its help.
    """
    shutil.copytree(ROOT / "bin", root / "bin")
    fake_path = root / "fake-path"
    fake_path.mkdir()
    apt_get = fake_path / "apt-get"
    apt_get.write_text(STUB.format(marker="apt-get-ran"))
    apt_get.chmod(0o755)
    if with_venv:
        for name in (".venv", "infra", "tests"):
            (root / name).symlink_to(ROOT / name)
        emulator = root / "emulator"
        emulator.mkdir()
        (emulator / "__init__.py").write_text("")
        (emulator / "stack.py").write_text(STACK_STUB)
    return root


def _stub(root: Path, command: str) -> None:
    script = root / "bin" / command
    script.write_text(STUB.format(marker=f"{command}-ran"))
    script.chmod(0o755)


def _sandbox_env(root: Path) -> dict[str, str]:
    return dict(os.environ, PATH=f"{root / 'fake-path'}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize("with_venv", [True, False], ids=["set-up", "not-set-up"])
@pytest.mark.parametrize("command", COMMANDS)
def test_help_runs_neither_setup_nor_the_stack(tmp_path: Path, command: str, with_venv: bool):
    sandbox = _make_sandbox(tmp_path, with_venv)
    for other in ("setup", "dev"):
        if other != command:
            _stub(sandbox, other)
    done = _run([str(sandbox / "bin" / command), "-h"], cwd=sandbox, env=_sandbox_env(sandbox))
    ran = sorted(path.name for path in sandbox.glob("*-ran"))
    assert ran == [], f"bin/{command} -h ran {ran}: {done.stderr}"
    assert done.returncode == 0, done.stderr
    _assert_plain_help(command, done.stdout + done.stderr)
    if not with_venv:
        assert not (sandbox / ".venv").exists()


def test_dev_help_lists_its_commands():
    done = _run([str(ROOT / "bin" / "dev"), "--help"], cwd=ROOT)
    assert done.returncode == 0, done.stderr
    for name in ("up", "down", "status", "env", "restart", "stop", "start", "dead-letters"):
        assert re.search(rf"^\s+{name}\s{{2,}}\S", done.stdout, re.MULTILINE), (
            f"no line for {name} in:\n{done.stdout}"
        )


def test_test_help_is_its_own_short_usage():
    done = _run([str(ROOT / "bin" / "test"), "--help"], cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "bin/test" in done.stdout
    assert "pytest" in done.stdout
    assert len(done.stdout.splitlines()) < 20


def _one_line_error(done: subprocess.CompletedProcess[str], prefix: str) -> str:
    lines = done.stderr.splitlines()
    assert "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{prefix}: "), lines[0]
    return lines[0]


@pytest.fixture
def root_without_stack(tmp_path: Path) -> Path:
    """A copy of bin/ beside the real .venv whose ``emulator.stack status`` finds no stack."""
    return _make_sandbox(tmp_path, with_venv=True)


def test_lightcurve_rejects_a_bad_id_in_one_line():
    done = _run([str(ROOT / "bin" / "lightcurve"), "bad-id"], cwd=ROOT, env=_no_cloud_environment())
    assert done.returncode != 0
    assert "bad-id" in _one_line_error(done, "lightcurve")


def test_lightcurve_without_a_stack_rejects_a_bad_id_before_any_client(root_without_stack: Path):
    done = _run(
        [str(root_without_stack / "bin" / "lightcurve"), "bad-id"],
        cwd=root_without_stack,
        env=_no_cloud_environment(),
    )
    assert done.returncode == 2
    assert "bad-id" in _one_line_error(done, "lightcurve")


def test_lightcurve_without_a_stack_or_credentials_says_what_to_do(root_without_stack: Path):
    done = _run(
        [str(root_without_stack / "bin" / "lightcurve"), "PAN001_14d3bd_20180216T110623"],
        cwd=root_without_stack,
        env=_no_cloud_environment(),
    )
    assert done.returncode == 1
    line = _one_line_error(done, "lightcurve")
    assert "bin/dev up" in line and "credentials" in line


def test_reconcile_without_a_stack_or_credentials_says_what_to_do(root_without_stack: Path):
    done = _run(
        [str(root_without_stack / "bin" / "reconcile")],
        cwd=root_without_stack,
        env=_no_cloud_environment(),
    )
    assert done.returncode == 1
    line = _one_line_error(done, "reconcile")
    assert "bin/dev up" in line and "credentials" in line


def test_upload_without_a_stack_or_credentials_says_what_to_do(
    root_without_stack: Path, tmp_path: Path
):
    folder = tmp_path / "frames" / "PAN001" / "14d3bd" / "20160909T081226"
    folder.mkdir(parents=True)
    (folder / "20160909T081226.jpg").write_bytes(b"not really a picture")
    done = _run(
        [str(root_without_stack / "bin" / "upload"), str(tmp_path / "frames")],
        cwd=root_without_stack,
        env=_no_cloud_environment(),
    )
    assert done.returncode == 1
    line = _one_line_error(done, "upload")
    assert "bin/dev up" in line and "credentials" in line


@pytest.mark.parametrize(
    "args",
    [
        ["PAN001_14d3bd_20189916T110623"],
        ["PAN001_14d3bd_20180216T110623", "--option", "no_such_option=1"],
        ["--sweep", "--quiet-minutes", "0"],
    ],
)
def test_lightcurve_checks_the_request_before_any_client(args: list[str]):
    done = _run(
        [sys.executable, "-m", "panoptes_network.cli.lightcurve", *args],
        cwd=ROOT,
        env=_no_cloud_environment(),
    )
    assert done.returncode == 2
    _one_line_error(done, "lightcurve")


def test_dead_letters_without_credentials_says_what_to_do():
    done = _run(
        [str(ROOT / "bin" / "dead-letters"), "--project", "demo-panoptes"],
        cwd=ROOT,
        env=_no_cloud_environment(),
    )
    assert done.returncode == 1
    line = _one_line_error(done, "dead-letters")
    assert "credentials" in line


def test_dead_letters_without_a_project_says_what_to_do():
    env = {k: v for k, v in _no_cloud_environment().items() if k != "GOOGLE_CLOUD_PROJECT"}
    done = _run([str(ROOT / "bin" / "dead-letters")], cwd=ROOT, env=env)
    assert done.returncode == 2
    assert "--project" in _one_line_error(done, "dead-letters")


def test_upload_rejects_a_missing_path_before_any_client(tmp_path: Path):
    done = _run(
        [sys.executable, "-m", "panoptes_network.cli.upload", str(tmp_path / "missing")],
        cwd=ROOT,
        env=_no_cloud_environment(),
    )
    assert done.returncode == 2
    _one_line_error(done, "upload")


def _parsers() -> dict[str, argparse.ArgumentParser]:
    from emulator import scheduler, stack, supervisor
    from infra import apply, deploy
    from panoptes_network.cli import catalog, dead_letters, demo, lightcurve, simulate, upload
    from tests.benchmarks import run

    modules = {
        "bin/catalog": catalog,
        "bin/dead-letters": dead_letters,
        "bin/demo": demo,
        "bin/lightcurve": lightcurve,
        "bin/simulate": simulate,
        "bin/upload": upload,
        "bin/dev": stack,
        "bin/deploy": deploy,
        "bin/bench": run,
        "emulator.scheduler": scheduler,
        "emulator.supervisor": supervisor,
        "infra.apply": apply,
    }
    return {name: module.build_parser() for name, module in modules.items()}


def _walk(
    name: str, parser: argparse.ArgumentParser
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """The parser and its subcommands' parsers, each with a name like ``bin/catalog cone``."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, subparser in action.choices.items():
                yield from _walk(f"{name} {command}", subparser)


def _every_parser() -> list:
    return [
        pytest.param(name, found, id=name)
        for top, parser in _parsers().items()
        for name, found in _walk(top, parser)
    ]


@pytest.mark.parametrize("name, parser", _every_parser())
def test_every_argument_has_help(name: str, parser: argparse.ArgumentParser):
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if not (action.help or "").strip():
            missing.append("/".join(action.option_strings) or action.dest)
        if isinstance(action, argparse._SubParsersAction):
            missing += [
                f"{name} {choice.dest}"
                for choice in action._choices_actions
                if not (choice.help or "").strip()
            ]
    assert missing == [], f"{name}: no help for {missing}"


@pytest.mark.parametrize("name, parser", _every_parser())
def test_help_texts_carry_no_rest_markup(name: str, parser: argparse.ArgumentParser):
    text = parser.format_help()
    for markup in REST_MARKUP:
        assert markup not in text, f"{name} --help shows {markup!r}:\n{text}"


@pytest.mark.parametrize(
    "text, plain",
    [
        ("``bin/lightcurve``: queue", "bin/lightcurve: queue"),
        (
            "see :mod:`panoptes_network.ingest.upload_plan`",
            "see panoptes_network.ingest.upload_plan",
        ),
        ("(:func:`~panoptes_network.simulation.observing.bright_moon`)", "(bright_moon)"),
        ("layout (:mod:`..synthetic_frame`)", "layout (synthetic_frame)"),
        (":class:`the chain <panoptes_network.pipeline.ChainContext>`", "the chain"),
        (":py:func:`a.b`", "a.b"),
        ("Subcommands::\n\n    cone RA DEC", "Subcommands:\n\n    cone RA DEC"),
        ("no markup: a key:value and `one` tick", "no markup: a key:value and `one` tick"),
    ],
)
def test_plain_text_drops_rest_markup(text: str, plain: str):
    assert plain_text(text) == plain


def test_summary_is_the_first_paragraph_on_one_line():
    docstring = "``bin/x``: does\n``y``.\n\nMore about :mod:`z`."
    assert summary(docstring) == "bin/x: does y."
    assert summary(None) == ""
