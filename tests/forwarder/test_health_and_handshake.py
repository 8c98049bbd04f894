"""GET /health in the seed's shape, and Meta's verification handshake."""

from __future__ import annotations

import httpx
import pytest

from shared import SERVICE_VERSION
from standins.meta import signed_request, text_webhook, verification_params
from tests.forwarder.conftest import StartForwarder
from tests.forwarder.servers import LiveServer
from tests.forwarder.support import APP_SECRETS, VERIFY_TOKEN


def test_health_with_complete_configuration(client: httpx.Client, forwarder: LiveServer) -> None:
    response = client.get(f"{forwarder.url}/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "healthy",
        "version": SERVICE_VERSION,
        "config": {"hasVerifyToken": True, "hasAppSecret": True, "hasHandlerTarget": True},
    }


@pytest.mark.parametrize(
    ("overrides", "config"),
    [
        (
            {"verify_token": "", "meta_app_secrets": (), "handler_function_name": ""},
            {"hasVerifyToken": False, "hasAppSecret": False, "hasHandlerTarget": False},
        ),
        ({"meta_app_secrets": ()}, {"hasVerifyToken": True, "hasAppSecret": False, "hasHandlerTarget": True}),
        (
            {"handler_function_name": "", "handler_url": "http://127.0.0.1:9/internal/envelope"},
            {"hasVerifyToken": True, "hasAppSecret": True, "hasHandlerTarget": False},  # no shared secret
        ),
    ],
)
def test_health_is_503_while_configuration_is_incomplete(
    client: httpx.Client,
    start_forwarder: StartForwarder,
    overrides: dict[str, object],
    config: dict[str, bool],
) -> None:
    server = start_forwarder(**overrides)

    response = client.get(f"{server.url}/health")

    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert response.json()["config"] == config


def test_without_secret_or_handler_a_webhook_is_503_not_200(
    client: httpx.Client, start_forwarder: StartForwarder
) -> None:
    no_secret = start_forwarder(meta_app_secrets=())
    no_handler = start_forwarder(handler_function_name="")
    body, headers = signed_request(text_webhook("Bonjour"), APP_SECRETS[0])

    assert client.post(f"{no_secret.url}/webhook", content=body, headers=headers).status_code == 503
    assert client.post(f"{no_handler.url}/webhook", content=body, headers=headers).status_code == 503


def test_the_handshake_echoes_the_challenge(client: httpx.Client, forwarder: LiveServer) -> None:
    response = client.get(f"{forwarder.url}/webhook", params=verification_params(VERIFY_TOKEN, "1158201444"))

    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        verification_params("wrong-token"),
        verification_params(VERIFY_TOKEN[:-1]),
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.challenge": "1"},
        {},
    ],
)
def test_a_wrong_handshake_is_403(
    client: httpx.Client, forwarder: LiveServer, params: dict[str, str]
) -> None:
    assert client.get(f"{forwarder.url}/webhook", params=params).status_code == 403


def test_without_a_verify_token_no_handshake_succeeds(
    client: httpx.Client, start_forwarder: StartForwarder
) -> None:
    server = start_forwarder(verify_token="")

    assert client.get(f"{server.url}/webhook", params=verification_params("")).status_code == 403
