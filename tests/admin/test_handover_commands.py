"""pause, resume, conversations, opt-outs and set-handover, the check warning and the stats table,
and every bad input they refuse (one line, exit 2, nothing changed)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from shared.logs import mask_phone
from tests.admin.conftest import Cli, add_served_tenant, add_tenant, snapshot

CUSTOMER = "33612345678"
BSUID = "US.13491208655302741918"


async def conversation(
    db: asyncpg.Connection, tenant_id: str, key: str = CUSTOMER, **ids: str | None
) -> None:
    """A customer message and its reply, as the handler stores them, a minute ago."""
    rows = (
        ("user", "Bonjour, vous livrez ?", "answered", None, timedelta(minutes=3)),
        ("bot", "Oui, du lundi au samedi.", "read", None, timedelta(minutes=2)),
        ("user", "Merci", "quiet", "paused_by_human", timedelta(minutes=1)),
    )
    for sender, content, status, reason, age in rows:
        await db.execute(
            "INSERT INTO customer_conversations (user_id, phone_number, customer_wa_id, customer_user_id,"
            " content, sender, source, status, quiet_reason, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, 'whatsapp', $7, $8, now() - $9::interval)",
            tenant_id, key, ids.get("wa_id", key if key.isdigit() else None), ids.get("user_id"),
            content, sender, status, reason, age,
        )  # fmt: skip


async def pause_of(db: asyncpg.Connection) -> tuple[str, float | None] | None:
    row = await db.fetchrow(
        "SELECT reason, CASE WHEN isfinite(paused_until)"
        " THEN extract(epoch FROM paused_until - now())::float END AS left FROM conversation_pauses"
    )
    return None if row is None else (row["reason"], row["left"])


async def test_pause_for_a_while_then_resume(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    await conversation(db, shop)

    paused = await cli("pause", "shop@example.com", "+33 6 12 34 56 78", "--for", "1h30m")

    assert paused.code == 0, paused.err
    assert paused.out.startswith(f"paused {mask_phone(CUSTOMER)} for shop@example.com until ")
    assert CUSTOMER not in paused.out
    reason, left = await pause_of(db) or ("", None)
    assert reason == "operator" and left is not None and 5390 < left <= 5400

    resumed = await cli("resume", "shop@example.com", CUSTOMER)
    assert resumed.code == 0
    assert "resumed" in resumed.out and "paused by the operator" in resumed.out
    assert await db.fetchval("SELECT count(*) FROM conversation_pauses") == 0
    again = await cli("resume", "shop@example.com", CUSTOMER)
    assert "was not paused for shop@example.com; nothing changed" in again.out


async def test_a_pause_without_for_lasts_until_resumed_and_resume_ends_a_humans_pause_too(
    cli: Cli, db: asyncpg.Connection
) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    await conversation(db, shop, key=BSUID, user_id=BSUID, wa_id=None)

    assert (await cli("pause", "shop@example.com", BSUID)).out.rstrip().endswith("(wa-admin resume ends it)")
    assert await pause_of(db) == ("operator", None)
    await db.execute(
        "UPDATE conversation_pauses SET reason = 'human_reply', paused_until = now() + interval '2 hours'"
    )

    resumed = await cli("resume", shop, BSUID)
    assert "paused by the business writing by hand until" in resumed.out


async def test_pause_all_is_the_tenants_one_flag_and_check_warns_of_it(
    cli: Cli, db: asyncpg.Connection
) -> None:
    await add_served_tenant(cli, "shop@example.com", "123456789")

    paused = await cli("pause", "shop@example.com", "--all")

    assert paused.code == 0
    assert "assistant of shop@example.com paused for every customer until resumed" in paused.out
    check = await cli("check")
    assert check.code == 0  # a warning: the operator's choice, not a fault
    assert "assistant_paused" in check.out and "wa-admin resume shop@example.com --all" in check.out
    assert "answers again" in (await cli("resume", "shop@example.com", "--all")).out
    assert "assistant_paused" not in (await cli("check")).out


async def test_conversations_lists_them_masked_unless_asked(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    await conversation(db, shop)
    await conversation(db, shop, key=BSUID, user_id=BSUID, wa_id=None)
    await db.execute(
        "INSERT INTO conversation_pauses (user_id, customer_key, paused_until, reason)"
        " VALUES ($1, $2, now() + interval '1 hour', 'human_reply')",
        shop, CUSTOMER,
    )  # fmt: skip

    listed = await cli("conversations", "shop@example.com")

    assert listed.code == 0, listed.err
    assert listed.out.startswith(
        "WhatsApp conversations of shop@example.com, most recent first (at most 20); assistant on:"
    )
    assert CUSTOMER not in listed.out and BSUID not in listed.out
    line = next(line for line in listed.out.splitlines() if line.startswith(mask_phone(CUSTOMER)))
    assert line.split()[3:7] == ["2", "1", "0", "1"]  # customer, assistant, business, quiet
    assert "paused by the business writing by hand until" in line
    shown = await cli("conversations", "shop@example.com", "--show-numbers", "--last", "1")
    assert BSUID in shown.out and CUSTOMER not in shown.out  # the most recent one only


async def test_one_conversation_as_stored_with_statuses_and_reasons(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    await conversation(db, shop)

    read = await cli("conversations", "shop@example.com", CUSTOMER)

    assert read.code == 0, read.err
    lines = read.out.splitlines()
    assert lines[0].startswith(
        f"conversation of shop@example.com with {mask_phone(CUSTOMER)}, the last 3 row(s)"
    )
    assert "answered by the assistant" in lines[0]
    assert [line.split()[2:4] for line in lines[2:]] == [
        ["customer", "answered"],
        ["assistant", "read"],
        ["customer", "quiet"],
    ]
    assert lines[-1].split()[4:] == ["paused_by_human", "Merci"]


async def test_opt_outs_lists_stop_words_and_metas_marketing_opt_outs(
    cli: Cli, db: asyncpg.Connection
) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    for key, scope, opted_out, source, detail in (
        (CUSTOMER, "assistant", True, "stop_word", "STOP"),
        (BSUID, "marketing", True, "user_preferences", "User requested to stop marketing messages"),
        ("33700000000", "assistant", False, "start_word", "START"),
    ):
        await db.execute(
            "INSERT INTO customer_opt_outs (user_id, customer_key, scope, opted_out, source, detail, changed_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, now())",
            shop, key, scope, opted_out, source, detail,
        )  # fmt: skip

    listed = await cli("opt-outs", "shop@example.com")

    assert listed.code == 0
    body = listed.out.splitlines()[2:]
    assert sorted(line.split()[1] for line in body) == ["assistant", "marketing"]  # not the one back in
    assert CUSTOMER not in listed.out
    assert CUSTOMER in (await cli("opt-outs", "shop@example.com", "--show-numbers")).out


async def test_set_handover_changes_what_is_given(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_tenant(cli, "shop@example.com")

    first = await cli(
        "set-handover", shop, "--human-pause", "30m", "--languages", "es,fr", "--stop-words", "FIN, BASTA"
    )
    second = await cli("set-handover", shop, "--opt-out-text", "Hasta pronto.", "--stop-words", "default")

    assert first.code == 0 and second.code == 0, (first.err, second.err)
    assert "keeps out 0.5 h; languages es,fr; stop words: FIN, BASTA" in first.out
    row = await db.fetchrow(
        "SELECT human_pause_seconds, languages, stop_words, opt_out_text FROM tenant_handover_settings"
    )
    assert row is not None and tuple(row.values()) == (1800, ["es", "fr"], None, "Hasta pronto.")
    assert "stop words: the languages' defaults" in second.out


async def test_stats_counts_the_messages_left_unanswered_on_purpose(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    await conversation(db, shop)

    stats = await cli("stats")

    assert stats.code == 0
    section = stats.out.split("customer messages not answered by the AI on purpose (last 24 h):\n")[1]
    assert section.splitlines()[1].split() == ["shop@example.com", "paused_by_human", "1"]
    check = await cli("check")
    assert check.code == 0
    assert "  shop@example.com: paused_by_human 1" in check.out.splitlines()


async def test_check_and_stats_say_nothing_was_kept_from_the_ai_when_nothing_was(cli: Cli) -> None:
    await add_served_tenant(cli, "shop@example.com", "123456789")

    stats, check = await cli("stats"), await cli("check")

    assert "(every customer message went to the AI)" in stats.out
    assert "not answered by the AI on purpose" not in check.out


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (("pause", "nobody@example.com", CUSTOMER), ("unknown tenant: nobody@example.com",)),
        (("pause", "shop@example.com", "33700000000"), ("no conversation with customer 33700000000",)),
        (("resume", "shop@example.com", "US.999"), ("no conversation with customer US.999",)),
        (("conversations", "shop@example.com", "33700000000"), ("no conversation with customer",)),
        (("pause", "shop@example.com", CUSTOMER, "--for", "soon"), ("a duration looks like 30m",)),
        (("pause", "shop@example.com", CUSTOMER, "--for", "0s"), ("a pause lasts from 1s to 366d",)),
        (("pause", "shop@example.com", CUSTOMER, "--for", "400d"), ("a pause lasts from 1s to 366d",)),
        (("pause", "shop@example.com", "12ab"), ("a customer is a phone number",)),
        (("pause", "shop@example.com"), ("give the CUSTOMER",)),
        (("resume", "shop@example.com", CUSTOMER, "--all"), ("a CUSTOMER or --all, not both",)),
        (("conversations", "shop@example.com", "--last", "0"), ("must be a positive whole number",)),
        (("set-handover", "shop@example.com", "--human-pause", "31d"), ("from 0 to 30d",)),
        (("set-handover", "shop@example.com", "--languages", "fr,xx"), ("languages are comma-separated",)),
        (("set-handover", "shop@example.com", "--stop-words", " , "), ("at least one word",)),
    ],
)
async def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    cli: Cli, db: asyncpg.Connection, argv: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    await conversation(db, shop)
    before = await snapshot(db)
    pauses = await db.fetch("SELECT * FROM conversation_pauses")

    result = await cli(*argv)

    result.assert_one_line_error(*fragments)
    assert await snapshot(db) == before
    assert await db.fetch("SELECT * FROM conversation_pauses") == pauses
