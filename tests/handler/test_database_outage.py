"""Postgres down before or in the middle of a message: the invocation fails so Lambda retries it,
nothing is half-recorded, and once Postgres is back the customer gets exactly one reply."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from handler.errors import DatabaseUnavailable
from ops.migrate import migrate
from standins import meta
from standins.graph import GraphStandIn
from standins.groq import GroqRequest, GroqStandIn, offline_reply
from standins.postgres import RestartablePostgres
from tests.factories import add_tenant
from tests.handler.conftest import LambdaContainer, LambdaTestContext
from tests.handler.events import business_of, envelope_event

# A short lease (the time left minus the 3 s reserve, at least 1 s): Lambda retries after minutes,
# the test after a couple of seconds.
SHORT_INVOCATION = LambdaTestContext(remaining_ms=4_000)


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartablePostgres]:
    server = RestartablePostgres(tmp_path_factory.mktemp("outage") / "pg")
    asyncio.run(migrate(server.url))
    yield server


@pytest.fixture
async def outage_container(
    own_postgres: RestartablePostgres, handler_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[LambdaContainer]:
    """A container whose DATABASE_URL is the Postgres this module stops and starts."""
    monkeypatch.setenv("DATABASE_URL", own_postgres.url)
    container = LambdaContainer()
    yield container
    await container.close()


@pytest.fixture
async def own_db(own_postgres: RestartablePostgres) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(own_postgres.url)
    await conn.execute(
        "TRUNCATE customer_conversations, user_groq_config, user_whatsapp_config, auth.users CASCADE"
    )
    yield conn
    await conn.close()


async def rows(url: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(url)
    try:
        records = await conn.fetch("SELECT sender, status FROM customer_conversations ORDER BY created_at")
        return [(r["sender"], r["status"]) for r in records]
    finally:
        await conn.close()


async def test_database_down_fails_the_invocation_and_the_retry_answers_once(
    own_postgres: RestartablePostgres,
    own_db: asyncpg.Connection,
    outage_container: LambdaContainer,
    groq: GroqStandIn,
    graph: GraphStandIn,
) -> None:
    tenant = await add_tenant(own_db, 1)
    await own_db.close()
    event = envelope_event(meta.text_webhook("Hello", business=business_of(tenant)))
    await outage_container.invoke(envelope_event(meta.text_webhook("warm-up", business=business_of(tenant))))
    graph.reset()
    groq.reset()

    own_postgres.stop()
    try:
        with pytest.raises(DatabaseUnavailable):
            await outage_container.invoke(event, SHORT_INVOCATION)
    finally:
        own_postgres.start()
    assert groq.requests == [] and graph.requests == []

    result = await outage_container.invoke(event)  # Lambda's retry

    assert result["messages"] == {"replied": 1}
    assert len(graph.delivered) == 1
    assert (await rows(own_postgres.url))[-2:] == [("user", "answered"), ("bot", "sent")]


async def test_database_lost_mid_message_keeps_nothing_half_done(
    own_postgres: RestartablePostgres,
    own_db: asyncpg.Connection,
    outage_container: LambdaContainer,
    groq: GroqStandIn,
    graph: GraphStandIn,
) -> None:
    tenant = await add_tenant(own_db, 1)
    await own_db.close()
    event = envelope_event(meta.text_webhook("Hello", business=business_of(tenant)))

    def answer_then_lose_the_database(request: GroqRequest) -> str:
        own_postgres.stop()  # after the claim, before the reply is saved
        return offline_reply(request)

    groq.reply = answer_then_lose_the_database
    try:
        with pytest.raises(DatabaseUnavailable):
            await outage_container.invoke(event, SHORT_INVOCATION)
    finally:
        groq.reset()
        own_postgres.start()
    assert graph.requests == []  # nothing was sent
    assert await rows(own_postgres.url) == [("user", "answering")]  # claimed, no reply row

    await asyncio.sleep(1.2)  # the short lease runs out, as it would before Lambda's first retry
    result = await outage_container.invoke(event)

    assert result["messages"] == {"replied": 1}
    assert len(graph.delivered) == 1
    assert await rows(own_postgres.url) == [("user", "answered"), ("bot", "sent")]
