"""add-tenant, set-whatsapp, set-groq, list, deactivate and reactivate, and every bad input they refuse."""

from __future__ import annotations

import uuid

import asyncpg

from providers.groq_models import DEFAULT_CHAT_MODEL
from tenant_secrets.secrets_crypto import SecretColumn
from tests.admin.conftest import (
    ACCESS_TOKEN,
    APP_SECRET,
    GROQ_KEY,
    Cli,
    add_served_tenant,
    add_tenant,
    revealed,
    snapshot,
)


async def test_add_tenant_prints_the_new_id(cli: Cli, db: asyncpg.Connection) -> None:
    result = await cli("add-tenant", "--email", "Shop@Example.com")

    assert result.code == 0
    tenant_id = uuid.UUID(result.out.strip())
    assert await db.fetchval("SELECT email FROM auth.users WHERE id = $1", tenant_id) == "shop@example.com"


async def test_add_tenant_refuses_a_duplicate_email(cli: Cli, db: asyncpg.Connection) -> None:
    await add_tenant(cli, "shop@example.com")
    before = await snapshot(db)

    result = await cli("add-tenant", "--email", "SHOP@example.com")

    result.assert_one_line_error("shop@example.com already exists")
    assert await snapshot(db) == before


async def test_add_tenant_refuses_a_malformed_email(cli: Cli, db: asyncpg.Connection) -> None:
    result = await cli("add-tenant", "--email", "not-an-email")

    result.assert_one_line_error("not an email address")
    assert await snapshot(db) == [[], [], [], []]


async def test_set_whatsapp_creates_the_config_from_env_secrets(cli: Cli, db: asyncpg.Connection) -> None:
    tenant_id = await add_tenant(cli, "shop@example.com")

    result = await cli(
        "set-whatsapp", tenant_id, "--phone-number-id", "123456789", "--app-id", "4242",
        "--access-token-env", "WA_TOKEN", "--app-secret-env", "WA_APP_SECRET",
        env={"WA_TOKEN": ACCESS_TOKEN, "WA_APP_SECRET": APP_SECRET},
    )  # fmt: skip

    assert result.code == 0, result.err
    assert "created" in result.out and "123456789" in result.out and "active" in result.out
    result.assert_no_secret()
    row = await db.fetchrow("SELECT * FROM user_whatsapp_config")
    assert row is not None
    assert (str(row["user_id"]), row["phone_number_id"], row["app_id"]) == (tenant_id, "123456789", "4242")
    assert row["is_active"] is True
    assert revealed(row["access_token"], SecretColumn.ACCESS_TOKEN, tenant_id) == ACCESS_TOKEN
    assert revealed(row["app_secret"], SecretColumn.APP_SECRET, tenant_id) == APP_SECRET


async def test_set_whatsapp_reads_token_then_app_secret_from_stdin(cli: Cli, db: asyncpg.Connection) -> None:
    await add_tenant(cli, "shop@example.com")

    result = await cli(
        "set-whatsapp", "shop@example.com", "--phone-number-id", "123456789",
        "--access-token-stdin", "--app-secret-stdin", "--inactive",
        stdin=f"{ACCESS_TOKEN}\n{APP_SECRET}\n",
    )  # fmt: skip

    assert result.code == 0, result.err
    result.assert_no_secret()
    row = await db.fetchrow("SELECT user_id, access_token, app_secret, is_active FROM user_whatsapp_config")
    assert row is not None
    assert row["is_active"] is False
    assert revealed(row["access_token"], SecretColumn.ACCESS_TOKEN, row["user_id"]) == ACCESS_TOKEN
    assert revealed(row["app_secret"], SecretColumn.APP_SECRET, row["user_id"]) == APP_SECRET


async def test_set_whatsapp_later_changes_only_what_is_given(cli: Cli, db: asyncpg.Connection) -> None:
    await add_served_tenant(cli, "shop@example.com", "111111111")

    result = await cli("set-whatsapp", "shop@example.com", "--phone-number-id", "222222222", "--inactive")

    assert result.code == 0, result.err
    assert "updated" in result.out
    rows = await db.fetch(
        "SELECT user_id, phone_number_id, access_token, is_active FROM user_whatsapp_config"
    )
    assert [
        (
            row["phone_number_id"],
            revealed(row["access_token"], SecretColumn.ACCESS_TOKEN, row["user_id"]),
            row["is_active"],
        )
        for row in rows
    ] == [("222222222", ACCESS_TOKEN, False)]


