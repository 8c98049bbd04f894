"""`stats`: the seed's monitoring figures over rows inserted at known times."""

from __future__ import annotations

import re
from datetime import timedelta

import asyncpg

from shared.logs import mask_phone
from tests.admin.conftest import Cli, add_tenant

CUSTOMER = "+242066582610"
LONG_TEXT = "Bonjour, je voudrais savoir si vous livrez à Pointe-Noire ce week-end ?"


async def insert_message(
    db: asyncpg.Connection,
    user_id: str | None,
    sender: str,
    content: str,
    age: timedelta,
    phone: str = CUSTOMER,
) -> None:
    await db.execute(
        "INSERT INTO customer_conversations (user_id, phone_number, content, sender, source, created_at)"
        " VALUES ($1, $2, $3, $4, 'whatsapp', now() - $5::interval)",
        user_id,
        phone,
        content,
        sender,
        age,
    )


async def test_stats_reports_the_seed_figures(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_tenant(cli, "shop@example.com")
    other = await add_tenant(cli, "other@example.com")
    await insert_message(db, shop, "user", LONG_TEXT, timedelta(minutes=5))
    await insert_message(db, shop, "bot", "Oui, nous livrons.", timedelta(minutes=4))
    await insert_message(db, shop, "user", "Merci", timedelta(hours=3))  # in the 24 h figures, not recent
    await insert_message(db, other, "user", "Salut", timedelta(minutes=10), phone="+33612345678")
    await insert_message(db, None, "user", "Qui est là ?", timedelta(minutes=20), phone="+22500000000")
    await insert_message(db, shop, "user", "Ancien", timedelta(days=2))  # outside every window

    result = await cli("stats")

    assert result.code == 0, result.err
    # 4 customer messages in 24 h, 3 of them identified.
    assert "3/4 = 75.00%" in result.out
    recent, per_tenant = result.out.split("recent messages (last hour):\n")[1].split("\nmessages per tenant")
    recent_lines = recent.splitlines()[1:]
    assert len(recent_lines) == 4
    assert re.split(r"\s{2,}", recent_lines[0])[1:] == [
        "shop@example.com", mask_phone(CUSTOMER), "bot", "Oui, nous livrons.",
    ]  # fmt: skip
    assert recent_lines[1].endswith(LONG_TEXT[:50])
    assert LONG_TEXT[:51] not in result.out
    assert "(unidentified)" in recent_lines[3] and mask_phone("+22500000000") in recent_lines[3]
    for phone in (CUSTOMER, "+33612345678", "+22500000000"):
        assert phone not in result.out
    counts = [line.split() for line in per_tenant.split("\n\n")[0].splitlines()[2:]]
    assert counts == [
        ["shop@example.com", "3", "2", "1"],
        ["other@example.com", "1", "1", "0"],
        ["(unidentified)", "1", "1", "0"],
    ]


async def test_stats_on_an_empty_database(cli: Cli) -> None:
    result = await cli("stats")

    assert result.code == 0, result.err
    assert "0/0 = n/a" in result.out
    assert "send outcome unknown (last 7 days): 0 customer message(s)" in result.out
    assert result.out.count("(none)") == 5


async def test_stats_counts_voice_notes_and_images_understood_and_fallen_back_per_tenant(
    cli: Cli, db: asyncpg.Connection
) -> None:
    shop = await add_tenant(cli, "shop@example.com")
    other = await add_tenant(cli, "other@example.com")
    rows = [
        (shop, "audio", "transcribed"),
        (shop, "audio", "transcribed"),
        (shop, "audio", "fell_back"),
        (shop, "image", "seen"),
        (shop, "sticker", "fell_back"),
        (other, "image", "fell_back"),
        (other, "text", None),
    ]
    for user_id, message_type, outcome in rows:
        await db.execute(
            "INSERT INTO customer_conversations"
            " (user_id, phone_number, content, sender, source, message_type, media_outcome)"
            " VALUES ($1, $2, 'x', 'user', 'whatsapp', $3, $4)",
            user_id,
            CUSTOMER,
            message_type,
            outcome,
        )

    result = await cli("stats")

    assert result.code == 0, result.err
    section = result.out.split("voice notes and images per tenant (last 24 h):\n")[1].split("\n\n")[0]
    assert [line.split() for line in section.splitlines()] == [
        ["tenant", "voice_understood", "voice_fell_back", "images_understood", "images_fell_back"],
        ["shop@example.com", "2", "1", "1", "1"],
        ["other@example.com", "0", "0", "0", "1"],
    ]
