"""Migrations: from empty, twice, concurrently, and over a database the seed system filled."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from ops.migrate import discover_migrations, migrate
from ops.model_upgrade import DEPLOYMENT_DEFAULT, upgrade_retired_models
from providers.groq_models import DEFAULT_CHAT_MODEL
from tenant_secrets.master_keys import Keyring, MasterKeyNotConfigured
from tenant_secrets.secrets_crypto import SecretColumn, decrypt_secret
from tests.conftest import CreateDatabase
from tests.seed import seed_queries

SEED_DDL = """
CREATE SCHEMA auth;
CREATE TABLE auth.users (id uuid PRIMARY KEY, email text);
CREATE TABLE user_whatsapp_config (
  id uuid PRIMARY KEY, user_id uuid REFERENCES auth.users(id), access_token text NOT NULL,
  phone_number_id text NOT NULL, app_id text, app_secret text, webhook_url text,
  is_active boolean DEFAULT true, created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now());
CREATE TABLE user_groq_config (
  id uuid PRIMARY KEY, user_id uuid REFERENCES auth.users(id), api_key text NOT NULL,
  model text DEFAULT 'llama3-70b-8192', temperature numeric DEFAULT 0.7,
  created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now());
CREATE TABLE customer_conversations (
  id uuid PRIMARY KEY, user_id uuid REFERENCES auth.users(id), phone_number text,
  content text, sender text, source text, created_at timestamptz DEFAULT now());
INSERT INTO auth.users VALUES
  ('00000000-0000-0000-0000-00000000000a', 'a@example.com'),
  ('00000000-0000-0000-0000-00000000000b', 'b@example.com');
INSERT INTO user_whatsapp_config (id, user_id, access_token, phone_number_id, is_active, updated_at)
VALUES
  ('10000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000a',
   'EAA-old', '123456789', true, now() - interval '2 days'),
  ('10000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-00000000000b',
   'EAA-new', '123456789', true, now());
INSERT INTO user_groq_config (id, user_id, api_key)
VALUES ('20000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-00000000000a', 'gsk-a');
INSERT INTO customer_conversations (id, user_id, phone_number, content, sender, source)
VALUES
  ('30000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000a',
   '+242066582610', 'Hello', 'user', 'whatsapp'),
  ('30000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-00000000000a',
   '+242066582610', 'Bonjour...', 'bot', 'whatsapp');
