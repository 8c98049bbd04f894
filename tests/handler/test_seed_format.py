"""The seed edge function's request, unchanged, as a direct Lambda event: the seed's tests 1-3."""

from __future__ import annotations

import asyncpg

from handler.errors import SERVICE_NOT_CONFIGURED
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from tests.factories import add_tenant, issue_web_chat_key
from tests.handler.conftest import LambdaContainer

CUSTOMER = "+242066582610"


def seed_event(phone_number_id: str | None, text: str = "Hello", **extra: object) -> dict[str, object]:
    event: dict[str, object] = {"phoneNumber": CUSTOMER, "text": text, "source": "whatsapp", **extra}
    if phone_number_id is not None:
        event["phoneNumberId"] = phone_number_id
    return event


async def test_seed_test_1_message_is_answered_with_the_tenants_credentials(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)

    result = await container.invoke(seed_event(tenant.phone_number_id, timestamp="2025-12-15T10:00:00Z"))

    assert result["statusCode"] == 200 and result["whatsappSent"] is True
    [call] = groq.requests
    assert (call.api_key, call.model) == (tenant.groq_key, tenant.model)
    [sent] = graph.delivered
    assert (sent.phone_number_id, sent.token, sent.to) == (
        tenant.phone_number_id,
        tenant.access_token,
        CUSTOMER,
    )
    assert sent.body == result["response"]
    rows = await db.fetch(
        "SELECT sender, content, user_id, status, wa_message_id FROM customer_conversations ORDER BY created_at"
    )
    assert [(r["sender"], r["user_id"], r["status"]) for r in rows] == [
        ("user", tenant.user_id, "answered"),
        ("bot", tenant.user_id, "sent"),
    ]
    assert rows[0]["content"] == "Hello" and rows[1]["wa_message_id"] == sent.wamid


async def test_seed_test_3_unknown_number_is_503_and_recorded_unidentified(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    await add_tenant(db, 1)

    result = await container.invoke(seed_event("999999999"))

    assert result == {"statusCode": 503, "success": False, "error": SERVICE_NOT_CONFIGURED}
    assert groq.requests == [] and graph.requests == []
    row = await db.fetchrow("SELECT user_id, status FROM customer_conversations")
    assert row is not None and row["user_id"] is None and row["status"] == "failed"


async def test_seed_test_3_missing_groq_config_is_503(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1, groq=False)

    result = await container.invoke(seed_event(tenant.phone_number_id))

    assert result["statusCode"] == 503 and result["error"] == SERVICE_NOT_CONFIGURED
    assert groq.requests == [] and graph.requests == []


async def test_seed_fallback_finds_the_tenant_from_the_customers_last_conversation(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    await container.invoke(seed_event(tenant.phone_number_id, text="first"))

    result = await container.invoke(seed_event(None, text="second"))

    assert result["statusCode"] == 200
    assert [m.phone_number_id for m in graph.delivered] == [tenant.phone_number_id] * 2


async def test_redelivered_seed_request_is_answered_once(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    event = seed_event(tenant.phone_number_id, timestamp=1765792800)

    first = await container.invoke(event)
    second = await container.invoke(dict(event))

    assert first["outcome"] == "replied" and second["outcome"] == "duplicate"
    assert len(groq.requests) == 1 and len(graph.delivered) == 1


async def test_web_chat_reply_comes_back_in_the_response(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    key = await issue_web_chat_key(db, tenant.user_id)

    result = await container.invoke(
        {
            "webUserId": str(tenant.user_id),
            "text": "Bonjour",
            "source": "web",
            "sessionId": "s1",
            "webChatKey": key,
        }
    )

    assert result["statusCode"] == 200
    assert result["response"].endswith("You wrote: Bonjour")
    assert groq.requests[0].api_key == tenant.groq_key
    assert graph.requests == []
    rows = await db.fetch(
        "SELECT sender, source, phone_number FROM customer_conversations ORDER BY created_at"
    )
    assert [(r["sender"], r["source"], r["phone_number"]) for r in rows] == [
        ("user", "web", "web:s1"),
        ("bot", "web", "web:s1"),
    ]


async def test_invalid_seed_request_names_the_field(container: LambdaContainer) -> None:
    result = await container.invoke({"phoneNumber": CUSTOMER, "text": "", "source": "whatsapp"})
    assert result["statusCode"] == 400 and "`text`" in result["error"]
