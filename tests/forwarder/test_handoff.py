"""The hand-off: whole and byte-identical, split by change past one invoke, parked in S3 past that; 503 on failure."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import pytest

from shared.envelope import Envelope
from standins.lambda_invoke import LambdaFault, LambdaInvokeStandin
from standins.meta import (
    BusinessNumber,
    messages_change,
    new_wamid,
    signed_request,
    status,
    statuses_change,
    text_message,
    text_webhook,
    webhook_payload,
)
from tests.forwarder.conftest import StartForwarder
from tests.forwarder.servers import LiveServer
from tests.forwarder.support import (
    APP_SECRETS,
    PARKING_BUCKET,
    closed_port_url,
    envelopes,
    log_records,
)

SHOP = BusinessNumber(phone_number_id="111111111", display_phone_number="15550000001", waba_id="900000001")
CAFE = BusinessNumber(phone_number_id="222222222", display_phone_number="15550000002", waba_id="900000002")


def deliver(client: httpx.Client, server: LiveServer, payload: object) -> tuple[httpx.Response, bytes, str]:
    body, headers = signed_request(payload, APP_SECRETS[0])
    response = client.post(f"{server.url}/webhook", content=body, headers=headers)
    return response, body, headers["x-hub-signature-256"]


def changes_of(payload: dict[str, Any]) -> list[tuple[str, Any]]:
    """(entry id, change) for every change, in payload order."""
    return [(entry["id"], change) for entry in payload["entry"] for change in entry["changes"]]


def big_text_change(business: BusinessNumber, count: int, size: int = 1000) -> Any:
    texts = [text_message(f"{i:05d} " + "é" * size, sender=f"3361234{i:04d}") for i in range(count)]
    return messages_change(*texts, business=business)


def test_a_batch_of_entries_changes_messages_and_statuses_goes_whole_and_byte_identical(
    client: httpx.Client, forwarder: LiveServer, lambda_standin: LambdaInvokeStandin
) -> None:
    payload = webhook_payload(
        messages_change(text_message("un"), text_message("deux", sender="33699999999"), business=SHOP),
        statuses_change(status(new_wamid(), "delivered"), status(new_wamid(), "read"), business=SHOP),
        messages_change(text_message("trois"), business=CAFE),
    )

    response, body, signature = deliver(client, forwarder, payload)

    assert response.status_code == 200
    [envelope] = envelopes(lambda_standin.invocations)
    assert envelope.body is not None and envelope.body.encode() == body
    assert envelope.signature == signature
    assert len(changes_of(json.loads(envelope.body))) == 3


def test_a_2_mb_batch_is_split_by_change_into_invokes_that_together_carry_all_of_it(
    client: httpx.Client, forwarder: LiveServer, lambda_standin: LambdaInvokeStandin
) -> None:
    payload = webhook_payload(*(big_text_change(SHOP if i % 2 else CAFE, 20) for i in range(48)))

    response, body, _ = deliver(client, forwarder, payload)

    assert len(body) > 2_000_000
    assert response.status_code == 200
    invocations = lambda_standin.invocations
    assert len(invocations) == 48 and all(i.status == 202 for i in invocations)
    parts = envelopes(invocations)
    assert [(e.part, e.parts) for e in parts] == [(n, 48) for n in range(48)]
    assert all(e.signature is None and e.parked is None for e in parts)
    forwarded = [change for e in parts for change in changes_of(json.loads(e.body or ""))]
    assert forwarded == changes_of(payload)
    assert all(json.loads(e.body or "")["object"] == "whatsapp_business_account" for e in parts)


def test_a_single_change_too_big_for_one_invoke_is_parked_in_s3_byte_identical(
    client: httpx.Client,
    start_forwarder: StartForwarder,
    lambda_standin: LambdaInvokeStandin,
    parking_bucket: Any,
) -> None:
    server = start_forwarder(parking_bucket=PARKING_BUCKET)
    payload = webhook_payload(big_text_change(SHOP, 700))

    response, body, signature = deliver(client, server, payload)

    assert len(body) > 1_100_000
    assert response.status_code == 200
    [envelope] = envelopes(lambda_standin.invocations)
    assert envelope.body is None and envelope.parked is not None
    assert envelope.parked.bucket == PARKING_BUCKET
    assert envelope.signature == signature  # the parked object is Meta's own body
    stored = parking_bucket.get_object(Bucket=PARKING_BUCKET, Key=envelope.parked.key)["Body"].read()
    assert stored == body


def test_in_a_split_batch_only_the_oversized_change_is_parked(
    client: httpx.Client,
    start_forwarder: StartForwarder,
    lambda_standin: LambdaInvokeStandin,
    parking_bucket: Any,
) -> None:
    server = start_forwarder(parking_bucket=PARKING_BUCKET)
    huge = big_text_change(CAFE, 700)
    payload = webhook_payload(messages_change(text_message("avant"), business=SHOP), huge)

    response, _, _ = deliver(client, server, payload)

    assert response.status_code == 200
    small, parked = envelopes(lambda_standin.invocations)
    assert small.parked is None and small.body is not None
    assert changes_of(json.loads(small.body)) == changes_of(payload)[:1]
    assert parked.parked is not None and parked.body is None and parked.signature is None
    stored = parking_bucket.get_object(Bucket=PARKING_BUCKET, Key=parked.parked.key)["Body"].read()
    assert changes_of(json.loads(stored)) == [(CAFE.waba_id, huge.as_dict())]


def test_without_a_parking_bucket_an_oversized_change_is_503(
    client: httpx.Client,
    forwarder: LiveServer,
    lambda_standin: LambdaInvokeStandin,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="forwarder")

    response, _, _ = deliver(client, forwarder, webhook_payload(big_text_change(SHOP, 700)))

    assert response.status_code == 503
    assert lambda_standin.invocations == []
    [line] = log_records(caplog, "Hand-off failed; answering 503 so that Meta retries")
    assert line.__dict__["reason"] == "parking_failed"


@pytest.mark.parametrize(
    ("fault", "reason"),
    [(LambdaFault.service_error(), "rejected"), (LambdaFault.throttle(), "throttled")],
)
def test_a_refused_hand_off_is_503_and_nothing_is_delivered(
    client: httpx.Client,
    forwarder: LiveServer,
    lambda_standin: LambdaInvokeStandin,
    caplog: pytest.LogCaptureFixture,
    fault: LambdaFault,
    reason: str,
) -> None:
    caplog.set_level(logging.INFO, logger="forwarder")
    lambda_standin.fail_next(fault)

    response, _, _ = deliver(client, forwarder, text_webhook("Bonjour"))

    assert response.status_code == 503
    assert len(lambda_standin.invocations) == 1  # one attempt: no botocore retry behind Meta's back
    assert lambda_standin.accepted == []
    [line] = log_records(caplog, "Hand-off failed; answering 503 so that Meta retries")
    assert line.__dict__["reason"] == reason
    assert log_records(caplog, "Webhook handed off") == []


def test_a_hand_off_slower_than_the_timeout_is_503_and_dropped(
    client: httpx.Client, start_forwarder: StartForwarder, lambda_standin: LambdaInvokeStandin
) -> None:
    server = start_forwarder(handoff_timeout_seconds=0.3)
    lambda_standin.fail_next(LambdaFault.delay(1.0))
    started = time.monotonic()

    response, _, _ = deliver(client, server, text_webhook("Bonjour"))

    assert response.status_code == 503
    assert time.monotonic() - started < 0.9
    deadline = time.monotonic() + 3
    while not lambda_standin.invocations and time.monotonic() < deadline:
        time.sleep(0.02)
    [late] = lambda_standin.invocations
    assert late.status == 0 and not late.accepted  # the client had hung up: nothing was queued


def test_an_unknown_function_is_503(
    client: httpx.Client, start_forwarder: StartForwarder, lambda_standin: LambdaInvokeStandin
) -> None:
    server = start_forwarder(handler_function_name="no-such-function")

    response, _, _ = deliver(client, server, text_webhook("Bonjour"))

    assert response.status_code == 503
    assert [i.status for i in lambda_standin.invocations] == [404]


def test_an_unreachable_lambda_endpoint_is_503(
    client: httpx.Client,
    start_forwarder: StartForwarder,
    lambda_standin: LambdaInvokeStandin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", closed_port_url())
    server = start_forwarder()

    response, _, _ = deliver(client, server, text_webhook("Bonjour"))

    assert response.status_code == 503
    assert lambda_standin.invocations == []


def test_one_refused_part_of_a_split_batch_makes_the_whole_webhook_503(
    client: httpx.Client, forwarder: LiveServer, lambda_standin: LambdaInvokeStandin
) -> None:
    lambda_standin.fail_next(LambdaFault.throttle())
    payload = webhook_payload(*(big_text_change(SHOP, 300) for _ in range(4)))

    response, _, _ = deliver(client, forwarder, payload)

    assert response.status_code == 503
    assert len(lambda_standin.accepted) == 3  # Meta's retry brings all four again; the handler dedupes


def test_the_envelope_is_what_the_handler_parses(
    client: httpx.Client, forwarder: LiveServer, lambda_standin: LambdaInvokeStandin
) -> None:
    deliver(client, forwarder, text_webhook("Bonjour"))

    [invocation] = lambda_standin.invocations
    event = invocation.event()
    assert Envelope.matches(event)
    assert Envelope.from_dict(event).to_json() == invocation.payload
