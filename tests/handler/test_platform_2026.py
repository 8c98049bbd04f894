"""The platform as it is in December 2026, end to end through the forwarder and `lambda_handler`,
against stand-ins as strict as Groq and Meta: retired models, keys that are not Groq's, reasoning
models, customers known only by a business-scoped user id, typing indicators, odd events."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import asyncpg
import pytest

from admin.cli import main as wa_admin
from providers.groq_models import DEFAULT_CHAT_MODEL
from standins import meta
from standins.graph import GraphStandIn
from standins.groq import OFFLINE_LABEL, REASONING_TEXT, GroqRequest, GroqStandIn, offline_reply
from standins.lambda_invoke import LambdaInvokeStandin
from tenant_secrets.secrets_crypto import SecretColumn
from tests.factories import SeededTenant, add_tenant, issue_web_chat_key, seal
from tests.handler.conftest import SEED_ROUTE_KEY, LambdaContainer
from tests.handler.events import business_of, function_url_event
from tests.handler.system import System, running_system
from tests.meta_samples import meta_sample
from tests.seed import seed_queries

BSUID = "US.13491208655302741918"
PHONE = "16505551234"


@pytest.fixture
def system(lambdas: LambdaInvokeStandin) -> Iterator[System]:
    with running_system(lambdas) as running:
        yield running


async def check_output() -> tuple[int, str]:
    """`wa-admin check` on the handler's database (DATABASE_URL is the test database)."""

    def run() -> tuple[int, str]:
        out = io.StringIO()
        with redirect_stdout(out):
            code = wa_admin(["check"])
        return code, out.getvalue()

    return await asyncio.to_thread(run)


def texts(db_rows: list[asyncpg.Record]) -> list[tuple[str, str]]:
    return [(row["sender"], row["content"]) for row in db_rows]


# --- Groq's models ----------------------------------------------------------------------------


