"""Exactly one reply per customer message: duplicates at the same time, retries after crashes,
and a customer's messages answered in the order they were sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from standins import meta
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from tests.factories import add_tenant
from tests.handler.conftest import LambdaContainer
from tests.handler.events import business_of, envelope_event

CUSTOMER = "242066582610"


@pytest.fixture
async def second_container(container: LambdaContainer) -> AsyncIterator[LambdaContainer]:
    """Another warm container of the same function: its own thread, loop and pool."""
    other = LambdaContainer()
    yield other
    await other.close()


async def test_same_message_in_two_containers_at_once_is_answered_once(
    db: asyncpg.Connection,
    container: LambdaContainer,
    second_container: LambdaContainer,
    groq: GroqStandIn,
    graph: GraphStandIn,
) -> None:
    tenant = await add_tenant(db, 1)
    groq.slow(0.5, n=1)
    event = envelope_event(meta.text_webhook("Hello", sender=CUSTOMER, business=business_of(tenant)))

    first: object
    second: object
    first, second = await asyncio.gather(
        container.invoke(event), second_container.invoke(event), return_exceptions=True
    )

    # The loser finds the winner's live lease: it defers to it and succeeds (no function error).
    assert isinstance(first, dict) and isinstance(second, dict)
    assert sorted([first["messages"], second["messages"]], key=str) == [{"deferred": 1}, {"replied": 1}]
    assert len(groq.requests) == 1 and len(graph.delivered) == 1
    retried = await container.invoke(event)  # Lambda's retry, after the winner finished
    assert retried["messages"] == {"duplicate": 1}
    assert len(graph.delivered) == 1


async def test_retry_after_a_crash_before_sending_answers_once(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    payload = meta.text_webhook("Hello", sender=CUSTOMER, business=business_of(tenant))
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    # What a container that died after claiming the message leaves behind, once its lease ran out.
    await db.execute(
        "INSERT INTO customer_conversations (user_id, phone_number, content, sender, source, wa_message_id,"
        " status, attempts, lease_expires_at) VALUES ($1, $2, 'Hello', 'user', 'whatsapp', $3, 'answering', 1,"
        " now() - interval '1 second')",
        tenant.user_id,
        CUSTOMER,
        wamid,
    )

    result = await container.invoke(envelope_event(payload))

    assert result["messages"] == {"replied": 1}
    assert len(groq.requests) == 1 and len(graph.delivered) == 1
    row = await db.fetchrow("SELECT attempts, status FROM customer_conversations WHERE sender = 'user'")
    assert row is not None and (row["attempts"], row["status"]) == (2, "answered")


async def test_failure_before_the_send_gives_the_message_back_for_the_retry(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    event = envelope_event(meta.text_webhook("Hello", sender=CUSTOMER, business=business_of(tenant)))
    # The database refuses the reply's rows: an unexpected failure after the claim, before the send.
    await db.execute(
        "ALTER TABLE customer_conversations ADD CONSTRAINT no_bot_rows CHECK (sender <> 'bot') NOT VALID"
    )
    try:
        with pytest.raises(asyncpg.CheckViolationError):
            await container.invoke(event)
    finally:
        await db.execute("ALTER TABLE customer_conversations DROP CONSTRAINT no_bot_rows")
    assert await db.fetchval("SELECT status FROM customer_conversations WHERE sender = 'user'") == "received"

    result = await container.invoke(event)  # Lambda's retry claims it at once

    assert result["messages"] == {"replied": 1} and len(graph.delivered) == 1


async def test_crash_during_the_send_is_marked_and_never_resent(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    event = envelope_event(meta.text_webhook("Hello", sender=CUSTOMER, business=business_of(tenant)))
    await container.invoke(event)
    # Rewind to the state a crash between the Graph call and its recording leaves behind.
    await db.execute(
        "UPDATE customer_conversations SET status = 'sending', lease_expires_at = now() - interval '1 second'"
        " WHERE sender = 'user'"
    )
    graph.reset()
    groq.reset()

    result = await container.invoke(event)

    assert result["messages"] == {"outcome_unknown": 1}
    assert graph.requests == [] and groq.requests == []
    assert (
        await db.fetchval("SELECT status FROM customer_conversations WHERE sender = 'user'")
        == "outcome_unknown"
    )


async def test_a_customers_messages_are_answered_in_order_across_containers(
    db: asyncpg.Connection,
    container: LambdaContainer,
    second_container: LambdaContainer,
    groq: GroqStandIn,
    graph: GraphStandIn,
) -> None:
    tenant = await add_tenant(db, 1)
    business = business_of(tenant)
    first = envelope_event(
        meta.text_webhook("first", sender=CUSTOMER, business=business, timestamp=1_765_000_000)
    )
    second = envelope_event(
        meta.text_webhook("second", sender=CUSTOMER, business=business, timestamp=1_765_000_001)
    )
    groq.slow(0.6, n=1)  # the first message's AI call is slow

    async def second_a_little_later() -> object:
        await asyncio.sleep(0.2)
        return await second_container.invoke(second)

    results = await asyncio.gather(container.invoke(first), second_a_little_later())

    assert [r["messages"] for r in results] == [{"replied": 1}, {"replied": 1}]  # type: ignore[index]
    [first_call, second_call] = groq.requests
    assert first_call.last_user_message == "first"
    assert [turn.content for turn in second_call.history][0] == "first"
    assert len(second_call.history) == 2  # the first message and its reply
    assert graph.delivered[0].body and graph.delivered[0].body.endswith("You wrote: first")
    assert graph.delivered[1].body and graph.delivered[1].body.endswith("You wrote: second")


async def test_a_duplicate_of_a_message_held_elsewhere_is_deferred_without_an_error(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    event = envelope_event(meta.text_webhook("Hello", business=business_of(tenant)))
    await container.invoke(event)
    await db.execute(
        "UPDATE customer_conversations SET status = 'answering', lease_expires_at = now() + interval '1 minute'"
        " WHERE sender = 'user'"
    )

    result = await container.invoke(event)  # Meta's duplicate, while the lease holder works

    assert result["success"] is True and result["messages"] == {"deferred": 1}
    assert len(graph.delivered) == 1