async def test_set_whatsapp_refuses_a_number_active_for_another_tenant(
    cli: Cli, db: asyncpg.Connection
) -> None:
    await add_served_tenant(cli, "first@example.com", "123456789")
    await add_tenant(cli, "second@example.com")
    before = await snapshot(db)

    result = await cli(
        "set-whatsapp", "second@example.com", "--phone-number-id", "123456789", "--access-token-stdin",
        stdin=ACCESS_TOKEN + "\n",
    )  # fmt: skip

    result.assert_one_line_error("123456789 is already active for another tenant")
    assert await snapshot(db) == before


async def test_set_whatsapp_accepts_the_number_of_another_tenant_when_inactive(
    cli: Cli, db: asyncpg.Connection
) -> None:
    await add_served_tenant(cli, "first@example.com", "123456789")
    await add_tenant(cli, "second@example.com")

    refused = await cli(
        "set-whatsapp", "second@example.com", "--phone-number-id", "123456789", "--access-token-stdin", "--inactive",
        stdin=ACCESS_TOKEN + "\n",
    )  # fmt: skip

    assert refused.code == 0, refused.err
    assert (
        await db.fetchval("SELECT count(*) FROM user_whatsapp_config WHERE phone_number_id = '123456789'")
        == 2
    )


async def test_set_whatsapp_refuses_a_non_numeric_phone_number_id(cli: Cli, db: asyncpg.Connection) -> None:
    await add_tenant(cli, "shop@example.com")
    before = await snapshot(db)

    result = await cli(
        "set-whatsapp", "shop@example.com", "--phone-number-id", "+242066582610", "--access-token-stdin",
        stdin=ACCESS_TOKEN + "\n",
    )  # fmt: skip

    result.assert_one_line_error("phone_number_id must be digits only")
    assert await snapshot(db) == before


async def test_commands_refuse_an_unknown_tenant(cli: Cli, db: asyncpg.Connection) -> None:
    await add_served_tenant(cli, "shop@example.com", "123456789")
    before = await snapshot(db)
    stranger = str(uuid.uuid4())

    for argv in (
        ("set-whatsapp", "nobody@example.com", "--phone-number-id", "5", "--access-token-stdin"),
        ("set-whatsapp", stranger, "--phone-number-id", "5", "--access-token-stdin"),
        ("set-groq", "nobody@example.com", "--api-key-stdin"),
        ("deactivate", stranger),
        ("reactivate", "nobody@example.com"),
    ):
        result = await cli(*argv, stdin=ACCESS_TOKEN + "\n")
        result.assert_one_line_error("unknown tenant: ", argv[1])
    assert await snapshot(db) == before


async def test_a_new_whatsapp_config_requires_the_access_token(cli: Cli, db: asyncpg.Connection) -> None:
    await add_tenant(cli, "shop@example.com")
    before = await snapshot(db)

    result = await cli("set-whatsapp", "shop@example.com", "--phone-number-id", "123456789")

    result.assert_one_line_error("needs an access token", "--access-token-stdin")
    assert await snapshot(db) == before


async def test_a_secret_source_that_is_empty_is_refused(cli: Cli, db: asyncpg.Connection) -> None:
    await add_tenant(cli, "shop@example.com")
    before = await snapshot(db)

    unset = await cli(
        "set-whatsapp", "shop@example.com", "--phone-number-id", "1", "--access-token-env", "NOT_SET_X"
    )
    blank = await cli("set-groq", "shop@example.com", "--api-key-stdin", stdin="\n")

    unset.assert_one_line_error("environment variable NOT_SET_X", "not set or empty")
    blank.assert_one_line_error("no Groq API key on standard input")
    assert await snapshot(db) == before


async def test_a_secret_pasted_where_a_variable_name_goes_is_not_echoed(
    cli: Cli, db: asyncpg.Connection
) -> None:
    await add_tenant(cli, "shop@example.com")

    result = await cli(
        "set-whatsapp", "shop@example.com", "--phone-number-id", "1", "--access-token-env", ACCESS_TOKEN
    )

    result.assert_one_line_error("name of an environment variable")


