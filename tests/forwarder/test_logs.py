"""The seed's forwarder log lines, as structured JSON: who and how much, never what, never a secret."""

from __future__ import annotations

import logging
from typing import NoReturn

import httpx
import pytest

import forwarder.app as forwarder_app
from shared.logs import JsonFormatter, mask_phone
from standins.lambda_invoke import LambdaInvokeStandin
from standins.meta import (
    BusinessNumber,
    messages_change,
    new_wamid,
    signed_request,
    status,
    statuses_change,
    text_message,
    verification_params,
    webhook_payload,
)
from tests.forwarder.servers import LiveServer
from tests.forwarder.support import APP_SECRETS, VERIFY_TOKEN, log_records

SHOP = BusinessNumber(phone_number_id="123456789", display_phone_number="15550000001", waba_id="900000001")
SECRET_TEXT = "my card number is 4970 1234"
CUSTOMER = "242066582610"


def test_each_message_is_logged_with_masked_sender_and_length_then_the_hand_off_time(
    client: httpx.Client,
    forwarder: LiveServer,
    lambda_standin: LambdaInvokeStandin,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="forwarder")
    first = text_message(SECRET_TEXT, sender=CUSTOMER)
    payload = webhook_payload(
        messages_change(first, text_message("ok", sender="33612345678"), business=SHOP),
        statuses_change(status(new_wamid(), "read"), business=SHOP),
    )
    body, headers = signed_request(payload, APP_SECRETS[0])

    assert client.post(f"{forwarder.url}/webhook", content=body, headers=headers).status_code == 200

    incoming = log_records(caplog, "Processing incoming message")
    assert [(r.__dict__["message_id"], r.__dict__["text_length"]) for r in incoming] == [
        (first["id"], len(SECRET_TEXT)),
        (payload["entry"][0]["changes"][0]["value"]["messages"][1]["id"], 2),
    ]
    assert incoming[0].__dict__["phone_number_id"] == "123456789"
    assert incoming[0].__dict__["sender"] == mask_phone(CUSTOMER) != CUSTOMER
    [forwarding] = log_records(caplog, "Forwarding to handler")
    assert (forwarding.__dict__["messages"], forwarding.__dict__["statuses"]) == (2, 1)
    [handed_off] = log_records(caplog, "Webhook handed off")
    assert isinstance(handed_off.__dict__["handoff_ms"], float)


def test_no_log_line_carries_a_secret_a_token_a_number_or_a_text(
    client: httpx.Client,
    forwarder: LiveServer,
    lambda_standin: LambdaInvokeStandin,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    body, headers = signed_request(
        webhook_payload(messages_change(text_message(SECRET_TEXT, sender=CUSTOMER), business=SHOP)),
        APP_SECRETS[1],
    )
    client.post(f"{forwarder.url}/webhook", content=body, headers=headers)
    client.post(
        f"{forwarder.url}/webhook", content=body, headers={"x-hub-signature-256": "sha256=" + "a" * 64}
    )
    client.get(f"{forwarder.url}/webhook", params=verification_params(VERIFY_TOKEN))
    client.get(f"{forwarder.url}/webhook", params=verification_params("guess-" + VERIFY_TOKEN))

    lines = [JsonFormatter().format(record) for record in caplog.records if record.name == "forwarder"]

    assert len(lines) >= 6
    for forbidden in (*APP_SECRETS, VERIFY_TOKEN, SECRET_TEXT, CUSTOMER, headers["x-hub-signature-256"]):
        assert not any(forbidden in line for line in lines), forbidden


def test_without_info_lines_the_payload_is_handed_off_without_being_parsed_for_them(
    client: httpx.Client,
    forwarder: LiveServer,
    lambda_standin: LambdaInvokeStandin,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(payload: object) -> NoReturn:
        raise AssertionError("parsed only for log lines that are not written")

    monkeypatch.setattr(forwarder_app, "webhook_facts", refuse)
    caplog.set_level(logging.WARNING, logger="forwarder")
    body, headers = signed_request(
        webhook_payload(messages_change(text_message("Bonjour", sender=CUSTOMER), business=SHOP)),
        APP_SECRETS[0],
    )

    assert client.post(f"{forwarder.url}/webhook", content=body, headers=headers).status_code == 200
    assert len(lambda_standin.accepted) == 1
    assert log_records(caplog, "Webhook handed off") == []
