"""Hostile input gets a precise 4xx or is refused item by item: never a crash that costs the rest
of a batch, never a raw value in a log line or an error report."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from handler.adapters.postgres import _Statements
from handler.errors import UnstorableValue
from shared.envelope import InvalidEnvelope
from shared.logs import JsonFormatter
from shared.signature import FORWARDER_SIGNATURE_HEADER, sign
from standins import meta
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from tests.factories import add_tenant, issue_web_chat_key
from tests.handler.conftest import SEED_ROUTE_KEY, LambdaContainer
from tests.handler.events import APP_SECRET, business_of, envelope_event, function_url_event

BOMB = b'{"object":"whatsapp_business_account","entry":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
FORWARDER_SECRET = "test-forwarder-secret"


class LogLines:
    """Every record so far, formatted as production writes it."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog
        self._formatter = JsonFormatter()

    def __iter__(self) -> Iterator[str]:
        for record in self._caplog.records:
            line = self._formatter.format(record)
            line.encode("utf-8")  # every line can be written to a UTF-8 stream
            yield line


@pytest.fixture
def every_log_line(caplog: pytest.LogCaptureFixture) -> Iterator[LogLines]:
    with caplog.at_level(logging.DEBUG):
        lines = LogLines(caplog)
        yield lines
        written = list(lines)  # formats and encodes every record of the test: raises if one cannot
        assert len(written) == len(caplog.records)


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    raw = response["body"]
    text = base64.b64decode(raw).decode() if response.get("isBase64Encoded") else raw
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def bomb_requests(web_chat_key: str) -> dict[str, dict[str, Any]]:
    return {
        "/webhook": function_url_event(
            "POST", "/webhook", body=BOMB, headers={"x-hub-signature-256": sign(APP_SECRET, BOMB)}
        ),
        "/internal/envelope": function_url_event(
            "POST",
            "/internal/envelope",
            body=BOMB,
            headers={FORWARDER_SIGNATURE_HEADER: sign(FORWARDER_SECRET, BOMB)},
        ),
        "/chat": function_url_event(
            "POST", "/chat", body=BOMB, headers={"authorization": f"Bearer {web_chat_key}"}
        ),
        "/functions/v1/api-chatbot": function_url_event(
            "POST",
            "/functions/v1/api-chatbot",
            body=BOMB,
            headers={"authorization": f"Bearer {SEED_ROUTE_KEY}"},
        ),
    }


@pytest.mark.parametrize("route", ["/webhook", "/internal/envelope", "/chat", "/functions/v1/api-chatbot"])
async def test_deeply_nested_json_is_400_with_a_log_line_on_every_route(
    db: asyncpg.Connection,
    container: LambdaContainer,
    groq: GroqStandIn,
    every_log_line: LogLines,
    caplog: pytest.LogCaptureFixture,
    route: str,
) -> None:
    tenant = await add_tenant(db, 1)
    key = await issue_web_chat_key(db, tenant.user_id)

    response = await container.invoke(bomb_requests(key)[route])

    assert response["statusCode"] == 400
    assert "nested too deeply" in body_of(response)["error"]
    assert any("nested too deeply" in str(getattr(r, "reason", "")) for r in caplog.records)
    assert groq.requests == []


async def test_an_envelope_event_with_a_nested_body_is_an_invalid_envelope(
    container: LambdaContainer,
) -> None:
    event = envelope_event({})
    event["body"] = BOMB.decode()

    with pytest.raises(InvalidEnvelope, match="nested too deeply"):
        await container.invoke(event)


CUSTOMERS = ("33611111111", "33622222222", "33633333333")
LONG = "9" * 3000  # past the largest btree index entry once with the tenant and the timestamp


def batch_of_three(tenant: Any, middle: dict[str, Any]) -> dict[str, Any]:
    first, last = (meta.text_message(f"hello {c}", sender=c) for c in (CUSTOMERS[0], CUSTOMERS[2]))
    second = meta.text_message(f"hello {CUSTOMERS[1]}", sender=CUSTOMERS[1]) | middle
    return meta.webhook_payload(meta.messages_change(first, second, last, business=business_of(tenant)))


CLEANED_TEXT = {
    "NUL in the text": {"text": {"body": "bon\x00jour"}},
    "a lone surrogate in the text": {"text": {"body": "merci \ud83d"}},
}
REFUSED_IDS = {
    "NUL in the sender": {"from": "336\x0022222222"},
    "a lone surrogate in the sender": {"from": "336\ud83d"},
    "a sender too long for an index": {"from": LONG},
    "NUL in the message id": {"id": "wamid.\x00abc"},
    "a lone surrogate in the message id": {"id": "wamid.\udc00abc"},
    "a message id too long for an index": {"id": "wamid." + LONG},
}


