"""What `make run` and `make test` install on a fresh clone and after each other (dry runs of the
Makefile, `make -n`): the run gets the runtime and local lock only, the tests add the dev lock."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ops.database import PROJECT_ROOT

# What a `make PYTHON=… test` that runs this suite would pass down to the makes below.
INHERITED = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PYTHON")
FRESH_SHELL = {name: value for name, value in os.environ.items() if name not in INHERITED}


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The files the Makefile's install steps depend on, without any virtual environment."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    shutil.copytree(PROJECT_ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def dry_run(folder: Path, target: str) -> list[str]:
    """The commands `make TARGET` would run in `folder`, one per line."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", target],
        cwd=folder,
        env=FRESH_SHELL,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def installs(commands: list[str]) -> list[str]:
    return [command for command in commands if " install " in command or "-m venv" in command]


def variable(folder: Path, name: str) -> str:
    done = subprocess.run(
        ["make", "-s", "--eval", f"print-value: ; @echo $({name})", "print-value"],
        cwd=folder,
        env=FRESH_SHELL,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def installed(clone: Path, *stamps: str) -> None:
    """As if `make` had already done these steps (stamps newer than what they depend on)."""
    for stamp in stamps:
        path = clone / variable(clone, stamp)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def test_make_run_on_a_fresh_clone_installs_the_runtime_and_local_lock_only(clone: Path) -> None:
    commands = dry_run(clone, "run")

    assert any("requirements/local.txt" in command for command in installs(commands))
    assert not any("requirements/dev.txt" in command for command in commands)
    assert commands[-1] == ".venv/bin/python -m localrun"


def test_make_test_on_a_fresh_clone_installs_the_dev_lock(clone: Path) -> None:
    commands = dry_run(clone, "test")

    assert any("requirements/dev.txt" in command for command in installs(commands))
    assert commands[-1] == ".venv/bin/pytest"


@pytest.mark.parametrize("target", ["run", "test", "lint", "bench"])
def test_no_install_step_hides_its_progress(clone: Path, target: str) -> None:
    steps = installs(dry_run(clone, target))

    assert steps
    assert not [step for step in steps if re.search(r"(^|\s)(--quiet|-q+)(\s|$)", step)]


def test_make_test_after_make_run_adds_the_dev_lock_only(clone: Path) -> None:
    installed(clone, "UV_STAMP", "LOCAL")

    commands = installs(dry_run(clone, "test"))

    assert len(commands) == 1 and "requirements/dev.txt" in commands[0]


def test_make_run_after_make_test_installs_nothing(clone: Path) -> None:
    installed(clone, "UV_STAMP", "LOCAL", "DEV")

    assert dry_run(clone, "run") == [".venv/bin/python -m localrun"]