"""


def reveal(stored: str, tenant_id: object) -> str:
    assert isinstance(tenant_id, uuid.UUID)
    return decrypt_secret(Keyring.from_env(), stored, column=SecretColumn.ACCESS_TOKEN, tenant_id=tenant_id)


async def applied_versions(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        return [row["version"] for row in rows]
    finally:
        await conn.close()


async def test_migrates_an_empty_database(create_database: CreateDatabase) -> None:
    url = await create_database()
    applied = await migrate(url)
    assert applied == [m.version for m in discover_migrations()]
    assert await applied_versions(url) == applied


async def test_second_run_applies_nothing(create_database: CreateDatabase) -> None:
    url = await create_database()
    await migrate(url)
    assert await migrate(url) == []


async def test_concurrent_runs_apply_each_migration_once(create_database: CreateDatabase) -> None:
    url = await create_database()
    results = await asyncio.gather(*(migrate(url) for _ in range(4)))
    all_applied = [version for result in results for version in result]
    assert sorted(all_applied) == [m.version for m in discover_migrations()]


async def test_migrates_over_seed_tables_keeping_rows(create_database: CreateDatabase) -> None:
    url = await create_database()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SEED_DDL)
        await migrate(url)

        assert await conn.fetchval("SELECT count(*) FROM customer_conversations") == 2
        # Only the most recently updated of two active rows for one number stays active.
        active = await conn.fetch(
            "SELECT user_id, access_token FROM user_whatsapp_config"
            " WHERE phone_number_id = '123456789' AND is_active"
        )
        assert [reveal(row["access_token"], row["user_id"]) for row in active] == ["EAA-new"]
        groq = await conn.fetchrow("SELECT model, history_length, fallback_text FROM user_groq_config")
        assert groq is not None
        # The seed's retired default moves to Groq's current replacement (providers.groq_models).
        assert groq["model"] == "openai/gpt-oss-120b"
        assert groq["history_length"] == 10
        assert groq["fallback_text"].startswith("Désolé")
        # The database now refuses a second active row for the same number.
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "UPDATE user_whatsapp_config SET is_active = true"
                " WHERE id = '10000000-0000-0000-0000-00000000000a'"
            )
    finally:
        await conn.close()


async def test_new_groq_rows_default_to_a_current_model(db: asyncpg.Connection) -> None:
    user_id = await db.fetchval("INSERT INTO auth.users (email) VALUES ('x@example.com') RETURNING id")
    model = await db.fetchval(
        "INSERT INTO user_groq_config (user_id, api_key) VALUES ($1, 'k') RETURNING model", user_id
    )
    assert model == DEFAULT_CHAT_MODEL


async def test_retired_vision_and_speech_models_go_back_to_the_deployments_default(
    db: asyncpg.Connection,
) -> None:
    user_id = await db.fetchval("INSERT INTO auth.users (email) VALUES ('x@example.com') RETURNING id")
    await db.execute(
        "INSERT INTO user_groq_config (user_id, api_key, vision_model, transcription_model)"
        " VALUES ($1, 'k', 'meta-llama/llama-4-scout-17b-16e-instruct', 'distil-whisper-large-v3-en')",
        user_id,
    )

    upgrades = await upgrade_retired_models(db)

    assert {(u.retired, u.replacement) for u in upgrades} == {
        ("meta-llama/llama-4-scout-17b-16e-instruct", DEPLOYMENT_DEFAULT),
        ("distil-whisper-large-v3-en", DEPLOYMENT_DEFAULT),
    }
    row = await db.fetchrow("SELECT vision_model, transcription_model FROM user_groq_config")
    assert row is not None and (row["vision_model"], row["transcription_model"]) == (None, None)
    assert await upgrade_retired_models(db) == []


async def test_seed_queries_run_verbatim(db: asyncpg.Connection) -> None:
    user_id = await db.fetchval("INSERT INTO auth.users (email) VALUES ('a@example.com') RETURNING id")
    await db.execute(
        "INSERT INTO user_whatsapp_config (user_id, access_token, phone_number_id)"
        " VALUES ($1, 'EAA', '123456789')",
        user_id,
    )
    await db.execute(
        "INSERT INTO customer_conversations (user_id, phone_number, content, sender, source)"
        " VALUES ($1, '+242066582610', 'Hello', 'user', 'whatsapp'),"
        "        (NULL, '+242000000000', 'Who?', 'user', 'whatsapp')",
        user_id,
    )
    queries = seed_queries()

    verification = await db.fetch(queries["verification"])
    assert [(r["email"], r["access_token"], r["groq_key"]) for r in verification] == [
        ("a@example.com", "Configured", "Missing")
    ]
    recent = await db.fetch(queries["recent_messages"])
    assert {r["content_preview"] for r in recent} == {"Hello", "Who?"}
    rate = await db.fetchrow(queries["identification_rate"])
    assert rate is not None
    assert (rate["total_messages"], rate["identified_messages"]) == (2, 1)
    assert float(rate["success_rate"]) == 50.0


async def test_migration_encrypts_the_seeds_plain_text_secrets(create_database: CreateDatabase) -> None:
    url = await create_database()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SEED_DDL)
        await conn.execute(
            "UPDATE user_whatsapp_config SET app_secret = 'seed-app-secret' WHERE access_token = 'EAA-new'"
        )
        await migrate(url)

        values = await conn.fetch(
            "SELECT access_token AS v FROM user_whatsapp_config"
            " UNION ALL SELECT app_secret FROM user_whatsapp_config WHERE app_secret IS NOT NULL"
            " UNION ALL SELECT api_key FROM user_groq_config"
        )
        assert len(values) == 4 and all(row["v"].startswith("enc:v1:") for row in values)
        groq = await conn.fetchrow("SELECT user_id, api_key FROM user_groq_config")
        assert groq is not None
        keyring = Keyring.from_env()
        assert (
            decrypt_secret(
                keyring, groq["api_key"], column=SecretColumn.GROQ_API_KEY, tenant_id=groq["user_id"]
            )
            == "gsk-a"
        )
        # The seed's Verification SQL still reports encrypted secrets as configured (a's number went inactive).
        verification = await conn.fetch(seed_queries()["verification"])
        assert {(r["email"], r["access_token"], r["groq_key"]) for r in verification} == {
            ("a@example.com", "Missing", "Configured"),
            ("b@example.com", "Configured", "Missing"),
        }
    finally:
        await conn.close()


async def test_migration_refuses_to_leave_plain_text_secrets_without_a_master_key(
    create_database: CreateDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await create_database()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SEED_DDL)
        monkeypatch.delenv("LOCAL_MASTER_KEY")
        with pytest.raises(MasterKeyNotConfigured, match="plain-text tenant secrets.*LOCAL_MASTER_KEY"):
            await migrate(url)
        # The schema migrations are in; the secrets stay as they were until a key is configured.
        assert (
            await conn.fetchval("SELECT count(*) FROM user_whatsapp_config WHERE access_token LIKE 'EAA-%'")
            == 2
        )
    finally:
        await conn.close()
