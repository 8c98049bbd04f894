"""Constants and small helpers the forwarder tests share."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from forwarder.settings import ForwarderSettings
from shared.envelope import Envelope
from standins.lambda_invoke import Invocation

FUNCTION_NAME = "whatsapp-handler"
VERIFY_TOKEN = "verify-token-7f3a"
APP_SECRETS = ("first-app-secret-1b2c", "second-app-secret-9d8e")
PARKING_BUCKET = "webhook-parking"

SETTINGS = ForwarderSettings(
    verify_token=VERIFY_TOKEN,
    meta_app_secrets=APP_SECRETS,
    handler_function_name=FUNCTION_NAME,
    handoff_timeout_seconds=2.0,
)


def envelopes(invocations: list[Invocation]) -> list[Envelope]:
    """The hand-offs the Lambda accepted, in part order."""
    found = [
        Envelope.from_dict(json.loads(invocation.payload))
        for invocation in invocations
        if invocation.accepted
    ]
    return sorted(found, key=lambda envelope: envelope.part)


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def log_records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [
        record for record in caplog.records if record.name == "forwarder" and record.getMessage() == message
    ]
