"""A human can take over, end to end through the forwarder and `lambda_handler`: the business
answering by hand from the WhatsApp Business app (coexistence echoes), customers opting out and
back in, conversations and tenants paused by the operator. Quiet means stored, not answered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from standins import meta
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from standins.lambda_invoke import LambdaInvokeStandin
from tests.factories import SeededTenant, add_tenant
from tests.handler.events import business_of
from tests.handler.system import System, running_system

CUSTOMER = "33612345678"
BSUID = "US.13491208655302741918"
HUMAN = "Bonjour Marie, c'est Paul : je vous prépare le devis moi-même."


@pytest.fixture
def system(lambdas: LambdaInvokeStandin) -> Iterator[System]:
    with running_system(lambdas) as running:
        yield running


def customer_says(tenant: SeededTenant, *bodies: str, sender: str | None = CUSTOMER, **common: Any) -> Any:
    """One payload with the customer's texts, in the order given."""
    messages = [meta.text_message(body, sender=sender, **common) for body in bodies]
    return meta.webhook_payload(meta.messages_change(*messages, business=business_of(tenant)))


def business_says(tenant: SeededTenant, body: str, **common: Any) -> Any:
    business = business_of(tenant)
    return meta.webhook_payload(
        meta.echoes_change(meta.text_echo(body, business=business, **common), business=business)
    )


async def customer_rows(db: asyncpg.Connection) -> list[tuple[str, str, str | None]]:
    rows = await db.fetch(
        "SELECT content, status, quiet_reason FROM customer_conversations WHERE sender = 'user' ORDER BY created_at"
    )
    return [(row["content"], row["status"], row["quiet_reason"]) for row in rows]


# --- the business answers by hand ---------------------------------------------------------------