@pytest.mark.parametrize("middle", CLEANED_TEXT.values(), ids=CLEANED_TEXT.keys())
async def test_unstorable_text_is_cleaned_and_every_message_answered(
    db: asyncpg.Connection,
    container: LambdaContainer,
    graph: GraphStandIn,
    every_log_line: LogLines,
    middle: dict[str, Any],
) -> None:
    tenant = await add_tenant(db, 1)

    result = await container.invoke(envelope_event(batch_of_three(tenant, middle)))

    assert result["success"] is True and result["messages"] == {"replied": 3}
    assert sorted(sent.to for sent in graph.delivered) == sorted(CUSTOMERS)
    stored = await db.fetchval(
        "SELECT content FROM customer_conversations WHERE phone_number = $1 AND sender = 'user'", CUSTOMERS[1]
    )
    assert "\x00" not in stored and ("bonjour" in stored or "merci \ufffd" in stored)


@pytest.mark.parametrize("middle", REFUSED_IDS.values(), ids=REFUSED_IDS.keys())
async def test_an_unstorable_id_costs_only_its_own_message(
    db: asyncpg.Connection,
    container: LambdaContainer,
    graph: GraphStandIn,
    every_log_line: LogLines,
    middle: dict[str, Any],
) -> None:
    tenant = await add_tenant(db, 1)

    result = await container.invoke(envelope_event(batch_of_three(tenant, middle)))

    assert result["success"] is True and result["messages"] == {"replied": 2} and result["skipped"] == 1
    assert sorted(sent.to for sent in graph.delivered) == [CUSTOMERS[0], CUSTOMERS[2]]  # one reply each
    assert any("not a storable WhatsApp id" in line for line in every_log_line)
    assert not any(LONG in line for line in every_log_line)


async def test_an_unstorable_business_number_costs_only_its_own_change(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    hostile = meta.BusinessNumber(phone_number_id="1\x00" + LONG, waba_id="waba-x")
    payload = meta.webhook_payload(
        meta.messages_change(meta.text_message("a", sender=CUSTOMERS[0]), business=business_of(tenant)),
        meta.messages_change(meta.text_message("b", sender=CUSTOMERS[1]), business=hostile),
    )

    result = await container.invoke(envelope_event(payload))

    assert result["messages"] == {"replied": 1} and result["skipped"] == 1
    assert [sent.to for sent in graph.delivered] == [CUSTOMERS[0]]


async def test_postgres_refusing_a_value_is_reported_without_the_value(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        statements = _Statements(pool)
        for value in ("secret text\x00", "secret text \ud83d"):
            with pytest.raises(UnstorableValue) as refused:
                await statements.execute("SELECT $1::text", value)
            assert "secret" not in str(refused.value) and "SQLSTATE" in str(refused.value)
    finally:
        await pool.close()


async def test_an_unexpected_database_error_reaches_lambda_without_the_row(
    db: asyncpg.Connection, container: LambdaContainer, every_log_line: LogLines
) -> None:
    tenant = await add_tenant(db, 1)
    words = "my card number is 4970"
    await db.execute(
        "ALTER TABLE customer_conversations ADD CONSTRAINT no_cards CHECK (content NOT LIKE '%card%') NOT VALID"
    )
    try:
        with pytest.raises(asyncpg.CheckViolationError) as failure:
            await container.invoke(envelope_event(meta.text_webhook(words, business=business_of(tenant))))
    finally:
        await db.execute("ALTER TABLE customer_conversations DROP CONSTRAINT no_cards")

    report = str(failure.value)  # what Lambda's error report and the dead-letter queue would show
    assert report == "CheckViolationError (SQLSTATE 23514)"
    assert not any(words in line for line in every_log_line)


@pytest.mark.parametrize(
    "body",
    [
        {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m", "choices": []},
        {
            "id": "chatcmpl-2",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0}],
        },
        {
            "id": "chatcmpl-3",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "message": None, "finish_reason": "stop"}],
        },
        {
            "id": "chatcmpl-4",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": None}}],
        },
    ],
    ids=["no choices", "no message", "a null message", "a null content"],
)
async def test_a_groq_200_without_an_answer_is_groq_unavailable(
    db: asyncpg.Connection,
    container: LambdaContainer,
    groq: GroqStandIn,
    graph: GraphStandIn,
    body: dict[str, Any],
) -> None:
    tenant = await add_tenant(db, 1)
    groq.answer_with_body(body, n=None)

    event = envelope_event(meta.text_webhook("Bonjour", business=business_of(tenant)))

    # Groq unavailable: Lambda's retries are waited for, then the last attempt sends the fallback.
    attempts, result = await container.invoke_as_lambda_would(event)

    assert attempts == 3 and result["messages"] == {"replied": 1}
    fallback = await db.fetchval("SELECT fallback_text FROM user_groq_config")
    assert [sent.body for sent in graph.delivered] == [fallback]
    reason = await db.fetchval("SELECT error_title FROM customer_conversations WHERE sender = 'user'")
    assert reason == "groq unavailable: empty completion"
