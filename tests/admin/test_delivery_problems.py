"""`check` and `stats` on what the handler recorded: refused Groq keys and models, refused WhatsApp
tokens, replies of unknown outcome and failed sends, each made by inserting the rows directly."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from admin.checks import ProblemKind, find_problems, groq_rejected
from admin.records import DeliveryHealth, Rejection
from shared.logs import mask_phone
from tests.admin.conftest import Cli, add_served_tenant
from tests.admin.test_check import reported_problems, status

CUSTOMER = "+242066582610"
KEY_REFUSED = "groq rejected: http 401 invalid_api_key"


async def insert_row(
    db: asyncpg.Connection,
    user_id: str,
    sender: str,
    status: str,
    age: timedelta,
    *,
    error_code: int | None = None,
    error_title: str | None = None,
    content: str = "Bonjour",
    phone: str = CUSTOMER,
) -> None:
    await db.execute(
        "INSERT INTO customer_conversations"
        " (user_id, phone_number, content, sender, source, status, error_code, error_title, created_at)"
        " VALUES ($1, $2, $3, $4, 'whatsapp', $5, $6, $7, now() - $8::interval)",
        user_id,
        phone,
        content,
        sender,
        status,
        error_code,
        error_title,
        age,
    )


def problem_kinds(out: str) -> list[list[str]]:
    return [p[:3] for p in reported_problems(out)]


# --- Groq refused the key or the model --------------------------------------------------------


async def test_a_refused_groq_key_blocks_the_tenant(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    await insert_row(db, shop, "user", "answered", timedelta(hours=2))  # an AI answer before
    await insert_row(db, shop, "user", "answered", timedelta(minutes=30), error_title=KEY_REFUSED)

    result = await cli("check")

    assert result.code == 1, result.out
    result.assert_no_secret()
    problems = reported_problems(result.out)
    assert [p[:3] for p in problems] == [["BLOCKING", "shop@example.com", "groq_rejected"]]
    detail = problems[0][3]
    assert "Groq refused the API key (http 401 invalid_api_key" in detail
    assert "wa-admin set-groq shop@example.com --api-key-stdin" in detail
    assert "1 with an active number, 1 of them cannot be served" in result.out


async def test_a_later_ai_answer_clears_a_groq_rejection(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    other = await add_served_tenant(cli, "other@example.com", "987654321")
    await insert_row(db, shop, "user", "answered", timedelta(hours=2), error_title=KEY_REFUSED)
    await insert_row(db, other, "user", "answered", timedelta(hours=3), error_title=KEY_REFUSED)
    # The shop's key was fixed: its next message got an AI answer. Another tenant's success
    # clears nothing of the other's.
    await insert_row(db, shop, "user", "answered", timedelta(hours=1))

    result = await cli("check")

    assert result.code == 1
    assert problem_kinds(result.out) == [["BLOCKING", "other@example.com", "groq_rejected"]]

    await insert_row(db, other, "user", "answered", timedelta(minutes=1))
    result = await cli("check")
    assert result.code == 0, result.out
    assert "no problems" in result.out


async def test_what_does_not_count_as_a_groq_rejection(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    # Groq only unavailable: not a config problem.
    await insert_row(
        db, shop, "user", "answered", timedelta(minutes=5), error_title="groq unavailable: http 503"
    )
    # Older than 24 h.
    await insert_row(db, shop, "user", "answered", timedelta(hours=25), error_title=KEY_REFUSED)
    # The fallback sent, but to nobody's fault of Groq (ignored message, send failure).
    await insert_row(
        db, shop, "user", "answered", timedelta(minutes=4), error_title="reaction needs no answer"
    )
    # A bot row carrying the title is not a customer message.
    await insert_row(db, shop, "bot", "sent", timedelta(minutes=3), error_title=KEY_REFUSED)

    result = await cli("check")

    assert result.code == 0, result.out
    assert "no problems" in result.out


async def test_a_refused_model_names_the_model_fix(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    await insert_row(
        db, shop, "user", "answered", timedelta(minutes=10),
        error_title="groq rejected: http 400 model_decommissioned",
    )  # fmt: skip
    await db.execute("UPDATE user_groq_config SET model = 'gemma-7b-it'")

    result = await cli("check")

    assert result.code == 1
    problems = reported_problems(result.out)
    assert [p[:3] for p in problems] == [
        ["warning", "shop@example.com", "retired_model"],
        ["BLOCKING", "shop@example.com", "groq_rejected"],
    ]
    assert "Groq refused the model gemma-7b-it (http 400 model_decommissioned" in problems[1][3]
    assert "wa-admin set-groq shop@example.com --model openai/gpt-oss-20b" in problems[1][3]


@pytest.mark.parametrize(
    ("reason", "refused", "fix"),
    [
        ("http 401 invalid_api_key", "the API key", "--api-key-stdin"),
        ("http 403 permission_denied", "the API key", "--api-key-stdin"),
        ("http 404 model_not_found", "the model openai/gpt-oss-120b", "--model MODEL"),
        ("http 400 model_decommissioned", "the model openai/gpt-oss-120b", "--model MODEL"),
        ("http 400 invalid_request_error", "the request", "--model MODEL) or set a new key"),
        ("http 413", "the request", "--api-key-stdin"),
    ],
)
def test_the_groq_fix_follows_the_recorded_reason(reason: str, refused: str, fix: str) -> None:
    rejection = Rejection(at=datetime(2025, 6, 1, 12, 30, tzinfo=UTC), reason=reason)
    problem = groq_rejected(status(delivery=DeliveryHealth(groq_rejection=rejection)))

    assert problem is not None and problem.blocks_service
    assert problem.detail.startswith(f"Groq refused {refused} ({reason}, last at 2025-06-01 12:30 UTC")
    assert fix in problem.detail


def test_without_an_active_number_a_refusal_is_a_warning() -> None:
    now = datetime.now(UTC)
    health = DeliveryHealth(
        groq_rejection=Rejection(at=now, reason="http 401 invalid_api_key"),
        whatsapp_token_rejection=Rejection(at=now, reason="Invalid OAuth access token"),
    )
    problems = find_problems([status(whatsapp_active=False, delivery=health)])
    assert [(p.kind, p.blocks_service) for p in problems] == [
        (ProblemKind.INACTIVE_WHATSAPP_CONFIG, False),
        (ProblemKind.GROQ_REJECTED, False),
        (ProblemKind.WHATSAPP_TOKEN_REJECTED, False),
    ]


# --- Graph refused the WhatsApp token ---------------------------------------------------------


async def test_an_expired_whatsapp_token_blocks_the_tenant(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    await insert_row(db, shop, "bot", "read", timedelta(hours=5))  # delivered before it expired
    await insert_row(
        db, shop, "bot", "failed", timedelta(minutes=15), error_code=190,
        error_title="Error validating access token: Session has expired",
    )  # fmt: skip

    result = await cli("check")

    assert result.code == 1, result.out
    result.assert_no_secret()
    problems = reported_problems(result.out)
    assert [p[:3] for p in problems] == [["BLOCKING", "shop@example.com", "whatsapp_token_rejected"]]
    assert problems[0][3].startswith("WhatsApp access token expired or invalid (Graph 190")
    assert (
        "set a new one with wa-admin set-whatsapp shop@example.com --phone-number-id 123456789"
        " --access-token-stdin" in problems[0][3]
    )


async def test_a_later_sent_reply_clears_a_token_rejection(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    await insert_row(db, shop, "bot", "failed", timedelta(hours=2), error_code=190, error_title="expired")
    await insert_row(db, shop, "bot", "delivered", timedelta(hours=1))

    result = await cli("check")

    assert result.code == 0, result.out
    assert "no problems" in result.out


async def test_other_graph_errors_and_old_ones_are_not_token_problems(
    cli: Cli, db: asyncpg.Connection
) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    await insert_row(
        db,
        shop,
        "bot",
        "failed",
        timedelta(minutes=5),
        error_code=131047,
        error_title="Re-engagement message",
    )
    await insert_row(db, shop, "bot", "failed", timedelta(hours=30), error_code=190, error_title="expired")

    result = await cli("check")

    assert result.code == 0, result.out
    assert "no problems" in result.out


# --- Replies of unknown outcome ---------------------------------------------------------------


async def test_unknown_outcomes_are_reported_without_failing_check(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    await insert_row(db, shop, "user", "outcome_unknown", timedelta(hours=1))
    await insert_row(db, shop, "user", "outcome_unknown", timedelta(days=6))
    await insert_row(db, shop, "user", "outcome_unknown", timedelta(days=8))  # outside the 7 days
    await insert_row(db, shop, "bot", "outcome_unknown", timedelta(hours=1))  # the reply, not a message

    result = await cli("check")

    assert result.code == 0, result.out
    problems = reported_problems(result.out)
    assert [p[:3] for p in problems] == [["warning", "shop@example.com", "send_outcome_unknown"]]
    assert problems[0][3].startswith("2 customer message(s) in the last 7 days may not have received a reply")
    assert "wa-admin stats" in problems[0][3]
    assert "0 of them cannot be served" in result.out


async def test_messages_left_unfinished_past_lambdas_retries_point_at_the_dead_letter_queue(
    cli: Cli, db: asyncpg.Connection
) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")

    async def message(status: str, *, idle: timedelta, lease: timedelta | None = None) -> None:
        await db.execute(
            "INSERT INTO customer_conversations (user_id, phone_number, content, sender, source, status,"
            " created_at, updated_at, lease_expires_at)"
            " VALUES ($1, $2, 'Bonjour', 'user', 'whatsapp', $3, now() - $4::interval, now() - $4::interval,"
            " now() + $5::interval)",
            shop,
            CUSTOMER,
            status,
            idle,
            lease,
        )

    await message("received", idle=timedelta(hours=1))  # given back, and no retry ever came
    await message("send_retry", idle=timedelta(minutes=20))  # its reply waits for a resend that never came
    await message(
        "answering", idle=timedelta(hours=2), lease=timedelta(hours=-1)
    )  # a crashed holder's, lease over
    await message("received", idle=timedelta(minutes=5))  # its retry may still come
    await message("answering", idle=timedelta(minutes=20), lease=timedelta(minutes=10))  # held right now
    await message("answered", idle=timedelta(hours=3))

    result = await cli("check")

    assert result.code == 0, result.out
    problems = reported_problems(result.out)
    assert [p[:3] for p in problems] == [["warning", "shop@example.com", "unfinished_messages"]]
    assert problems[0][3].startswith("3 customer message(s) unanswered and unfinished for over 15 minutes")
    assert "dead-letter queue" in problems[0][3]


async def test_every_delivery_problem_of_one_tenant_at_once(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    await insert_row(db, shop, "user", "answered", timedelta(minutes=3), error_title=KEY_REFUSED)
    await insert_row(db, shop, "bot", "failed", timedelta(minutes=3), error_code=190, error_title="expired")
    await insert_row(db, shop, "user", "outcome_unknown", timedelta(minutes=2))

    result = await cli("check")

    assert result.code == 1
    assert problem_kinds(result.out) == [
        ["BLOCKING", "shop@example.com", "groq_rejected"],
        ["BLOCKING", "shop@example.com", "whatsapp_token_rejected"],
        ["warning", "shop@example.com", "send_outcome_unknown"],
    ]
    assert "1 of them cannot be served" in result.out


# --- stats ------------------------------------------------------------------------------------

LONG_TEXT = "Bonjour, avez-vous bien reçu ma commande numéro 4521 passée hier soir ?"


def section(out: str, title: str) -> list[str]:
    """The lines of one `stats` section, from its title to the next blank line."""
    start = out.index(title)
    return out[start:].split("\n\n")[0].splitlines()


async def test_stats_lists_unknown_outcomes_and_failed_sends(cli: Cli, db: asyncpg.Connection) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    other = await add_served_tenant(cli, "other@example.com", "987654321")
    await insert_row(db, shop, "user", "outcome_unknown", timedelta(hours=2), content=LONG_TEXT)
    await insert_row(
        db, other, "user", "outcome_unknown", timedelta(days=3), content="Salut", phone="+33612345678"
    )
    await insert_row(db, shop, "user", "outcome_unknown", timedelta(days=9), content="Trop vieux")
    for code, age in ((190, 1), (190, 2), (131047, 3), (None, 4)):
        await insert_row(db, shop, "bot", "failed", timedelta(hours=age), error_code=code, error_title="x")
    await insert_row(db, shop, "bot", "failed", timedelta(hours=30), error_code=100, error_title="old")
    await insert_row(db, other, "bot", "failed", timedelta(hours=1), error_code=131026, error_title="x")
    await insert_row(db, other, "bot", "sent", timedelta(hours=1))

    result = await cli("stats")

    assert result.code == 0, result.err
    result.assert_no_secret()
    unknown = section(result.out, "send outcome unknown")
    assert unknown[0].startswith("send outcome unknown (last 7 days): 2 customer message(s)")
    assert [re.split(r"\s{2,}", line)[1:] for line in unknown[2:]] == [
        ["shop@example.com", mask_phone(CUSTOMER), LONG_TEXT[:50]],
        ["other@example.com", mask_phone("+33612345678"), "Salut"],
    ]
    assert LONG_TEXT[:51] not in result.out and "Trop vieux" not in result.out
    for phone in (CUSTOMER, "+33612345678"):
        assert phone not in result.out
    failed = section(result.out, "failed sends per tenant")
    assert [re.split(r"\s{2,}", line) for line in failed[2:]] == [
        ["shop@example.com", "4", "190 x2, 131047 x1, no code x1"],
        ["other@example.com", "1", "131026 x1"],
    ]


async def test_stats_shows_the_newest_unknown_outcomes_within_the_limit(
    cli: Cli, db: asyncpg.Connection
) -> None:
    shop = await add_served_tenant(cli, "shop@example.com", "123456789")
    for minutes in range(1, 5):
        await insert_row(
            db, shop, "user", "outcome_unknown", timedelta(minutes=minutes), content=f"m{minutes}"
        )

    result = await cli("stats", "--limit", "2")

    unknown = section(result.out, "send outcome unknown")
    assert "4 customer message(s)" in unknown[0] and "newest 2 shown" in unknown[0]
    assert [line.split()[-1] for line in unknown[2:]] == ["m1", "m2"]
