"""POST /webhook: size limit, signature, JSON, non-WhatsApp payloads, and the hand-off of a good one."""

from __future__ import annotations

import json
import logging
import socket
import time

import httpx
import pytest

from shared.signature import sign
from standins.lambda_invoke import LambdaInvokeStandin
from standins.meta import signed_request, text_webhook
from tests.forwarder.conftest import StartForwarder
from tests.forwarder.servers import LiveServer
from tests.forwarder.support import APP_SECRETS, envelopes, log_records


def post(client: httpx.Client, server: LiveServer, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    return client.post(f"{server.url}/webhook", content=body, headers=headers)


def test_a_signed_text_is_handed_off_then_acknowledged(
    client: httpx.Client, forwarder: LiveServer, lambda_standin: LambdaInvokeStandin
) -> None:
    body, headers = signed_request(text_webhook("Bonjour"), APP_SECRETS[0])
    before = time.time()

    response = client.post(f"{forwarder.url}/webhook", content=body, headers=headers)

    assert response.status_code == 200
    [invocation] = lambda_standin.invocations
    assert invocation.invocation_type == "Event" and invocation.status == 202
    [envelope] = envelopes([invocation])
    assert envelope.body is not None and envelope.body.encode() == body
    assert envelope.signature == headers["x-hub-signature-256"]
    assert before <= envelope.received_at <= time.time()
    assert (envelope.part, envelope.parts, envelope.parked) == (0, 1, None)


def test_the_second_app_secret_is_accepted_too(
    client: httpx.Client, forwarder: LiveServer, lambda_standin: LambdaInvokeStandin
) -> None:
    body, headers = signed_request(text_webhook("Hello"), APP_SECRETS[1])

    assert client.post(f"{forwarder.url}/webhook", content=body, headers=headers).status_code == 200
    assert len(lambda_standin.accepted) == 1


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (None, "missing"),
        (sign("not-our-secret", b"x"), "mismatch"),
        ("sha256=" + "0" * 64, "mismatch"),
        ("TRUNCATED", "malformed"),
        ("sha1=abc", "malformed"),
    ],
)
def test_a_bad_signature_is_401_with_its_reason_and_nothing_is_forwarded(
    client: httpx.Client,
    forwarder: LiveServer,
    lambda_standin: LambdaInvokeStandin,
    caplog: pytest.LogCaptureFixture,
    signature: str | None,
    reason: str,
) -> None:
    caplog.set_level(logging.INFO, logger="forwarder")
    body, headers = signed_request(text_webhook("Bonjour"), APP_SECRETS[0])
    if signature == "TRUNCATED":
        signature = headers["x-hub-signature-256"][:-2]

    response = post(client, forwarder, body, signature)

    assert response.status_code == 401
    assert lambda_standin.invocations == []
    [line] = log_records(caplog, "Rejected webhook: invalid signature")
    assert line.__dict__["reason"] == reason


def test_a_signature_of_other_bytes_is_rejected(
    client: httpx.Client, forwarder: LiveServer, lambda_standin: LambdaInvokeStandin
) -> None:
    body, headers = signed_request(text_webhook("Bonjour"), APP_SECRETS[0])
    tampered = body.replace(b"Bonjour", b"Bonsoir")

    assert post(client, forwarder, tampered, headers["x-hub-signature-256"]).status_code == 401
    assert lambda_standin.invocations == []


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"object": "whatsapp_business_account"', b"\xff\xfe{}", b""]
)
def test_malformed_json_with_a_valid_signature_is_400(
    client: httpx.Client, forwarder: LiveServer, lambda_standin: LambdaInvokeStandin, body: bytes
) -> None:
    assert post(client, forwarder, body, sign(APP_SECRETS[0], body)).status_code == 400
    assert lambda_standin.invocations == []


JSON_BOMBS = {
    "100,000 nested arrays": b"[" * 100_000 + b"]" * 100_000,
    "nested objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "nested inside a WhatsApp payload": b'{"object":"whatsapp_business_account","entry":'
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}",
}


@pytest.mark.parametrize("body", JSON_BOMBS.values(), ids=JSON_BOMBS.keys())
def test_deeply_nested_json_with_a_valid_signature_is_400_with_a_log_line(
    client: httpx.Client,
    forwarder: LiveServer,
    lambda_standin: LambdaInvokeStandin,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
) -> None:
    with caplog.at_level(logging.INFO, logger="forwarder"):
        response = post(client, forwarder, body, sign(APP_SECRETS[0], body))

    assert (response.status_code, response.text) == (400, "malformed JSON")
    assert lambda_standin.invocations == []
    [line] = log_records(caplog, "Rejected webhook: malformed JSON")
    assert line.reason == "the body's JSON is nested too deeply"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "payload",
    [
        {"object": "page", "entry": [{"id": "1", "messaging": []}]},
        {"object": "instagram", "entry": []},
        [1, 2, 3],
        "whatsapp_business_account",
        {"object": "whatsapp_business_account"},  # no entry list: nothing to hand off
    ],
)
def test_a_well_formed_payload_that_is_not_whatsapp_is_acknowledged_and_dropped(
    client: httpx.Client,
    forwarder: LiveServer,
    lambda_standin: LambdaInvokeStandin,
    caplog: pytest.LogCaptureFixture,
    payload: object,
) -> None:
    caplog.set_level(logging.INFO, logger="forwarder")
    body = json.dumps(payload).encode()

    assert post(client, forwarder, body, sign(APP_SECRETS[0], body)).status_code == 200
    assert lambda_standin.invocations == []
    assert any(record.getMessage().startswith("Dropped webhook") for record in caplog.records)


def test_a_body_over_the_limit_is_413(
    client: httpx.Client, start_forwarder: StartForwarder, lambda_standin: LambdaInvokeStandin
) -> None:
    server = start_forwarder(max_body_bytes=10_000)
    body = json.dumps({"object": "whatsapp_business_account", "pad": "x" * 10_000}).encode()

    assert post(client, server, body, sign(APP_SECRETS[0], body)).status_code == 413
    assert lambda_standin.invocations == []


def _raw_request(url: str, head: bytes, first_bytes: bytes) -> bytes:
    """Send a request head and only the start of its body; return what the server answers meanwhile."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head + first_bytes)
        return sock.recv(65536)


def test_a_declared_length_over_the_limit_is_refused_before_the_body_arrives(forwarder: LiveServer) -> None:
    head = (
        b"POST /webhook HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
        b"content-length: 50000000\r\n\r\n"
    )

    answer = _raw_request(forwarder.url, head, b"{" + b" " * 1000)

    assert answer.startswith(b"HTTP/1.1 413")


def test_a_streamed_body_is_cut_off_once_it_passes_the_limit(
    start_forwarder: StartForwarder, lambda_standin: LambdaInvokeStandin
) -> None:
    server = start_forwarder(max_body_bytes=20_000)
    head = b"POST /webhook HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n\r\n"
    chunk = b"x" * 8000
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3))  # the body never ends

    answer = _raw_request(server.url, head, chunks)

    assert answer.startswith(b"HTTP/1.1 413")
    assert lambda_standin.invocations == []


def test_unknown_routes_and_methods_get_starlette_answers(
    client: httpx.Client, forwarder: LiveServer
) -> None:
    assert client.get(f"{forwarder.url}/nothing-here").status_code == 404
    assert client.put(f"{forwarder.url}/webhook", content=b"{}").status_code == 405
    assert client.post(f"{forwarder.url}/health").status_code == 405
