"""A tenant with its own Meta app secret is acted for only on payloads signed with that secret."""

from __future__ import annotations

import json
import time
from typing import Any

import asyncpg

from shared.envelope import Envelope
from shared.signature import secret_key_id, sign
from standins import meta
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from tests.factories import SeededTenant, add_tenant
from tests.handler.conftest import LambdaContainer
from tests.handler.events import APP_SECRET, business_of, function_url_event

OWN_SECRET = "own-app-secret-of-tenant-1"
CUSTOMER = "242066582610"


def payload_for(*tenants: SeededTenant) -> dict[str, Any]:
    changes = [
        meta.messages_change(
            meta.text_message(f"hello {t.phone_number_id}", sender=CUSTOMER), business=business_of(t)
        )
        for t in tenants
    ]
    return meta.webhook_payload(*changes)


def envelope(
    payload: object,
    secret: str | None,
    *,
    part: int = 0,
    parts: int = 1,
    verified_by: str | None = None,
) -> dict[str, Any]:
    body = json.dumps(payload, separators=(",", ":"))
    signature = sign(secret, body.encode()) if secret and parts == 1 else None
    return Envelope(
        body=body,
        signature=signature,
        verified_by=verified_by,
        received_at=time.time(),
        part=part,
        parts=parts,
    ).to_dict()


async def test_a_payload_signed_for_another_app_cannot_drive_the_tenants_number(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1, app_secret=OWN_SECRET)

    result = await container.invoke(envelope(payload_for(tenant), APP_SECRET))

    assert result["messages"] == {"refused": 1}
    assert groq.requests == [] and graph.requests == []
    row = await db.fetchrow("SELECT status, content, error_title FROM customer_conversations")
    assert row is not None
    assert (row["status"], row["content"]) == ("failed", None)  # kept out of the conversation history
    assert row["error_title"] == "not signed with the tenant's Meta app secret"


async def test_a_payload_signed_with_the_tenants_own_secret_is_answered(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1, app_secret=OWN_SECRET)

    result = await container.invoke(envelope(payload_for(tenant), OWN_SECRET))

    assert result["messages"] == {"replied": 1}
    assert [sent.token for sent in graph.delivered] == [tenant.access_token]


async def test_in_one_batch_only_the_tenant_with_its_own_secret_is_refused(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    own = await add_tenant(db, 1, app_secret=OWN_SECRET)
    shared = await add_tenant(db, 2)

    result = await container.invoke(envelope(payload_for(own, shared), APP_SECRET))

    assert result["messages"] == {"refused": 1, "replied": 1}
    assert [sent.phone_number_id for sent in graph.delivered] == [shared.phone_number_id]


async def test_an_unsigned_whole_payload_is_refused(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1, app_secret=OWN_SECRET)

    unsigned = await container.invoke(envelope(payload_for(tenant), None))
    raw = await container.invoke(payload_for(tenant))  # a raw Meta payload invoked directly

    assert (unsigned["messages"], raw["messages"]) == ({"refused": 1}, {"refused": 1})
    assert graph.requests == []


async def test_a_split_part_is_trusted_only_when_the_tenants_own_key_verified_the_whole(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1, app_secret=OWN_SECRET)

    def part(verified_by: str | None) -> dict[str, Any]:
        return envelope(payload_for(tenant), None, part=1, parts=2, verified_by=verified_by)

    no_key = await container.invoke(part(None))
    other_key = await container.invoke(part(secret_key_id(APP_SECRET)))
    own_key = await container.invoke(part(secret_key_id(OWN_SECRET)))

    assert (no_key["messages"], other_key["messages"], own_key["messages"]) == (
        {"refused": 1},
        {"refused": 1},
        {"replied": 1},
    )
    assert [sent.token for sent in graph.delivered] == [tenant.access_token]


async def test_meta_calling_the_handler_directly_is_held_to_the_same_rule(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1, app_secret=OWN_SECRET)
    body = json.dumps(payload_for(tenant)).encode()
    headers = {"x-hub-signature-256": sign(APP_SECRET, body), "content-type": "application/json"}

    response = await container.invoke(function_url_event("POST", "/webhook", body=body, headers=headers))

    assert response["statusCode"] == 200
    assert json.loads(response["body"])["messages"] == {"refused": 1}
    assert graph.requests == []


async def test_status_updates_for_the_tenant_need_its_own_secret_too(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1, app_secret=OWN_SECRET)
    await container.invoke(envelope(payload_for(tenant), OWN_SECRET))
    [sent] = graph.delivered
    assert sent.wamid is not None

    def read_receipt() -> dict[str, Any]:
        return meta.webhook_payload(
            meta.statuses_change(meta.status(sent.wamid or "", "read"), business=business_of(tenant))
        )

    async def reply_status() -> str:
        return str(await db.fetchval("SELECT status FROM customer_conversations WHERE sender = 'bot'"))

    forged = await container.invoke(envelope(read_receipt(), APP_SECRET))
    assert forged["statuses_unmatched"] == 1 and await reply_status() == "sent"

    genuine = await container.invoke(envelope(read_receipt(), OWN_SECRET))
    assert genuine["statuses_applied"] == 1 and await reply_status() == "read"


async def test_an_app_secret_that_cannot_be_decrypted_refuses_every_payload(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1, app_secret=OWN_SECRET)
    other = await add_tenant(db, 2, app_secret="secret-of-tenant-2")
    # A ciphertext sealed for another tenant (a bad copy, a restore mix-up): it does not decrypt here.
    await db.execute(
        "UPDATE user_whatsapp_config SET app_secret = (SELECT app_secret FROM user_whatsapp_config"
        " WHERE user_id = $2) WHERE user_id = $1",
        tenant.user_id,
        other.user_id,
    )

    for secret in (APP_SECRET, OWN_SECRET):
        result = await container.invoke(envelope(payload_for(tenant), secret))
        assert result["messages"] == {"refused": 1}  # never "no app secret of its own"
    assert graph.requests == []
