"""The command as operators run it: `python -m admin` in a subprocess, help, migrations, a database down."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from admin.cli import build_parser, main
from admin.commands import COMMANDS
from ops.migrate import discover_migrations
from tenant_secrets.secrets_crypto import SecretColumn
from tests.admin.conftest import ACCESS_TOKEN, GROQ_KEY, Cli, revealed
from tests.conftest import CreateDatabase

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run_module(*argv: str, database_url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "admin", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )


async def test_python_dash_m_admin_configures_a_tenant(db: asyncpg.Connection, database_url: str) -> None:
    added = await asyncio.to_thread(
        run_module, "add-tenant", "--email", "shop@example.com", database_url=database_url
    )
    assert added.returncode == 0, added.stderr
    tenant_id = added.stdout.strip()

    configured = await asyncio.to_thread(
        run_module, "set-whatsapp", tenant_id, "--phone-number-id", "123456789", "--access-token-stdin",
        database_url=database_url, stdin=ACCESS_TOKEN + "\n",
    )  # fmt: skip
    listed = await asyncio.to_thread(run_module, "list", database_url=database_url)

    assert configured.returncode == 0, configured.stderr
    assert listed.returncode == 0, listed.stderr
    assert tenant_id in listed.stdout and "…" + ACCESS_TOKEN[-4:] in listed.stdout
    for output in (added, configured, listed):
        assert ACCESS_TOKEN not in output.stdout + output.stderr
    stored = await db.fetchval("SELECT access_token FROM user_whatsapp_config")
    assert revealed(stored, SecretColumn.ACCESS_TOKEN, tenant_id) == ACCESS_TOKEN


async def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    overview = capsys.readouterr().out
    for name in COMMANDS:
        assert name in overview
        assert main([name, "--help"]) == 0
        assert capsys.readouterr().out.startswith(f"usage: wa-admin {name}")


def test_the_parser_knows_exactly_the_dispatched_commands() -> None:
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(subparsers.choices or ()) == set(COMMANDS)


async def test_an_unmigrated_database_is_refused_until_migrate(
    cli: Cli, create_database: CreateDatabase
) -> None:
    empty = await create_database()

    refused = await cli("list", env={"DATABASE_URL": empty})
    migrated = await cli("migrate", env={"DATABASE_URL": empty})
    again = await cli("migrate", env={"DATABASE_URL": empty})
    listed = await cli("list", env={"DATABASE_URL": empty})

    refused.assert_one_line_error("schema is not migrated", "run `make migrate`")
    every_version = ", ".join(migration.version for migration in discover_migrations())
    assert (migrated.code, migrated.out.strip()) == (0, f"applied: {every_version}")
    assert (again.code, again.out.strip()) == (0, "schema already up to date")
    assert (listed.code, listed.out) == (
        0,
        "email  id  phone_number_id  active  model  access_token  app_secret  groq_key\n(no tenants)\n",
    )


@pytest.mark.parametrize(
    ("unusable_url", "says"),
    [
        ("postgresql://admin:hunter22@127.0.0.1:1/none", "cannot connect to the database at DATABASE_URL (127.0.0.1:1/none): "),
        ("not a url", "DATABASE_URL is not a usable PostgreSQL URL (invalid DSN: "),
        ("postgresql://admin@db:hunter22/app", "DATABASE_URL is not a usable PostgreSQL URL (the port is not a number)"),
        ("postgresql://admin:hunter22@127.0.0.1/x?sslmode=maybe", "DATABASE_URL is not a usable PostgreSQL URL (`sslmode` "),
    ],
    ids=["unreachable", "not a url", "password where the port goes", "bad parameter"],
)  # fmt: skip
async def test_an_unusable_database_url_is_one_line_naming_it(cli: Cli, unusable_url: str, says: str) -> None:
    result = await cli("check", env={"DATABASE_URL": unusable_url})

    assert result.code == 2
    assert result.err.startswith("error: " + says) and result.err.count("\n") == 1
    assert "or unset it to use the embedded server" in result.err or "unset DATABASE_URL" in result.err
    assert "hunter22" not in result.err + result.out


async def test_secrets_from_stdin_never_reach_the_output(cli: Cli) -> None:
    outputs = [
        await cli("add-tenant", "--email", "shop@example.com"),
        await cli(
            "set-whatsapp",
            "shop@example.com",
            "--phone-number-id",
            "123456789",
            "--access-token-stdin",
            stdin=ACCESS_TOKEN + "\n",
        ),  # fmt: skip
        await cli("set-groq", "shop@example.com", "--api-key-stdin", stdin=GROQ_KEY + "\n"),
        await cli("set-groq", "nobody@example.com", "--api-key-stdin", stdin=GROQ_KEY + "\n"),
        await cli("set-groq", "shop@example.com", "--api-key-stdin", stdin=GROQ_KEY + " trailing\n"),
        await cli("list"),
        await cli("check"),
        await cli("stats"),
    ]
    assert [r.code for r in outputs] == [0, 0, 0, 2, 2, 0, 0, 0]
    for result in outputs:
        result.assert_no_secret()
