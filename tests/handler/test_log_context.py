"""Every handler line names the Lambda request, and every line about a message names the message
(with the forwarder's field names), without a parameter passed down: bound context."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import asyncpg
import pytest

from shared.logs import JsonFormatter, mask_phone
from standins import meta
from tests.factories import add_tenant
from tests.handler.conftest import LambdaContainer, LambdaTestContext
from tests.handler.events import business_of, envelope_event

CUSTOMER = "242066582610"


class HandlerLines:
    """The handler's log lines so far, as JsonFormatter writes them."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def __call__(self) -> list[dict[str, object]]:
        formatter = JsonFormatter()
        return [json.loads(formatter.format(r)) for r in self._caplog.records if r.name == "handler"]


@pytest.fixture
def handler_lines(caplog: pytest.LogCaptureFixture) -> Iterator[HandlerLines]:
    with caplog.at_level(logging.INFO, logger="handler"):
        yield HandlerLines(caplog)


async def test_each_line_carries_its_request_and_message(
    db: asyncpg.Connection, container: LambdaContainer, handler_lines: HandlerLines
) -> None:
    tenant = await add_tenant(db, 1)
    first, second = LambdaTestContext(), LambdaTestContext()
    payloads = [
        meta.text_webhook(text, sender=CUSTOMER, business=business_of(tenant)) for text in ("Un", "Deux")
    ]

    await container.invoke(envelope_event(payloads[0]), first)
    await container.invoke(envelope_event(payloads[1]), second)

    lines_written = handler_lines()
    wamids = [p["entry"][0]["changes"][0]["value"]["messages"][0]["id"] for p in payloads]
    by_request = {
        context.aws_request_id: [
            line for line in lines_written if line.get("aws_request_id") == context.aws_request_id
        ]
        for context in (first, second)
    }
    assert all(line.get("aws_request_id") in by_request for line in lines_written)
    for context, wamid in zip((first, second), wamids, strict=True):
        lines = by_request[context.aws_request_id]
        about_message = [line for line in lines if line["message"] != "webhook received"]
        assert {line["message_id"] for line in about_message} == {wamid}
        assert {line["sender"] for line in about_message} == {mask_phone(CUSTOMER)}
        shown = {str(line["message"]): line for line in about_message}
        # The tenant is bound once the claim found it, and reaches the typing indicator's own task.
        for after_claim in (
            "typing indicator shown",
            "AI response generated",
            "WhatsApp message sent successfully",
        ):
            assert shown[after_claim]["tenant"] == str(tenant.user_id)
        assert "tenant" not in shown["processing incoming message"]
