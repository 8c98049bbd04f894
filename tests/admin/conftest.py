"""Running `wa-admin` in-process against the test database, and reading back what it changed."""

from __future__ import annotations

import asyncio
import io
import sys
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

import asyncpg
import pytest

from admin.cli import main
from tenant_secrets.master_keys import Keyring
from tenant_secrets.secrets_crypto import SecretColumn, decrypt_secret

# Long enough that `list` may show their last 4 characters; tests assert the rest never shows.
ACCESS_TOKEN = "EAAGtestAccessToken0123456789abcdefTOKN"
APP_SECRET = "appsecret0123456789abcdefSECR"
GROQ_KEY = "gsk_testGroqKey0123456789abcdefGROQ"
SECRETS = (ACCESS_TOKEN, APP_SECRET, GROQ_KEY)


@dataclass(frozen=True, slots=True)
class Result:
    code: int
    out: str
    err: str

    def assert_no_secret(self) -> None:
        for secret in SECRETS:
            assert secret not in self.out
            assert secret not in self.err

    def assert_one_line_error(self, *fragments: str) -> None:
        assert self.code == 2, (self.out, self.err)
        assert self.err.startswith("error: ")
        assert self.err.endswith("\n") and self.err.count("\n") == 1, self.err
        for fragment in fragments:
            assert fragment in self.err
        self.assert_no_secret()


class Cli(Protocol):
    def __call__(
        self, *argv: str, stdin: str = "", env: dict[str, str] | None = None
    ) -> Awaitable[Result]: ...


@pytest.fixture
def cli(
    db: asyncpg.Connection,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """`await cli("list")`: `main(argv)` on the emptied test database, with stdin and extra env vars."""
    monkeypatch.setenv("DATABASE_URL", database_url)

    async def run(*argv: str, stdin: str = "", env: dict[str, str] | None = None) -> Result:
        with monkeypatch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            patch.setattr(sys, "stdin", io.StringIO(stdin))
            capsys.readouterr()
            # main() runs its own event loop, so it gets a thread of its own.
            code = await asyncio.to_thread(main, list(argv))
            out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def revealed(stored: str | None, column: SecretColumn, tenant_id: object) -> str | None:
    """A stored secret decrypted (it must be encrypted and bound to `tenant_id`'s `column`)."""
    if stored is None:
        return None
    assert stored.startswith("enc:v1:"), "secrets are stored encrypted"
    return decrypt_secret(Keyring.from_env(), stored, column=column, tenant_id=uuid.UUID(str(tenant_id)))


_TABLE_CONTENTS = (
    "SELECT * FROM auth.users ORDER BY id",
    "SELECT * FROM user_whatsapp_config ORDER BY id",
    "SELECT * FROM user_groq_config ORDER BY id",
    "SELECT * FROM customer_conversations ORDER BY id",
)


async def snapshot(db: asyncpg.Connection) -> list[list[tuple[object, ...]]]:
    """Every row of every tenant table, to assert that a refused command changed nothing."""
    return [[tuple(row.values()) for row in await db.fetch(query)] for query in _TABLE_CONTENTS]


async def add_tenant(cli: Cli, email: str) -> str:
    result = await cli("add-tenant", "--email", email)
    assert result.code == 0, result.err
    return result.out.strip()


async def add_served_tenant(cli: Cli, email: str, phone_number_id: str) -> str:
    """A tenant with an active number, a token and a Groq key: one that can be served."""
    tenant_id = await add_tenant(cli, email)
    result = await cli(
        "set-whatsapp",
        email,
        "--phone-number-id",
        phone_number_id,
        "--access-token-env",
        "WA_TOKEN",
        env={"WA_TOKEN": ACCESS_TOKEN},
    )
    assert result.code == 0, result.err
    result = await cli("set-groq", email, "--api-key-stdin", stdin=GROQ_KEY + "\n")
    assert result.code == 0, result.err
    return tenant_id