async def test_after_the_business_writes_by_hand_the_customer_is_stored_and_not_answered(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    system.post_and_settle(customer_says(tenant, "Bonjour, vous faites des devis ?"))
    assert len(groq.requests) == 1

    echo = system.post_and_settle(business_says(tenant, HUMAN))
    system.post_and_settle(customer_says(tenant, "Merci beaucoup !"))

    assert echo.status_code == 200
    assert len(groq.requests) == 1 and len(graph.delivered) == 1  # nothing more from the bot
    assert [read.message_id for read in graph.reads][1:] == []  # the quiet message is not marked read
    assert await customer_rows(db) == [
        ("Bonjour, vous faites des devis ?", "answered", None),
        ("Merci beaucoup !", "quiet", "paused_by_human"),
    ]
    business = await db.fetchrow(
        "SELECT content, status, phone_number FROM customer_conversations WHERE sender = 'business'"
    )
    assert business is not None and tuple(business.values()) == (HUMAN, "sent", CUSTOMER)
    pause = await db.fetchrow("SELECT reason, paused_until - now() AS left FROM conversation_pauses")
    assert pause is not None and pause["reason"] == "human_reply"
    assert 11.9 * 3600 < pause["left"].total_seconds() <= 12 * 3600  # the default: 12 h
    assert system.lambdas.dead_letters == []


async def test_once_the_pause_is_over_the_ai_answers_with_the_humans_message_in_its_history(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    system.post_and_settle(customer_says(tenant, "Bonjour, vous faites des devis ?"))
    system.post_and_settle(business_says(tenant, HUMAN))
    system.post_and_settle(customer_says(tenant, "Merci beaucoup !"))
    await db.execute(
        "UPDATE conversation_pauses SET paused_until = now() - interval '1 second'"
    )  # 12 h later

    system.post_and_settle(customer_says(tenant, "Et c'est combien ?"))

    first, second = groq.requests
    assert second.last_user_message == "Et c'est combien ?"
    assert [(m.role, m.content) for m in second.history] == [
        ("user", "Bonjour, vous faites des devis ?"),
        ("assistant", graph.delivered[0].body),
        ("assistant", HUMAN),  # the business's own words, on the assistant's side
        ("user", "Merci beaucoup !"),  # stored while quiet: the AI knows it was said
    ]
    assert len(graph.delivered) == 2
    assert (await customer_rows(db))[-1] == ("Et c'est combien ?", "answered", None)


async def test_an_echo_and_a_customer_message_in_one_payload_leave_the_bot_quiet(
    db: asyncpg.Connection, system: System, groq: GroqStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    business = business_of(tenant)
    payload = meta.webhook_payload(
        meta.messages_change(meta.text_message("Vous êtes là ?", sender=CUSTOMER), business=business),
        meta.echoes_change(meta.text_echo(HUMAN, business=business), business=business),
    )

    system.post_and_settle(payload)

    assert groq.requests == []
    assert await customer_rows(db) == [("Vous êtes là ?", "quiet", "paused_by_human")]


async def test_a_customer_known_by_bsuid_only_is_paused_by_an_echo_to_their_bsuid(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    system.post_and_settle(customer_says(tenant, "Hello", sender=None, user_id=BSUID))
    system.post_and_settle(business_says(tenant, HUMAN, to=None, to_user_id=BSUID))

    system.post_and_settle(customer_says(tenant, "Thanks", sender=None, user_id=BSUID))

    assert len(groq.requests) == 1 and len(graph.delivered) == 1
    keys = await db.fetch("SELECT DISTINCT phone_number FROM customer_conversations")
    assert [row["phone_number"] for row in keys] == [BSUID]
    assert (await customer_rows(db))[-1] == ("Thanks", "quiet", "paused_by_human")


async def test_an_echo_with_metas_plus_sign_finds_the_conversation_of_the_number(
    db: asyncpg.Connection, system: System, groq: GroqStandIn
) -> None:
    tenant = await add_tenant(db, 1)

    system.post_and_settle(business_says(tenant, HUMAN, to="+" + CUSTOMER))
    system.post_and_settle(customer_says(tenant, "Merci"))

    assert groq.requests == []
    assert await db.fetchval("SELECT customer_key FROM conversation_pauses") == CUSTOMER


async def test_a_tenant_with_no_pause_window_records_the_human_and_keeps_answering(
    db: asyncpg.Connection, system: System, groq: GroqStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    await db.execute(
        "INSERT INTO tenant_handover_settings (user_id, human_pause_seconds) VALUES ($1, 0)", tenant.user_id
    )
    system.post_and_settle(business_says(tenant, HUMAN))

    system.post_and_settle(customer_says(tenant, "Merci"))

    [call] = groq.requests
    assert [m.content for m in call.history] == [HUMAN]


async def test_edits_and_deletions_in_the_app_change_what_the_ai_reads(
    db: asyncpg.Connection, system: System, groq: GroqStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    business = business_of(tenant)
    first, second = (
        meta.text_echo("Le devis : 100 €", business=business),
        meta.text_echo("Oups", business=business),
    )
    system.post_and_settle(meta.webhook_payload(meta.echoes_change(first, second, business=business)))
    system.post_and_settle(
        meta.webhook_payload(
            meta.echoes_change(
                meta.edit_echo(first["id"], "Le devis : 120 €", business=business),
                meta.revoke_echo(second["id"], business=business),
                business=business,
            )
        )
    )
    await db.execute("UPDATE conversation_pauses SET paused_until = now() - interval '1 second'")

    system.post_and_settle(customer_says(tenant, "D'accord"))

    [call] = groq.requests
    assert [m.content for m in call.history] == ["Le devis : 120 €"]
    rows = await db.fetch(
        "SELECT content, status FROM customer_conversations WHERE sender = 'business' ORDER BY created_at"
    )
    assert [tuple(row.values()) for row in rows] == [("Le devis : 120 €", "sent"), ("Oups", "revoked")]


async def test_an_echo_of_a_reply_the_bot_sent_itself_changes_nothing(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    system.post_and_settle(customer_says(tenant, "Bonjour"))
    [reply] = graph.delivered

    system.post_and_settle(business_says(tenant, reply.body or "", wamid=reply.wamid))
    system.post_and_settle(customer_says(tenant, "Merci"))

    assert len(groq.requests) == 2
    assert await db.fetchval("SELECT count(*) FROM customer_conversations WHERE sender = 'business'") == 0
    assert await db.fetchval("SELECT count(*) FROM conversation_pauses") == 0


async def test_an_echo_not_signed_with_the_tenants_own_app_secret_pauses_nothing(
    db: asyncpg.Connection, system: System, groq: GroqStandIn
) -> None:
    tenant = await add_tenant(db, 1, app_secret="own-app-secret-of-tenant-1")

    system.post_and_settle(business_says(tenant, "Forged"))  # signed with the deployment's secret only

    assert await db.fetchval("SELECT count(*) FROM customer_conversations") == 0
    assert await db.fetchval("SELECT count(*) FROM conversation_pauses") == 0


# --- opt-out ------------------------------------------------------------------------------------


async def test_a_stop_word_gets_one_confirmation_then_silence_until_a_start_word(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)

    for body in ("Stop !", "Bonjour ?", "STOP", "start", "Bonjour"):
        system.post_and_settle(customer_says(tenant, body))

    assert [call.last_user_message for call in groq.requests] == ["Bonjour"]  # only after START
    sent = [message.body for message in graph.delivered]
    assert sent[:2] == [
        "Vous ne recevrez plus de réponses automatiques. Écrivez START pour les réactiver.",
        "Les réponses automatiques sont réactivées. Écrivez STOP pour les arrêter.",
    ]
    assert len(sent) == 3
    assert await customer_rows(db) == [
        ("Stop !", "answered", "stop_word"),
        ("Bonjour ?", "quiet", "opted_out"),
        ("STOP", "quiet", "opted_out"),  # no second confirmation
        ("start", "answered", "start_word"),
        ("Bonjour", "answered", None),
    ]
    choice = await db.fetchrow("SELECT scope, opted_out, source, detail FROM customer_opt_outs")
    assert choice is not None and tuple(choice.values()) == ("assistant", False, "start_word", "start")


async def test_a_stop_word_then_a_question_in_one_payload_get_the_confirmation_only(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    await db.execute(
        "INSERT INTO tenant_handover_settings (user_id, languages) VALUES ($1, '{fr,es}')", tenant.user_id
    )

    system.post_and_settle(customer_says(tenant, "BAJA", "¿Y el precio?"))

    assert groq.requests == []
    [confirmation] = graph.delivered
    assert confirmation.body is not None and confirmation.body.startswith("Ya no recibirás")  # BAJA: Spanish
    assert [row[2] for row in await customer_rows(db)] == ["stop_word", "opted_out"]


async def test_a_tapped_stop_button_opts_out_by_its_payload(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    business = business_of(tenant)
    tapped = meta.button_message("Ne plus recevoir", "STOP", sender=CUSTOMER, business=business)

    system.post_and_settle(meta.webhook_payload(meta.messages_change(tapped, business=business)))

    assert groq.requests == [] and len(graph.delivered) == 1
    assert await db.fetchval("SELECT opted_out FROM customer_opt_outs WHERE scope = 'assistant'") is True


async def test_a_tenants_own_words_replace_the_defaults(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    await db.execute(
        "INSERT INTO tenant_handover_settings (user_id, stop_words, start_words, opt_out_text)"
        " VALUES ($1, '{FIN}', '{REVENIR}', 'Entendu, à bientôt.')",
        tenant.user_id,
    )

    for body in ("stop", "fin", "Bonjour", "revenir"):
        system.post_and_settle(customer_says(tenant, body))

    assert [call.last_user_message for call in groq.requests] == ["stop"]  # not a word of this tenant
    assert [m.body for m in graph.delivered][1:] == [
        "Entendu, à bientôt.",
        "Les réponses automatiques sont réactivées. Écrivez FIN pour les arrêter.",
    ]


async def test_metas_marketing_opt_out_is_recorded_and_answers_nothing(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    business = business_of(tenant)

    system.post_and_settle(
        meta.webhook_payload(meta.user_preferences_change(None, "stop", user_id=BSUID, business=business))
    )
    system.post_and_settle(
        meta.webhook_payload(
            meta.user_preferences_change(None, "resume", user_id=BSUID, timestamp=1, business=business)
        )
    )

    assert groq.requests == [] and graph.requests == []
    row = await db.fetchrow("SELECT customer_key, scope, opted_out, source, detail FROM customer_opt_outs")
    assert row is not None
    assert tuple(row.values()) == (
        BSUID,
        "marketing",
        True,
        "user_preferences",
        "User requested to stop marketing messages",
    )  # the older resume came late


# --- the app's syncs ----------------------------------------------------------------------------


async def test_history_and_contact_syncs_are_acknowledged_and_answer_nothing(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    business = business_of(tenant)

    for change in (
        meta.history_change(meta.history_message("Bonjour"), business=business),
        meta.state_sync_change(business=business),
    ):
        assert system.post_and_settle(meta.webhook_payload(change)).status_code == 200

    assert groq.requests == [] and graph.requests == []
    assert await db.fetchval("SELECT count(*) FROM customer_conversations") == 0
    assert system.lambdas.dead_letters == []


# --- the operator's pauses ----------------------------------------------------------------------


async def test_a_customer_paused_by_the_operator_is_stored_unanswered_and_statuses_still_apply(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    system.post_and_settle(customer_says(tenant, "Bonjour"))
    [reply] = graph.delivered
    assert reply.wamid is not None
    await db.execute(
        "INSERT INTO conversation_pauses (user_id, customer_key, paused_until, reason)"
        " VALUES ($1, $2, 'infinity', 'operator')",
        tenant.user_id,
        CUSTOMER,
    )  # wa-admin pause TENANT CUSTOMER

    system.post_and_settle(customer_says(tenant, "Vous êtes ouverts demain ?"))
    business = business_of(tenant)
    system.post_and_settle(
        meta.webhook_payload(
            meta.statuses_change(meta.status(reply.wamid, "read", recipient=CUSTOMER), business=business)
        )
    )

    assert len(groq.requests) == 1 and len(graph.delivered) == 1
    assert (await customer_rows(db))[-1] == ("Vous êtes ouverts demain ?", "quiet", "paused_by_operator")
    assert await db.fetchval("SELECT status FROM customer_conversations WHERE sender = 'bot'") == "read"

    await db.execute("DELETE FROM conversation_pauses")  # wa-admin resume TENANT CUSTOMER
    system.post_and_settle(customer_says(tenant, "Allô ?"))

    assert groq.requests[-1].last_user_message == "Allô ?"
    assert "Vous êtes ouverts demain ?" in [m.content for m in groq.requests[-1].history]


async def test_a_tenant_whose_bot_is_off_stores_every_message_and_answers_none(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    off, on = await add_tenant(db, 1), await add_tenant(db, 2)
    await db.execute(
        "INSERT INTO tenant_handover_settings (user_id, bot_paused_until) VALUES ($1, 'infinity')",
        off.user_id,
    )  # wa-admin pause TENANT --all

    system.post_and_settle(customer_says(off, "Bonjour", "STOP"))
    system.post_and_settle(customer_says(off, "Hello", sender=None, user_id=BSUID))
    system.post_and_settle(customer_says(on, "Bonjour"))

    assert [call.last_user_message for call in groq.requests] == ["Bonjour"]  # the other tenant only
    assert len(graph.delivered) == 1
    rows = await db.fetch(
        "SELECT content, status, quiet_reason FROM customer_conversations"
        " WHERE user_id = $1 AND sender = 'user' ORDER BY created_at",
        off.user_id,
    )
    assert [tuple(row.values()) for row in rows] == [
        ("Bonjour", "quiet", "bot_off"),
        ("STOP", "quiet", "bot_off"),  # recorded, not confirmed: the bot sends nothing at all
        ("Hello", "quiet", "bot_off"),
    ]
    assert await db.fetchval("SELECT opted_out FROM customer_opt_outs") is True
