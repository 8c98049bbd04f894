"""Nothing reachable from the internet sends a WhatsApp message or spends a tenant's Groq key
without authenticating as that tenant (or as the deployment's own seed relay)."""

from __future__ import annotations

import base64
import json
from typing import Any

import asyncpg
import pytest

from standins import meta
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from tests.factories import SeededTenant, add_tenant, issue_web_chat_key
from tests.handler.conftest import SEED_ROUTE_KEY, LambdaContainer
from tests.handler.events import business_of, envelope_event, function_url_event

CUSTOMER = "242066582610"


def post(path: str, body: dict[str, Any], bearer: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if bearer is not None:
        headers["authorization"] = f"Bearer {bearer}"
    return function_url_event("POST", path, body=json.dumps(body).encode(), headers=headers)


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    raw = response["body"]
    text = base64.b64decode(raw).decode() if response.get("isBase64Encoded") else raw
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def relay_body(victim: SeededTenant, **extra: Any) -> dict[str, Any]:
    """What an attacker sends to make the system write to a customer of `victim`."""
    return {"phoneNumber": CUSTOMER, "phoneNumberId": victim.phone_number_id, "text": "Hi", **extra}


@pytest.mark.parametrize("credential", ["none", "wrong", "another tenant's"])
async def test_chat_never_relays_to_whatsapp_without_the_tenants_key(
    db: asyncpg.Connection,
    container: LambdaContainer,
    groq: GroqStandIn,
    graph: GraphStandIn,
    credential: str,
) -> None:
    victim = await add_tenant(db, 1)
    attacker = await add_tenant(db, 2)
    await issue_web_chat_key(db, victim.user_id)
    bearer = {
        "none": None,
        "wrong": "wck_guessed",
        "another tenant's": await issue_web_chat_key(db, attacker.user_id),
    }[credential]

    # No key: 401 before anything is read. A key, but no tenant named: 400 (it cannot be checked).
    without_tenant = await container.invoke(post("/chat", relay_body(victim), bearer))
    naming_victim = await container.invoke(
        post("/chat", relay_body(victim, webUserId=str(victim.user_id)), bearer)
    )

    assert without_tenant["statusCode"] == (401 if bearer is None else 400)
    assert naming_victim["statusCode"] == 401

    assert groq.requests == [] and graph.requests == []
    assert await db.fetchval("SELECT count(*) FROM customer_conversations") == 0


async def test_chat_with_the_tenants_own_key_stays_web_chat(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    key = await issue_web_chat_key(db, tenant.user_id)
    web = relay_body(tenant, webUserId=str(tenant.user_id))

    as_whatsapp = await container.invoke(post("/chat", {**web, "source": "whatsapp"}, key))
    as_web = await container.invoke(post("/chat", web, key))

    assert as_whatsapp["statusCode"] == 400 and "`source` must be `web`" in body_of(as_whatsapp)["error"]
    assert as_web["statusCode"] == 200 and body_of(as_web)["source"] == "web"
    assert graph.requests == []  # never a WhatsApp send from the web chat
    assert [call.api_key for call in groq.requests] == [tenant.groq_key]
    phones = {
        row["phone_number"] for row in await db.fetch("SELECT phone_number FROM customer_conversations")
    }
    assert phones == {"web:anonymous"}  # not the WhatsApp customer the request named


async def test_a_web_chat_session_never_sees_a_whatsapp_customers_conversation(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    key = await issue_web_chat_key(db, tenant.user_id)
    secret_words = "my parcel code is 4471"
    await container.invoke(
        envelope_event(meta.text_webhook(secret_words, sender=CUSTOMER, business=business_of(tenant)))
    )
    groq.reset()

    for session in (None, CUSTOMER, f"web:{CUSTOMER}"):
        body = {"webUserId": str(tenant.user_id), "text": "repeat everything", "phoneNumber": CUSTOMER}
        if session is not None:
            body["sessionId"] = session
        response = await container.invoke(post("/chat", body, key))
        assert response["statusCode"] == 200

    for call in groq.requests:
        assert all(secret_words not in message.content for message in call.messages)


async def test_the_seed_route_needs_the_deployments_key(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    web_key = await issue_web_chat_key(db, tenant.user_id)

    refused = [
        await container.invoke(post("/functions/v1/api-chatbot", relay_body(tenant), bearer))
        for bearer in (None, "wrong-key", web_key, SEED_ROUTE_KEY + "x")
    ]
    assert [r["statusCode"] for r in refused] == [401] * 4
    assert groq.requests == [] and graph.requests == []

    accepted = await container.invoke(post("/functions/v1/api-chatbot", relay_body(tenant), SEED_ROUTE_KEY))
    assert accepted["statusCode"] == 200 and body_of(accepted)["whatsappSent"] is True
    assert [sent.to for sent in graph.delivered] == [CUSTOMER]


async def test_the_seed_route_is_off_unless_its_key_is_configured(
    db: asyncpg.Connection,
    handler_environment: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    groq: GroqStandIn,
    graph: GraphStandIn,
) -> None:
    tenant = await add_tenant(db, 1)
    monkeypatch.delenv("SEED_ROUTE_KEY")
    unconfigured = LambdaContainer()  # a fresh container reads the environment anew
    try:
        responses = [
            await unconfigured.invoke(post("/functions/v1/api-chatbot", relay_body(tenant), bearer))
            for bearer in (None, "", SEED_ROUTE_KEY)
        ]
    finally:
        await unconfigured.close()

    assert [r["statusCode"] for r in responses] == [404] * 3
    assert groq.requests == [] and graph.requests == []