async def test_set_groq_creates_the_config_with_current_defaults(cli: Cli, db: asyncpg.Connection) -> None:
    await add_tenant(cli, "shop@example.com")

    result = await cli(
        "set-groq", "shop@example.com", "--api-key-env", "GROQ_KEY", env={"GROQ_KEY": GROQ_KEY}
    )

    assert result.code == 0, result.err
    assert "created" in result.out and DEFAULT_CHAT_MODEL in result.out
    result.assert_no_secret()
    row = await db.fetchrow(
        "SELECT user_id, api_key, model, temperature, history_length, fallback_text FROM user_groq_config"
    )
    assert row is not None
    assert (revealed(row["api_key"], SecretColumn.GROQ_API_KEY, row["user_id"]), row["model"], float(row["temperature"]), row["history_length"]) == (
        GROQ_KEY, DEFAULT_CHAT_MODEL, 0.7, 10,
    )  # fmt: skip
    assert row["fallback_text"].startswith("Désolé")


async def test_set_groq_later_updates_settings_without_the_key(cli: Cli, db: asyncpg.Connection) -> None:
    await add_served_tenant(cli, "shop@example.com", "123456789")

    result = await cli(
        "set-groq", "shop@example.com", "--model", "openai/gpt-oss-20b", "--temperature", "1.5",
        "--system-prompt", "Tu vends des pagnes.", "--history-length", "0",
        "--fallback-text", "Un instant.", "--unsupported-media-text", "Texte seulement.",
    )  # fmt: skip

    assert result.code == 0, result.err
    assert "updated" in result.out
    rows = await db.fetch(
        "SELECT user_id, api_key, model, temperature, system_prompt, history_length, fallback_text,"
        " unsupported_media_text FROM user_groq_config"
    )
    assert [
        (revealed(row["api_key"], SecretColumn.GROQ_API_KEY, row["user_id"]), *tuple(row.values())[2:])
        for row in rows
    ] == [(GROQ_KEY, "openai/gpt-oss-20b", 1.5, "Tu vends des pagnes.", 0, "Un instant.", "Texte seulement.")]


async def test_a_new_groq_config_requires_the_key(cli: Cli, db: asyncpg.Connection) -> None:
    await add_tenant(cli, "shop@example.com")
    before = await snapshot(db)

    result = await cli("set-groq", "shop@example.com", "--model", "openai/gpt-oss-20b")

    result.assert_one_line_error("needs an API key")
    assert await snapshot(db) == before


async def test_set_groq_refuses_out_of_range_settings(cli: Cli, db: asyncpg.Connection) -> None:
    await add_served_tenant(cli, "shop@example.com", "123456789")
    before = await snapshot(db)

    for option, value, message in (
        ("--temperature", "2.01", "temperature must be from 0 to 2"),
        ("--temperature", "-0.5", "temperature must be from 0 to 2"),
        ("--temperature", "warm", "temperature must be a number"),
        ("--temperature", "nan", "temperature must be from 0 to 2"),
        ("--history-length", "101", "history length must be from 0 to 100"),
        ("--history-length", "-1", "history length must be from 0 to 100"),
        ("--model", "llama3-70b-8192", "retired llama3-70b-8192 on 2025-08-30; use openai/gpt-oss-120b"),
        (
            "--model",
            "llama-3.3-70b-versatile",
            "retired llama-3.3-70b-versatile on 2026-08-16; use openai/gpt-oss-120b",
        ),
        ("--model", "gpt-5-turbo", "not a Groq model this release knows"),
        ("--model", "whisper-large-v3-turbo", "is a speech-to-text model, not a chat model"),
        ("--fallback-text", "  ", "must not be blank"),
    ):
        result = await cli("set-groq", "shop@example.com", option, value)
        result.assert_one_line_error(message)
    assert await snapshot(db) == before


async def test_set_groq_sets_the_models_and_language_for_voice_notes_and_images(
    cli: Cli, db: asyncpg.Connection
) -> None:
    await add_served_tenant(cli, "shop@example.com", "123456789")
    query = "SELECT vision_model, transcription_model, transcription_language FROM user_groq_config"

    result = await cli(
        "set-groq", "shop@example.com", "--vision-model", "qwen/qwen3.8-27b",
        "--transcription-model", "whisper-large-v3", "--transcription-language", "FR",
    )  # fmt: skip

    assert result.code == 0, result.err
    assert "images: qwen/qwen3.8-27b, voice notes: whisper-large-v3 (fr)" in result.out
    assert tuple(await db.fetchrow(query) or ()) == ("qwen/qwen3.8-27b", "whisper-large-v3", "fr")
    unchanged = await cli("set-groq", "shop@example.com", "--temperature", "0.2")
    assert unchanged.code == 0 and tuple(await db.fetchrow(query) or ()) == (
        "qwen/qwen3.8-27b", "whisper-large-v3", "fr",
    )  # fmt: skip
    back = await cli(
        "set-groq", "shop@example.com", "--vision-model", "default", "--transcription-model", "default",
        "--transcription-language", "auto",
    )  # fmt: skip
    assert back.code == 0, back.err
    assert (
        "images: the default vision model, voice notes: the default speech model (language detected)"
        in back.out
    )
    assert tuple(await db.fetchrow(query) or ()) == (None, None, None)


