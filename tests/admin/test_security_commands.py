"""issue-web-chat-key and rotate: keys shown once, secrets re-encrypted without a moment unreadable."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest

from handler.adapters.tenant_secrets import SecretOpener
from tenant_secrets.master_keys import Keyring, new_local_master_key
from tenant_secrets.secrets_crypto import SecretColumn, key_ref_of
from tenant_secrets.web_chat_keys import web_chat_key_matches
from tests.admin.conftest import ACCESS_TOKEN, GROQ_KEY, Cli, add_served_tenant, revealed

SECRET_COLUMNS = (
    "SELECT user_id, access_token AS stored, 'access_token' AS kind FROM user_whatsapp_config"
    " UNION ALL SELECT user_id, api_key, 'api_key' FROM user_groq_config"
)


async def test_issue_web_chat_key_prints_a_key_once_and_stores_its_digest(
    cli: Cli, db: asyncpg.Connection
) -> None:
    tenant_id = uuid.UUID(await add_served_tenant(cli, "shop@example.com", "123456789"))

    first = await cli("issue-web-chat-key", "shop@example.com")
    second = await cli("issue-web-chat-key", str(tenant_id))

    assert first.code == second.code == 0
    old_key, new_key = first.out.strip(), second.out.strip()
    assert old_key.startswith("wck_") and new_key.startswith("wck_") and old_key != new_key
    stored = await db.fetchval("SELECT key_hash FROM web_chat_keys WHERE user_id = $1", tenant_id)
    assert old_key not in stored and new_key not in stored
    assert web_chat_key_matches(tenant_id, new_key, stored)
    assert not web_chat_key_matches(tenant_id, old_key, stored)


async def test_issue_web_chat_key_refuses_an_unknown_tenant(cli: Cli, db: asyncpg.Connection) -> None:
    result = await cli("issue-web-chat-key", "nobody@example.com")
    result.assert_one_line_error("unknown tenant")
    assert await db.fetchval("SELECT count(*) FROM web_chat_keys") == 0


async def test_rotate_re_encrypts_every_secret_while_old_and_new_both_decrypt(
    cli: Cli, db: asyncpg.Connection, master_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_served_tenant(cli, "a@example.com", "111111111")
    await add_served_tenant(cli, "b@example.com", "222222222")
    before = await db.fetch(SECRET_COLUMNS)
    new_key = new_local_master_key()
    # Step 1 of a rotation: the new key first (encrypts), the old one kept to decrypt.
    rotating = {"LOCAL_MASTER_KEY": f"{new_key},{master_key}"}
    handler_during = SecretOpener(Keyring.from_env(rotating))

    result = await cli("rotate", env=rotating)

    assert result.code == 0, result.err
    assert result.out.strip().startswith("re-encrypted 4, encrypted 0 plain-text, 0 already")
    result.assert_no_secret()
    after = await db.fetch(SECRET_COLUMNS)
    new_ref = Keyring.from_env({"LOCAL_MASTER_KEY": new_key}).require_current().ref
    assert {key_ref_of(row["stored"]) for row in after} == {new_ref}
    # A handler configured for the rotation reads the values from before and after it.
    for row in [*before, *after]:
        column = SecretColumn.ACCESS_TOKEN if row["kind"] == "access_token" else SecretColumn.GROQ_API_KEY
        assert await handler_during.reveal(row["stored"], column, row["user_id"]) in (ACCESS_TOKEN, GROQ_KEY)
    # Step 3: the old key can go; everything reads with the new one alone.
    monkeypatch.setenv("LOCAL_MASTER_KEY", new_key)
    for row in after:
        column = SecretColumn.ACCESS_TOKEN if row["kind"] == "access_token" else SecretColumn.GROQ_API_KEY
        assert revealed(row["stored"], column, row["user_id"]) in (ACCESS_TOKEN, GROQ_KEY)
    again = await cli("rotate")
    assert again.out.strip().startswith("re-encrypted 0, encrypted 0 plain-text, 4 already")


async def test_rotate_without_the_old_key_fails_naming_the_variable_and_changes_nothing(
    cli: Cli, db: asyncpg.Connection
) -> None:
    await add_served_tenant(cli, "a@example.com", "111111111")
    before = await db.fetch(SECRET_COLUMNS)

    result = await cli("rotate", env={"LOCAL_MASTER_KEY": new_local_master_key()})

    assert result.code == 2 and "LOCAL_MASTER_KEY" in result.err
    result.assert_no_secret()
    assert await db.fetch(SECRET_COLUMNS) == before


async def test_commands_that_store_secrets_name_the_missing_key_variables(
    cli: Cli, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    await cli("add-tenant", "--email", "a@example.com")
    monkeypatch.delenv("LOCAL_MASTER_KEY")
    monkeypatch.setenv("APP_DATA_DIR", str(tmp_path))  # no make run key there to adopt

    result = await cli("set-groq", "a@example.com", "--api-key-stdin", stdin=GROQ_KEY + "\n")

    assert result.code == 2
    assert result.err == (
        "error: no master key to encrypt tenant secrets: set KMS_KEY_ID, LOCAL_MASTER_KEY or LOCAL_MASTER_KEY_FILE\n"
    )
    assert await db.fetchval("SELECT count(*) FROM user_groq_config") == 0
