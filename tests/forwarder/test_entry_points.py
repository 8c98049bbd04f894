"""`create_app()` from the environment (what `forwarder.app:app` does) and the Lambda Function URL handler."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import threading
from typing import Any

import httpx
import pytest

from forwarder.app import create_app, create_lambda_handler
from shared.env import ConfigurationError
from standins.lambda_container import FakeLambdaContext
from standins.lambda_invoke import LambdaInvokeStandin
from standins.meta import signed_request, text_webhook
from tests.forwarder.servers import LiveServer
from tests.forwarder.support import APP_SECRETS, FUNCTION_NAME, SETTINGS, VERIFY_TOKEN, envelopes


def set_forwarder_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERIFY_TOKEN", VERIFY_TOKEN)
    monkeypatch.setenv("META_APP_SECRET", " , ".join(APP_SECRETS))
    monkeypatch.setenv("HANDLER_FUNCTION_NAME", FUNCTION_NAME)
    monkeypatch.delenv("HANDLER_URL", raising=False)


def test_importing_the_app_reads_no_configuration() -> None:
    env = {**os.environ, "MAX_BODY_BYTES": "not a number", "HANDLER_FUNCTION_NAME": "a", "HANDLER_URL": "b"}
    code = "import forwarder.app as f; print(type(f.app).__name__, callable(f.lambda_handler))"

    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)

    assert (done.returncode, done.stdout.strip()) == (0, "Starlette True"), done.stderr


def test_an_app_from_the_environment_reads_it_at_start_up(
    client: httpx.Client,
    lambda_standin: LambdaInvokeStandin,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app()  # the environment is not read yet
    set_forwarder_env(monkeypatch)
    body, headers = signed_request(text_webhook("Bonjour"), APP_SECRETS[1])

    with LiveServer(app) as server:
        assert client.get(f"{server.url}/health").json()["status"] == "healthy"
        assert client.post(f"{server.url}/webhook", content=body, headers=headers).status_code == 200

    assert len(lambda_standin.accepted) == 1
    messages = [r.getMessage() for r in caplog.records if r.name == "forwarder"]
    assert messages == ["Processing incoming message", "Forwarding to handler", "Webhook handed off"]


async def test_invalid_configuration_fails_at_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_forwarder_env(monkeypatch)
    monkeypatch.setenv("MAX_BODY_BYTES", "three megabytes")
    app = create_app()

    with pytest.raises(ConfigurationError, match="MAX_BODY_BYTES"):
        async with app.router.lifespan_context(app):
            pass


def function_url_event(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> Any:
    """A Lambda Function URL request (payload format 2.0), the body base64-encoded as AWS does for binary."""
    host = "abcdefghij.lambda-url.us-east-1.on.aws"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": host, **(headers or {})},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": host,
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "173.252.127.1",
                "userAgent": "facebookexternalua",
            },
            "requestId": "c5f3b7a8-0000-4000-8000-000000000001",
            "routeKey": "$default",
            "stage": "$default",
            "time": "25/Nov/2026:08:00:00 +0000",
            "timeEpoch": 1795593600000,
        },
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


def in_lambda_thread(events: list[Any]) -> list[dict[str, Any]]:
    """Run the handler like the Lambda runtime: one thread, its own event loop, invocation after invocation."""
    app = create_app(SETTINGS)
    handler = create_lambda_handler(app)
    context = FakeLambdaContext(
        function_name="forwarder",
        aws_request_id="r-1",
        invoked_function_arn="arn:aws:lambda:::function:forwarder",
    )
    results: list[dict[str, Any]] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            results.extend(handler(event, context) for event in events)
        finally:
            loop.run_until_complete(app.state.runtime.aclose())
            loop.close()
            asyncio.set_event_loop(None)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    return results


def test_the_same_app_answers_a_lambda_function_url(lambda_standin: LambdaInvokeStandin) -> None:
    body, headers = signed_request(text_webhook("Bonjour"), APP_SECRETS[0])

    health, good, bad = in_lambda_thread(
        [
            function_url_event("GET", "/health"),
            function_url_event("POST", "/webhook", body, headers),
            function_url_event("POST", "/webhook", body, {"x-hub-signature-256": "sha256=" + "0" * 64}),
        ]
    )

    assert health["statusCode"] == 200
    assert (good["statusCode"], bad["statusCode"]) == (200, 401)
    [envelope] = envelopes(lambda_standin.invocations)
    assert envelope.body is not None and envelope.body.encode() == body
