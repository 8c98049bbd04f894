"""Seed test 2, as a property: whatever the tenants and however their messages interleave and
batch, each reply is generated with its tenant's Groq key and sent with its tenant's token."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from standins import meta
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from tests.factories import SeededTenant, add_tenant
from tests.handler.conftest import LambdaContainer
from tests.handler.events import business_of, envelope_event

# (tenant index, customer index) for each message, in the order the customers sent them.
conversations = st.integers(min_value=2, max_value=5).flatmap(
    lambda tenants: st.tuples(
        st.just(tenants),
        st.lists(st.tuples(st.integers(0, tenants - 1), st.integers(0, 2)), min_size=1, max_size=10),
        st.integers(min_value=1, max_value=4),  # messages per payload
    )
)


def run_async(work: object) -> object:
    """Run a coroutine on a private loop in another thread (the test itself is synchronous)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()  # type: ignore[arg-type]


async def fresh_tenants(database_url: str, count: int) -> list[SeededTenant]:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "TRUNCATE customer_conversations, user_groq_config, user_whatsapp_config, auth.users CASCADE"
        )
        return [await add_tenant(conn, number) for number in range(count)]
    finally:
        await conn.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conversation=conversations)
def test_every_reply_uses_its_own_tenants_credentials(
    conversation: tuple[int, list[tuple[int, int]], int],
    database_url: str,
    container: LambdaContainer,
    groq: GroqStandIn,
    graph: GraphStandIn,
) -> None:
    tenant_count, messages, batch_size = conversation
    groq.reset()
    graph.reset()
    tenants: list[SeededTenant] = run_async(fresh_tenants(database_url, tenant_count))  # type: ignore[assignment]

    items = [
        (tenants[t], meta.text_message(f"t{t}-m{i}", sender=f"3360000000{c}", timestamp=1_700_000_000 + i))
        for i, (t, c) in enumerate(messages)
    ]
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        changes = [meta.messages_change(item, business=business_of(tenant)) for tenant, item in chunk]
        container.invoke_sync(envelope_event(meta.webhook_payload(*changes)))

    def owner(text: str) -> SeededTenant:
        match = re.search(r"t(\d+)-m\d+", text)
        assert match is not None
        return tenants[int(match.group(1))]

    assert len(groq.requests) == len(messages)
    for call in groq.requests:
        assert call.api_key == owner(call.last_user_message).groq_key
        assert all(owner(turn.content) is owner(call.last_user_message) for turn in call.history)
    assert len(graph.delivered) == len(messages)
    for sent in graph.delivered:
        tenant = owner(sent.body or "")
        assert (sent.token, sent.phone_number_id) == (tenant.access_token, tenant.phone_number_id)