async def test_a_retired_model_is_answered_by_the_default_model_and_shown_by_check(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    # What a database holds after Groq retired the product's former default (2026-08-16).
    tenant = await add_tenant(db, 1, model="llama-3.3-70b-versatile")

    response = system.post_and_settle(meta.text_webhook("Bonjour", business=business_of(tenant)))

    assert response.status_code == 200
    assert [(call.model, call.status) for call in groq.requests] == [
        ("llama-3.3-70b-versatile", 404),  # Groq's answer since the retirement: model_not_found
        (DEFAULT_CHAT_MODEL, 200),
    ]
    [sent] = graph.delivered
    assert sent.body is not None and sent.body.startswith(f"{OFFLINE_LABEL} ({DEFAULT_CHAT_MODEL},")
    assert await db.fetchval("SELECT error_title FROM customer_conversations WHERE sender = 'user'") is None
    code, out = await check_output()
    assert code == 0  # served: a warning, not a blocking problem
    assert "model_substituted" in out and "Groq refused model llama-3.3-70b-versatile" in out
    assert "replies come from openai/gpt-oss-120b" in out


async def test_a_key_that_is_not_a_groq_key_stays_the_tenants_problem(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    await db.execute(
        "UPDATE user_groq_config SET api_key = $2 WHERE user_id = $1",
        tenant.user_id,
        seal("sk-an-openai-key-pasted-by-mistake", SecretColumn.GROQ_API_KEY, tenant.user_id),
    )

    system.post_and_settle(meta.text_webhook("Bonjour", business=business_of(tenant)))

    assert [call.status for call in groq.requests] == [401]  # refused, never retried
    fallback = await db.fetchval("SELECT fallback_text FROM user_groq_config")
    assert [sent.body for sent in graph.delivered] == [fallback]
    reason = await db.fetchval("SELECT error_title FROM customer_conversations WHERE sender = 'user'")
    assert reason == "groq rejected: http 401 invalid_api_key"
    code, out = await check_output()
    assert code == 1 and "Groq refused the API key" in out


@pytest.mark.parametrize("model", ["openai/gpt-oss-120b", "openai/gpt-oss-20b", "qwen/qwen3.8-27b"])
async def test_the_customer_sees_only_the_answer_of_a_reasoning_model(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn, model: str
) -> None:
    tenant = await add_tenant(db, 1, model=model)

    system.post_and_settle(meta.text_webhook("Bonjour", business=business_of(tenant)))

    [call] = groq.requests
    assert call.status == 200  # the parameters sent are ones Groq accepts for this model
    if model.startswith("openai/"):
        assert (call.include_reasoning, call.reasoning_format, call.reasoning_effort) == (False, None, "low")
    else:
        assert (call.include_reasoning, call.reasoning_format) == (None, "hidden")
    [sent] = graph.delivered
    assert sent.body is not None and REASONING_TEXT not in sent.body and "<think>" not in sent.body
    stored = await db.fetchval("SELECT content FROM customer_conversations WHERE sender = 'bot'")
    assert stored == sent.body


async def test_a_model_groq_added_since_gets_no_reasoning_parameters_and_its_thinking_is_cut(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1, model="acme/brand-new-model")
    served = groq.models
    groq.models = {"acme/brand-new-model", DEFAULT_CHAT_MODEL}

    def thinks_aloud(request: GroqRequest) -> str:
        return "<think>maybe I should upsell</think>Bonjour ! " + offline_reply(request)

    groq.reply = thinks_aloud
    try:
        system.post_and_settle(meta.text_webhook("Bonjour", business=business_of(tenant)))
    finally:
        groq.models = served
    [call] = groq.requests
    assert (call.include_reasoning, call.reasoning_format, call.reasoning_effort) == (None, None, None)
    [sent] = graph.delivered
    assert sent.body is not None and sent.body.startswith("Bonjour !") and "upsell" not in sent.body


# --- Customers known by business-scoped user id -----------------------------------------------


async def test_a_customer_without_a_phone_number_is_answered_through_recipient(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)

    response = system.post_and_settle(meta_sample("bsuid_only_text", phone_number_id=tenant.phone_number_id))

    assert response.status_code == 200
    [call] = groq.requests
    assert call.last_user_message == "Does it come in another color?"
    [sent] = graph.delivered
    assert (sent.to, sent.recipient, sent.payload.get("to")) == ("", BSUID, None)
    row = await db.fetchrow(
        "SELECT phone_number, customer_wa_id, customer_user_id, status FROM customer_conversations"
        " WHERE sender = 'user'"
    )
    assert row is not None
    assert (row["phone_number"], row["customer_wa_id"], row["customer_user_id"], row["status"]) == (
        BSUID,
        None,
        BSUID,
        "answered",
    )

    # Meta's status for a reply sent to a BSUID: recipient_user_id, no recipient_id.
    status = meta_sample(
        "bsuid_status_delivered",
        phone_number_id=tenant.phone_number_id,
        replacements={"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=": sent.wamid or ""},
    )
    system.post_and_settle(status)
    reply_status = await db.fetchval("SELECT status FROM customer_conversations WHERE sender = 'bot'")
    assert reply_status == "delivered"


async def test_a_customer_first_seen_with_a_number_then_by_bsuid_only_stays_one_conversation(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    system.post_and_settle(meta_sample("phone_and_bsuid_text", phone_number_id=tenant.phone_number_id))
    later = meta.webhook_payload(
        meta.messages_change(
            meta.text_message("And in blue?", sender=None, user_id=BSUID), business=business_of(tenant)
        )
    )

    system.post_and_settle(later)

    first, second = groq.requests
    assert [m.content for m in second.history] == [first.last_user_message, graph.delivered[0].body]
    assert [sent.addressee for sent in graph.delivered] == [PHONE, BSUID]  # as each message came
    keys = await db.fetch("SELECT DISTINCT phone_number FROM customer_conversations")
    assert [row["phone_number"] for row in keys] == [PHONE]  # one conversation
    # The seed's monitoring queries see both messages as identified, under the conversation's key.
    recent = await db.fetch(seed_queries()["recent_messages"])
    assert {(row["phone_number"], row["sender"]) for row in recent} == {(PHONE, "user"), (PHONE, "bot")}
    rate = await db.fetchrow(seed_queries()["identification_rate"])
    assert rate is not None and (rate["total_messages"], rate["identified_messages"]) == (2, 2)


async def test_a_duplicate_of_a_bsuid_message_is_answered_once(
    db: asyncpg.Connection, system: System, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    payload = meta_sample("bsuid_only_text", phone_number_id=tenant.phone_number_id)

    system.post_and_settle(payload)
    system.post_and_settle(payload)

    assert len(graph.delivered) == 1


# --- Typing indicator and read receipts -------------------------------------------------------


async def test_a_message_that_will_be_answered_is_marked_read_with_typing_first(
    db: asyncpg.Connection, system: System, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    payload = meta.text_webhook("Bonjour", business=business_of(tenant))
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]

    system.post_and_settle(payload)

    [read] = graph.reads
    assert (read.message_id, read.typing, read.token, read.status) == (wamid, True, tenant.access_token, 200)
    assert len(graph.delivered) == 1


async def test_no_typing_indicator_for_what_gets_no_answer_nor_when_the_tenant_turned_it_off(
    db: asyncpg.Connection, system: System, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    quiet = await add_tenant(db, 2)
    await db.execute("UPDATE user_groq_config SET typing_indicator = false WHERE user_id = $1", quiet.user_id)
    key = await issue_web_chat_key(db, tenant.user_id)

    system.post_and_settle(
        meta.webhook_payload(meta.messages_change(meta.reaction_message(), business=business_of(tenant)))
    )
    system.post_and_settle(meta.text_webhook("Bonjour", business=business_of(quiet)))
    web = function_url_event(
        "POST",
        "/chat",
        body=b'{"webUserId": "' + str(tenant.user_id).encode() + b'", "text": "Bonjour"}',
        headers={"authorization": f"Bearer {key}"},
    )
    await container.invoke(web)
    relay = function_url_event(
        "POST",
        "/functions/v1/api-chatbot",
        body=b'{"phoneNumber": "33611111111", "phoneNumberId": "'
        + tenant.phone_number_id.encode()
        + b'", "text": "Hi"}',
        headers={"authorization": f"Bearer {SEED_ROUTE_KEY}"},
    )
    await container.invoke(relay)

    assert graph.reads == []
    assert [sent.phone_number_id for sent in graph.delivered] == [
        quiet.phone_number_id,
        tenant.phone_number_id,
    ]


@pytest.mark.parametrize(
    "fault", [{"status": 503}, {"code": 131009, "status": 400}, {"status": None, "delay": 5.0}]
)
async def test_a_failing_or_slow_typing_indicator_never_costs_the_reply(
    db: asyncpg.Connection, system: System, graph: GraphStandIn, fault: dict[str, Any]
) -> None:
    tenant = await add_tenant(db, 1)
    graph.fail_reads(**fault)

    system.post_and_settle(meta.text_webhook("Bonjour", business=business_of(tenant)))

    assert len(graph.delivered) == 1
    assert await db.fetchval("SELECT status FROM customer_conversations WHERE sender = 'user'") == "answered"


# --- Graph API versions and odd events ---------------------------------------------------------


async def test_replies_use_the_current_graph_version_or_the_tenants_own(
    db: asyncpg.Connection, system: System, graph: GraphStandIn
) -> None:
    default = await add_tenant(db, 1)
    pinned = await add_tenant(db, 2)
    await db.execute(
        "UPDATE user_whatsapp_config SET graph_api_version = 'v26.0' WHERE user_id = $1", pinned.user_id
    )

    for tenant in (default, pinned):
        system.post_and_settle(meta.text_webhook("Bonjour", business=business_of(tenant)))

    assert [(sent.phone_number_id, sent.version) for sent in graph.delivered] == [
        (default.phone_number_id, "v25.0"),
        (pinned.phone_number_id, "v26.0"),
    ]


def odd_events(tenant: SeededTenant) -> dict[str, dict[str, Any]]:
    business = business_of(tenant)
    return {
        "call permission accepted": meta.webhook_payload(
            meta.messages_change(meta.call_permission_reply_message(), business=business)
        ),
        "a Flow's form": meta.webhook_payload(
            meta.messages_change(meta.flow_reply_message(), business=business)
        ),
        "first opening of the chat": meta.webhook_payload(
            meta.messages_change(meta.request_welcome_message(), business=business)
        ),
        "a call": meta.webhook_payload(meta.calls_change(business=business)),
        "marketing opt-out": meta.webhook_payload(meta.user_preferences_change(business=business)),
    }


@pytest.mark.parametrize(
    "event",
    ["call permission accepted", "a Flow's form", "first opening of the chat", "a call", "marketing opt-out"],
)
async def test_events_a_customer_expects_no_answer_to_get_none(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn, event: str
) -> None:
    tenant = await add_tenant(db, 1)

    response = system.post_and_settle(odd_events(tenant)[event])

    assert response.status_code == 200
    assert groq.requests == [] and graph.requests == [] and graph.reads == []
    assert system.lambdas.dead_letters == []
