"""Locally, `wa-admin` reads and writes tenant secrets with the key `make run` made."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from tenant_secrets.master_keys import LOCAL_KEY_FILE_NAME, ensure_local_master_key
from tests.admin.conftest import ACCESS_TOKEN, Cli


@pytest.fixture
def make_run_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder as `make run` leaves it, and no master key in the environment."""
    ensure_local_master_key(tmp_path / LOCAL_KEY_FILE_NAME)
    monkeypatch.setenv("APP_DATA_DIR", str(tmp_path))
    _unset_master_keys(monkeypatch)
    return tmp_path


def _unset_master_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset every master-key variable so that the test's end restores them, including the one
    main() sets: monkeypatch only restores a variable it saw, so set each before deleting it."""
    for name in ("LOCAL_MASTER_KEY", "LOCAL_MASTER_KEY_FILE", "KMS_KEY_ID"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


async def test_without_a_configured_key_the_cli_uses_make_runs_key_and_says_so(
    cli: Cli, db: asyncpg.Connection, make_run_data_dir: Path
) -> None:
    added = await cli("add-tenant", "--email", "shop@example.com")
    stored = await cli(
        "set-whatsapp", "shop@example.com", "--phone-number-id", "123456789", "--access-token-stdin",
        stdin=ACCESS_TOKEN + "\n",
    )  # fmt: skip
    listed = await cli("list")

    assert added.code == stored.code == listed.code == 0
    key_file = make_run_data_dir / LOCAL_KEY_FILE_NAME
    assert (
        added.err
        == f"note: using the local master key {key_file} (make run's; no KMS_KEY_ID, LOCAL_MASTER_KEY or LOCAL_MASTER_KEY_FILE is set)\n"
    )
    assert "…" + ACCESS_TOKEN[-4:] in listed.out and "(unreadable)" not in listed.out


async def test_without_any_key_the_cli_creates_none(
    cli: Cli, db: asyncpg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_DATA_DIR", str(tmp_path))
    _unset_master_keys(monkeypatch)
    await cli("add-tenant", "--email", "shop@example.com")

    result = await cli(
        "set-whatsapp", "shop@example.com", "--phone-number-id", "123456789", "--access-token-stdin",
        stdin=ACCESS_TOKEN + "\n",
    )  # fmt: skip

    result.assert_one_line_error("no master key")
    assert not (tmp_path / LOCAL_KEY_FILE_NAME).exists()
