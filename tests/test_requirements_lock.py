"""The lock files `make run` and `make test` install from: they pin what pyproject.toml asks for."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ops.database import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
PROJECT = canonicalize_name(PYPROJECT["project"]["name"])
# The first line of each entry: `name==version`, then ` ; marker` where it holds for some systems only.
ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)(?P<marker>[^\\]*)", re.M)
DEV_TOOLS = {"pytest", "mypy", "ruff", "moto", "cfn-lint", "hypothesis", "types-boto3", "asyncpg-stubs"}


def entries(lock: str) -> set[str]:
    text = (PROJECT_ROOT / "requirements" / lock).read_text()
    return {" ".join(match.group(0).split()) for match in ENTRY.finditer(text)}


def pinned(lock: str) -> dict[str, set[str]]:
    """Each package's versions in a lock file (two where the version depends on the Python)."""
    found: dict[str, set[str]] = {}
    for match in ENTRY.finditer((PROJECT_ROOT / "requirements" / lock).read_text()):
        found.setdefault(canonicalize_name(match["name"]), set()).add(match["version"])
    return found


def asked_for(*groups: str) -> dict[str, str]:
    """pyproject.toml's pins in the runtime list and the named extras (the project itself left out)."""
    lists = [PYPROJECT["project"]["dependencies"]]
    lists += [PYPROJECT["project"]["optional-dependencies"][group] for group in groups]
    asked: dict[str, str] = {}
    for line in (line for listed in lists for line in listed):
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) != PROJECT:
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", f"{line}: pyproject.toml pins exact versions"
            asked[canonicalize_name(requirement.name)] = specifier.version
    return asked


def not_locked(lock: str, *groups: str) -> dict[str, str]:
    """pyproject.toml's pins (the runtime list and the named extras) that the lock file lacks."""
    locked = pinned(lock)
    return {name: version for name, version in asked_for(*groups).items() if locked.get(name) != {version}}


def test_the_dev_lock_pins_every_version_pyproject_asks_for() -> None:
    assert not not_locked("dev.txt", "local", "dev"), "run `make lock` after changing pyproject.toml"


def test_the_local_lock_pins_the_runtime_and_local_versions_and_no_dev_tool() -> None:
    assert not not_locked("local.txt", "local"), "run `make lock` after changing pyproject.toml"
    assert not DEV_TOOLS & pinned("local.txt").keys()


def test_the_dev_lock_holds_every_entry_of_the_local_lock() -> None:
    """The Makefile counts a dev install as a local one too."""
    assert entries("local.txt") <= entries("dev.txt")
