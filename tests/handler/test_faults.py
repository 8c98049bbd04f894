"""Groq and Graph failing in every way the reliability issue lists: retried, given up on, recorded."""

from __future__ import annotations

import asyncpg
import pytest

from standins import meta
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from tests.factories import SeededTenant, add_tenant
from tests.handler.conftest import LambdaContainer
from tests.handler.events import business_of, envelope_event

CUSTOMER = "242066582610"


async def say_hello(container: LambdaContainer, tenant: SeededTenant) -> dict[str, object]:
    result: dict[str, object] = await container.invoke(
        envelope_event(meta.text_webhook("Hello", sender=CUSTOMER, business=business_of(tenant)))
    )
    return result


async def inbound_row(db: asyncpg.Connection) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT status, error_code, error_title FROM customer_conversations WHERE sender = 'user'"
    )
    assert row is not None
    return row


async def test_groq_rate_limit_is_retried_after_retry_after(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    groq.fail_next(2, status=429, retry_after=0.02)

    result = await say_hello(container, tenant)

    assert result["messages"] == {"replied": 1}
    assert [call.status for call in groq.requests] == [429, 429, 200]
    assert graph.delivered[0].body and graph.delivered[0].body.endswith("You wrote: Hello")


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_groq_down_sends_the_fallback_and_records_why(
    status: int, db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    groq.fail_next(None, status=status)
    event = envelope_event(meta.text_webhook("Hello", sender=CUSTOMER, business=business_of(tenant)))

    attempts, result = await container.invoke_as_lambda_would(event)

    # While Lambda's retries remain the message waits for them (no fallback, no reply); the last
    # attempt succeeds with the fallback: no retry storm, and the customer hears back.
    assert attempts == 3 and result["messages"] == {"replied": 1}
    assert len(groq.requests) == 3 * 3  # GROQ_MAX_ATTEMPTS per attempt
    fallback = await db.fetchval("SELECT fallback_text FROM user_groq_config")
    assert [m.body for m in graph.delivered] == [fallback] and fallback.startswith("Désolé")
    row = await inbound_row(db)
    assert row["status"] == "answered" and row["error_title"].startswith(f"groq unavailable: http {status}")


async def test_groq_timeout_sends_the_fallback(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    groq.fail_next(2 * 3, status=503, retry_after=None)  # the first two attempts: quick 503s
    groq.slow(1.5)  # then longer than GROQ_TIMEOUT_SECONDS=1, on Lambda's last attempt
    event = envelope_event(meta.text_webhook("Hello", sender=CUSTOMER, business=business_of(tenant)))

    attempts, _ = await container.invoke_as_lambda_would(event)

    assert attempts == 3 and len(graph.delivered) == 1
    assert (await inbound_row(db))["error_title"] == "groq unavailable: timeout"


@pytest.mark.parametrize(
    ("status", "code"), [(401, "invalid_api_key"), (404, "model_not_found"), (400, "model_decommissioned")]
)
async def test_groq_rejection_is_not_retried(
    status: int,
    code: str,
    db: asyncpg.Connection,
    container: LambdaContainer,
    groq: GroqStandIn,
    graph: GraphStandIn,
) -> None:
    tenant = await add_tenant(db, 1)
    groq.fail_next(None, status=status, code=code)

    await say_hello(container, tenant)

    assert len(groq.requests) == 1
    assert len(graph.delivered) == 1  # the customer still hears back (the fallback text)
    assert (await inbound_row(db))["error_title"] == f"groq rejected: http {status} {code}"


@pytest.mark.parametrize(
    "fault", [{"status": 500}, {"status": 503}, {"code": 130429}, {"code": 131056}, {"code": 131000}]
)
async def test_transient_graph_errors_are_retried(
    fault: dict[str, int], db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    graph.fail_next(2, **fault)  # type: ignore[arg-type]

    result = await say_hello(container, tenant)

    assert result["messages"] == {"replied": 1}
    assert len(graph.requests) == 3 and len(graph.delivered) == 1
    assert (await inbound_row(db))["status"] == "answered"


@pytest.mark.parametrize("code", [190, 131047, 131026, 100, 131051])
async def test_permanent_graph_errors_are_recorded_not_retried(
    code: int, db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    graph.fail_next(None, code=code)

    result = await say_hello(container, tenant)

    assert result["messages"] == {"send_failed": 1}
    assert len(graph.requests) == 1 and graph.delivered == []
    reply = await db.fetchrow(
        "SELECT status, error_code, error_title FROM customer_conversations WHERE sender = 'bot'"
    )
    assert reply is not None and (reply["status"], reply["error_code"]) == ("failed", code)
    assert reply["error_title"]
    assert (await inbound_row(db))["status"] == "failed"


async def test_graph_answer_that_never_comes_is_not_resent(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    graph.slow(2.0, n=1)  # accepted by Meta, but the answer comes after GRAPH_TIMEOUT_SECONDS=1

    result = await say_hello(container, tenant)

    assert result["messages"] == {"send_failed": 1}
    assert len(graph.requests) == 1  # not retried: the customer may already have it
    assert (await inbound_row(db))["status"] == "outcome_unknown"
