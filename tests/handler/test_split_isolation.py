"""A hostile tenant cannot act for another tenant by making the forwarder split its payload.

Tenant A's own app secret is in `META_APP_SECRET`, as every tenant's must be, so the forwarder
accepts what A signs. A pads a payload past the invoke limit and names tenant B's number in one
change: each part must still be held to B's own secret (through forwarder, boto3, Lambda, handler).
"""

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
from tests.handler.events import APP_SECRET, business_of
from tests.handler.system import System, running_system

SECRET_A = "own-app-secret-of-tenant-a"
SECRET_B = "own-app-secret-of-tenant-b"
INVOKE_LIMIT = 8_192


@pytest.fixture
def system(lambdas: LambdaInvokeStandin) -> Iterator[System]:
    with running_system(
        lambdas, app_secrets=(APP_SECRET, SECRET_A, SECRET_B), invoke_max_bytes=INVOKE_LIMIT
    ) as running:
        yield running


def padded(signer: SeededTenant, change: meta.Change) -> dict[str, Any]:
    """`change` behind two changes of the signer's own, together too big for one invoke (each
    part still fits one), so that the forwarder splits the payload per change."""
    padding = [
        meta.messages_change(
            *(meta.text_message(f"{n} " + "x" * 3000, sender="111") for n in range(2)),
            business=business_of(signer),
        )
        for _ in range(2)
    ]
    payload = meta.webhook_payload(*padding, change)
    assert len(str(payload)) > INVOKE_LIMIT
    return payload


async def test_a_split_payload_signed_by_one_tenant_cannot_answer_anothers_customer(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    a = await add_tenant(db, 1, app_secret=SECRET_A)
    b = await add_tenant(db, 2, app_secret=SECRET_B)
    forged = meta.messages_change(meta.text_message("hello B", sender="222"), business=business_of(b))

    response = system.post_and_settle(padded(a, forged), SECRET_A)

    assert response.status_code == 200
    assert len(system.lambdas.accepted) == 3  # the forwarder split it: one invoke per change
    assert b.groq_key not in {call.api_key for call in groq.requests}
    assert [sent.token for sent in graph.requests if sent.phone_number_id == b.phone_number_id] == []
    row = await db.fetchrow(
        "SELECT status, content, error_title FROM customer_conversations WHERE user_id = $1", b.user_id
    )
    assert row is not None and (row["status"], row["content"]) == ("failed", None)
    assert row["error_title"] == "not signed with the tenant's Meta app secret"
    # A's own part was verified with A's own key: A's customers are answered.
    assert {sent.to for sent in graph.delivered} == {"111"}


async def test_the_same_split_signed_by_the_tenants_own_app_is_answered(
    db: asyncpg.Connection, system: System, graph: GraphStandIn
) -> None:
    b = await add_tenant(db, 2, app_secret=SECRET_B)
    genuine = meta.messages_change(meta.text_message("hello B", sender="222"), business=business_of(b))

    response = system.post_and_settle(padded(b, genuine), SECRET_B)

    assert response.status_code == 200 and len(system.lambdas.accepted) == 3
    assert {(sent.to, sent.token) for sent in graph.delivered} == {
        ("111", b.access_token),
        ("222", b.access_token),
    }


async def test_a_split_payload_cannot_rewrite_another_tenants_delivery_statuses(
    db: asyncpg.Connection, system: System, graph: GraphStandIn
) -> None:
    a = await add_tenant(db, 1, app_secret=SECRET_A)
    b = await add_tenant(db, 2, app_secret=SECRET_B)
    system.post_and_settle(meta.text_webhook("Bonjour", sender="222", business=business_of(b)), SECRET_B)
    [reply] = graph.delivered
    assert reply.wamid is not None
    forged = meta.statuses_change(meta.failed_status(reply.wamid, recipient="222"), business=business_of(b))

    invokes_before = len(system.lambdas.accepted)

    response = system.post_and_settle(padded(a, forged), SECRET_A)

    assert response.status_code == 200 and len(system.lambdas.accepted) - invokes_before == 3
    status = await db.fetchval(
        "SELECT status FROM customer_conversations WHERE sender = 'bot' AND user_id = $1", b.user_id
    )
    assert status == "sent"
