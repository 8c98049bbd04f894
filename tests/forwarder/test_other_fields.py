"""Every WhatsApp field reaches the handler, not only `messages`: the business's messages from the
WhatsApp Business app (`smb_message_echoes`), marketing preferences, and the app's syncs are handed
off as they came, signature and all (the handler records them; none is answered)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from shared.webhook import parse_webhook
from standins import meta
from standins.lambda_invoke import LambdaInvokeStandin
from tests.forwarder.conftest import StartForwarder
from tests.forwarder.servers import LiveServer
from tests.forwarder.support import APP_SECRETS, envelopes

FIELDS: dict[str, Callable[[], meta.Change]] = {
    "smb_message_echoes": lambda: meta.echoes_change(meta.text_echo("Je m'en occupe, Marie.")),
    "user_preferences": lambda: meta.user_preferences_change(value="stop"),
    "history": lambda: meta.history_change(meta.history_message("Bonjour")),
    "smb_app_state_sync": lambda: meta.state_sync_change(),
}


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_the_field_is_handed_off_byte_identical_with_meta_s_signature(
    client: httpx.Client, forwarder: LiveServer, lambda_standin: LambdaInvokeStandin, field: str
) -> None:
    body, headers = meta.signed_request(meta.webhook_payload(FIELDS[field]()), APP_SECRETS[0])

    response = client.post(f"{forwarder.url}/webhook", content=body, headers=headers)

    assert (response.status_code, response.text) == (200, "EVENT_RECEIVED")
    [envelope] = envelopes(lambda_standin.invocations)
    assert envelope.body is not None and envelope.body.encode() == body
    assert envelope.signature == headers["x-hub-signature-256"]


def test_an_echo_in_a_payload_too_big_for_one_invoke_travels_in_its_own_part(
    client: httpx.Client, start_forwarder: StartForwarder, lambda_standin: LambdaInvokeStandin
) -> None:
    forwarder = start_forwarder(invoke_max_bytes=2_000)
    long_text = meta.messages_change(meta.text_message("x" * 1_200))
    echo = meta.echoes_change(meta.text_echo("Je reprends la main."))
    body, headers = meta.signed_request(meta.webhook_payload(long_text, echo), APP_SECRETS[0])

    assert client.post(f"{forwarder.url}/webhook", content=body, headers=headers).status_code == 200

    parts = envelopes(lambda_standin.invocations)
    assert [envelope.parts for envelope in parts] == [2, 2]
    batches = [parse_webhook(json.loads(envelope.body or "")) for envelope in parts]
    assert [len(batch.messages) for batch in batches] == [1, 0]
    assert [echo.text for batch in batches for echo in batch.echoes] == ["Je reprends la main."]
