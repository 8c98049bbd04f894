"""No reply lost to a passing fault: a Groq or Graph outage longer than one invocation waits for
Lambda's retry (the recorded reply is resent as it is, Groq is not asked twice), only the last
attempt gives up, and a payload's messages keep their order against later webhooks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import asyncpg
import pytest

from handler.errors import RetryLater
from standins import meta
from standins.graph import GraphFault, GraphStandIn, SentMessage
from standins.groq import GroqRequest, GroqStandIn, offline_reply
from standins.lambda_invoke import LambdaInvokeStandin
from tests.factories import add_tenant
from tests.handler.conftest import LambdaContainer, LambdaTestContext
from tests.handler.events import business_of, envelope_event, function_url_event
from tests.handler.system import System, running_system

CUSTOMER = "242066582610"


@pytest.fixture
def system(lambdas: LambdaInvokeStandin) -> Iterator[System]:
    with running_system(lambdas) as running:
        yield running


async def rows(db: asyncpg.Connection) -> list[tuple[str, str, str | None]]:
    records = await db.fetch(
        "SELECT sender, status, error_title FROM customer_conversations ORDER BY created_at, reply_part NULLS FIRST"
    )
    return [(r["sender"], r["status"], r["error_title"]) for r in records]


async def test_a_graph_outage_longer_than_the_invocation_is_sent_by_lambdas_retry(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    graph.fail_next(3, status=503)  # every attempt of the first invocation (GRAPH_MAX_ATTEMPTS=3)

    system.post_and_settle(meta.text_webhook("Bonjour", sender=CUSTOMER, business=business_of(tenant)))

    [completion] = system.lambdas.completions
    assert completion.attempts == 2 and system.lambdas.dead_letters == []
    assert len(groq.requests) == 1  # the retry resent the recorded reply: Groq was not asked again
    [sent] = graph.delivered
    assert sent.body == await db.fetchval("SELECT content FROM customer_conversations WHERE sender = 'bot'")
    assert await rows(db) == [("user", "answered", None), ("bot", "sent", None)]


async def test_a_passing_graph_error_that_outlasts_every_retry_ends_failed_with_the_reason(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    graph.fail_next(None, code=131000)  # "Something went wrong", for good

    system.post_and_settle(meta.text_webhook("Bonjour", sender=CUSTOMER, business=business_of(tenant)))

    assert len(groq.requests) == 1 and graph.delivered == []
    assert len(graph.requests) == 3 * 3  # three invocations, each backing off within its deadline
    [completion] = system.lambdas.completions  # the last attempt records it and succeeds
    assert completion.attempts == 3 and system.lambdas.dead_letters == []
    assert await rows(db) == [
        ("user", "failed", "(#131000) Something went wrong (passing error: no retry left)"),
        ("bot", "failed", "(#131000) Something went wrong (passing error: no retry left)"),
    ]


async def test_a_groq_outage_longer_than_the_invocation_is_answered_by_the_ai_on_the_retry(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    groq.fail_next(3, status=503, retry_after=None)  # the whole first invocation

    system.post_and_settle(meta.text_webhook("Bonjour", sender=CUSTOMER, business=business_of(tenant)))

    [sent] = graph.delivered
    assert sent.body is not None and sent.body.endswith("You wrote: Bonjour")  # not the fallback
    assert await rows(db) == [("user", "answered", None), ("bot", "sent", None)]


async def test_a_split_reply_resends_only_the_parts_meta_did_not_accept(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)

    def long_answer(request: GroqRequest) -> str:
        return "PART-ONE " + "a" * 3000 + "\n\nPART-TWO " + "b" * 3000 + "\n\nPART-THREE " + "c" * 3000

    groq.reply = long_answer

    def second_part(attempt: SentMessage) -> bool:
        return (attempt.body or "").startswith("PART-TWO")

    graph.faults.add(GraphFault(status=503), times=3, when=second_part)

    system.post_and_settle(meta.text_webhook("Bonjour", sender=CUSTOMER, business=business_of(tenant)))

    bodies = [(sent.body or "").split(" ")[0] for sent in graph.delivered]
    assert bodies == ["PART-ONE", "PART-TWO", "PART-THREE"]  # each once, in order
    assert len(groq.requests) == 1
    parts = await db.fetch(
        "SELECT reply_part, status FROM customer_conversations WHERE sender = 'bot' ORDER BY reply_part"
    )
    assert [(p["reply_part"], p["status"]) for p in parts] == [(0, "sent"), (1, "sent"), (2, "sent")]


async def test_the_webhook_route_answers_503_while_a_message_waits_for_a_retry(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    graph.fail_next(3, status=503)
    body, headers = meta.signed_request(
        meta.text_webhook("Bonjour", business=business_of(tenant)), "test-app-secret"
    )

    first = await container.invoke(function_url_event("POST", "/webhook", body=body, headers=headers))
    again = await container.invoke(
        function_url_event("POST", "/webhook", body=body, headers=headers)
    )  # Meta's retry

    assert first["statusCode"] == 503  # Meta retries what is not a 200
    assert again["statusCode"] == 200 and len(graph.delivered) == 1


async def test_a_duplicate_arriving_while_the_reply_waits_for_its_resend_resends_it_once(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    graph.fail_next(3, status=503)
    event = envelope_event(meta.text_webhook("Bonjour", business=business_of(tenant)))
    with pytest.raises(RetryLater):
        await container.invoke(event)

    duplicate, retry = await asyncio.gather(container.invoke(event), container.invoke(event))

    assert sorted([str(duplicate["messages"]), str(retry["messages"])]) == sorted(
        [str({"replied": 1}), str({"duplicate": 1})]
    )
    assert len(graph.delivered) == 1 and len(groq.requests) == 1


async def test_a_payloads_messages_are_claimed_before_a_later_webhook_of_the_customer(
    db: asyncpg.Connection,
    container: LambdaContainer,
    groq: GroqStandIn,
    graph: GraphStandIn,
) -> None:
    tenant = await add_tenant(db, 1)
    other = LambdaContainer()
    business = business_of(tenant)
    first_batch = meta.webhook_payload(
        meta.messages_change(
            meta.text_message("one", sender=CUSTOMER, timestamp=1_800_000_000),
            meta.text_message("two", sender=CUSTOMER, timestamp=1_800_000_001),
            business=business,
        )
    )
    later = meta.text_webhook("three", sender=CUSTOMER, business=business, timestamp=1_800_000_002)

    def slow_first(request: GroqRequest) -> str:
        if request.last_user_message == "one":
            time.sleep(0.8)  # the batch is held up by Groq (in the stand-in's own thread)
        return offline_reply(request)

    groq.reply = slow_first
    try:
        batch = asyncio.ensure_future(container.invoke(envelope_event(first_batch)))
        await asyncio.sleep(0.3)  # both messages of the batch are claimed by now; "one" is at Groq
        alone = await other.invoke(envelope_event(later))
        await batch
    finally:
        await other.close()

    assert alone["messages"] == {"replied": 1}
    said = [(sent.body or "").rsplit("You wrote: ", 1)[-1] for sent in graph.delivered]
    assert said == ["one", "two", "three"]  # the customer's order, whatever the webhooks' timing
    [third] = [call for call in groq.requests if call.last_user_message == "three"]
    assert [turn.content for turn in third.history][::2] == ["one", "two"]  # both, with their replies


async def _leave_as_a_crashed_attempt_would(db: asyncpg.Connection, *, moved_seconds_ago: float) -> None:
    """The state an attempt leaves when it dies after its claim, unable to give the message back
    (its database connection gone, its container killed): still `answering`, the lease running."""
    await db.execute(
        """UPDATE customer_conversations
           SET status = 'answering', lease_expires_at = now() + interval '80 seconds',
               updated_at = now() - make_interval(secs => $1)
           WHERE sender = 'user'""",
        moved_seconds_ago,
    )


async def test_the_retry_of_an_attempt_that_died_holding_the_lease_takes_it_over(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    groq.fail_next(3, status=503, retry_after=None)
    event = envelope_event(meta.text_webhook("Bonjour", business=business_of(tenant)))
    context = LambdaTestContext()
    with pytest.raises(RetryLater):
        await container.invoke(event, context)
    assert await db.fetchval("SELECT lease_holder FROM customer_conversations") == context.aws_request_id
    # Lambda retries a minute later (LAMBDA_RETRY_DELAYS_SECONDS), within the dead attempt's lease.
    await _leave_as_a_crashed_attempt_would(db, moved_seconds_ago=61)

    result = await container.invoke(event, context)

    assert result["messages"] == {"replied": 1}
    [sent] = graph.delivered
    assert sent.body is not None and sent.body.endswith("You wrote: Bonjour")
    assert await rows(db) == [("user", "answered", None), ("bot", "sent", None)]


@pytest.mark.parametrize(
    ("same_event", "moved_seconds_ago"),
    [(False, 61), (True, 1)],
    ids=["another event (a webhook duplicate)", "the same event at once (Lambda's duplicate delivery)"],
)
async def test_a_lease_is_not_taken_from_a_holder_that_may_be_alive(
    db: asyncpg.Connection,
    container: LambdaContainer,
    groq: GroqStandIn,
    graph: GraphStandIn,
    same_event: bool,
    moved_seconds_ago: float,
) -> None:
    tenant = await add_tenant(db, 1)
    groq.fail_next(3, status=503, retry_after=None)
    event = envelope_event(meta.text_webhook("Bonjour", business=business_of(tenant)))
    context = LambdaTestContext()
    with pytest.raises(RetryLater):
        await container.invoke(event, context)
    await _leave_as_a_crashed_attempt_would(db, moved_seconds_ago=moved_seconds_ago)

    result = await container.invoke(event, context if same_event else LambdaTestContext())

    assert result["messages"] == {"deferred": 1}
    assert graph.delivered == [] and len(groq.requests) == 3
    assert await rows(db) == [("user", "answering", None)]