async def test_set_groq_refuses_media_models_that_cannot_do_the_job(cli: Cli, db: asyncpg.Connection) -> None:
    await add_served_tenant(cli, "shop@example.com", "123456789")
    before = await snapshot(db)

    for option, value, message in (
        ("--vision-model", "openai/gpt-oss-120b", "openai/gpt-oss-120b cannot see images"),
        ("--vision-model", "acme/eyes", "not a vision model this release knows"),
        (
            "--vision-model",
            "qwen/qwen3.6-27b",
            "retired qwen/qwen3.6-27b on 2026-09-14; use qwen/qwen3.8-27b",
        ),
        ("--transcription-model", "openai/gpt-oss-20b", "is a chat model, not a speech-to-text model"),
        ("--transcription-model", "whisper-next", "not a Groq model this release knows"),
        ("--transcription-model", "distil-whisper-large-v3-en", "retired distil-whisper-large-v3-en"),
        ("--transcription-language", "french", "ISO-639-1 code"),
    ):
        result = await cli("set-groq", "shop@example.com", option, value)
        result.assert_one_line_error(message)
    assert await snapshot(db) == before
    allowed = await cli(
        "set-groq", "shop@example.com", "--transcription-model", "whisper-next", "--allow-unknown-model"
    )
    assert allowed.code == 0, allowed.err


async def test_list_shows_configs_with_secrets_masked(cli: Cli, db: asyncpg.Connection) -> None:
    tenant_id = await add_served_tenant(cli, "shop@example.com", "123456789")
    await add_tenant(cli, "bare@example.com")

    result = await cli("list")

    assert result.code == 0
    result.assert_no_secret()
    header, *lines = result.out.splitlines()
    assert header.split() == [
        "email", "id", "phone_number_id", "active", "model", "access_token", "app_secret", "groq_key",
    ]  # fmt: skip
    assert lines[0].split() == ["bare@example.com", lines[0].split()[1], "-", "-", "-", "-", "-", "-"]
    assert lines[1].split() == [
        "shop@example.com", tenant_id, "123456789", "yes", DEFAULT_CHAT_MODEL,
        "…" + ACCESS_TOKEN[-4:], "-", "…" + GROQ_KEY[-4:],
    ]  # fmt: skip


async def test_deactivate_then_reactivate(cli: Cli, db: asyncpg.Connection) -> None:
    await add_served_tenant(cli, "shop@example.com", "123456789")

    off = await cli("deactivate", "shop@example.com")
    active_after_off = await db.fetchval("SELECT is_active FROM user_whatsapp_config")
    again = await cli("deactivate", "shop@example.com")
    on = await cli("reactivate", "shop@example.com")

    assert (off.code, off.out.strip()) == (0, "deactivated 123456789 for shop@example.com")
    assert active_after_off is False
    assert (again.code, again.out.strip()) == (0, "shop@example.com had no active number; nothing changed")
    assert (on.code, on.out.strip()) == (0, "reactivated 123456789 for shop@example.com")
    assert await db.fetchval("SELECT is_active FROM user_whatsapp_config") is True


async def test_reactivate_refuses_a_number_now_active_for_another_tenant(
    cli: Cli, db: asyncpg.Connection
) -> None:
    await add_served_tenant(cli, "first@example.com", "123456789")
    assert (await cli("deactivate", "first@example.com")).code == 0
    await add_served_tenant(cli, "second@example.com", "123456789")
    before = await snapshot(db)

    result = await cli("reactivate", "first@example.com")

    result.assert_one_line_error("123456789 is already active for another tenant")
    assert await snapshot(db) == before


async def test_deactivate_refuses_a_tenant_without_whatsapp_config(cli: Cli, db: asyncpg.Connection) -> None:
    await add_tenant(cli, "shop@example.com")
    before = await snapshot(db)

    result = await cli("deactivate", "shop@example.com")

    result.assert_one_line_error("shop@example.com has no WhatsApp config")
    assert await snapshot(db) == before
