"""Web chat requests speak for a tenant only with that tenant's web chat key."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest

from standins.groq import GroqStandIn
from tests.factories import add_tenant, issue_web_chat_key
from tests.handler.conftest import LambdaContainer
from tests.handler.events import function_url_event


def chat_event(user_id: uuid.UUID, key: str | None, text: str = "Bonjour") -> dict[str, Any]:
    body = json.dumps({"webUserId": str(user_id), "text": text, "sessionId": "s1"}).encode()
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    event = function_url_event("POST", "/chat", body=body, headers=headers)
    event["routeKey"] = "POST /chat"
    return event


async def conversation_rows(db: asyncpg.Connection) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM customer_conversations")
    return count


@pytest.mark.parametrize("key", [None, "wck_not-the-key", ""])
async def test_a_request_without_the_tenants_key_is_refused_and_leaves_nothing(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, key: str | None
) -> None:
    tenant = await add_tenant(db, 1)
    await issue_web_chat_key(db, tenant.user_id)

    response = await container.invoke(chat_event(tenant.user_id, key))

    assert response["statusCode"] == 401
    assert json.loads(response["body"]) == {"success": False, "error": "missing or invalid web chat key"}
    assert groq.requests == [] and await conversation_rows(db) == 0


async def test_one_tenants_key_does_not_open_another_tenants_conversations(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn
) -> None:
    first = await add_tenant(db, 1)
    second = await add_tenant(db, 2)
    first_key = await issue_web_chat_key(db, first.user_id)
    await issue_web_chat_key(db, second.user_id)

    refused = await container.invoke(chat_event(second.user_id, first_key))
    unknown = await container.invoke(chat_event(uuid.uuid4(), first_key))
    accepted = await container.invoke(chat_event(first.user_id, first_key))

    assert (refused["statusCode"], unknown["statusCode"], accepted["statusCode"]) == (401, 401, 200)
    assert [call.api_key for call in groq.requests] == [first.groq_key]
    owners = await db.fetch("SELECT DISTINCT user_id FROM customer_conversations")
    assert [row["user_id"] for row in owners] == [first.user_id]


async def test_a_tenant_without_a_key_cannot_be_reached_by_web_chat(
    db: asyncpg.Connection, container: LambdaContainer
) -> None:
    tenant = await add_tenant(db, 1)
    response = await container.invoke(chat_event(tenant.user_id, "wck_anything"))
    assert response["statusCode"] == 401


async def test_a_reissued_key_replaces_the_old_one(
    db: asyncpg.Connection, container: LambdaContainer
) -> None:
    tenant = await add_tenant(db, 1)
    old = await issue_web_chat_key(db, tenant.user_id)
    new = await issue_web_chat_key(db, tenant.user_id)

    assert (await container.invoke(chat_event(tenant.user_id, old)))["statusCode"] == 401
    assert (await container.invoke(chat_event(tenant.user_id, new)))["statusCode"] == 200


async def test_only_a_digest_of_the_key_is_stored(db: asyncpg.Connection) -> None:
    tenant = await add_tenant(db, 1)
    key = await issue_web_chat_key(db, tenant.user_id)
    stored = await db.fetchval("SELECT key_hash FROM web_chat_keys WHERE user_id = $1", tenant.user_id)
    assert key not in stored and len(stored) == 64
