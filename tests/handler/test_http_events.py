"""HTTP events through Mangum: Meta calling the handler's Function URL, API Gateway web chat."""

from __future__ import annotations

import base64
import json

import asyncpg
import pytest

from shared.signature import sign
from standins import meta
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from tests.factories import add_tenant, issue_web_chat_key
from tests.handler.conftest import SEED_ROUTE_KEY, LambdaContainer
from tests.handler.events import APP_SECRET, business_of, function_url_event, rest_api_event

SEED_ROUTE_HEADERS = {"Authorization": f"Bearer {SEED_ROUTE_KEY}"}


def body_of(response: dict[str, object]) -> str:
    body = str(response["body"])
    return base64.b64decode(body).decode() if response.get("isBase64Encoded") else body


async def test_function_url_handshake(container: LambdaContainer) -> None:
    query = "hub.mode=subscribe&hub.verify_token=test-verify-token&hub.challenge=1158201444"
    response = await container.invoke(function_url_event("GET", "/webhook", query=query))
    assert response["statusCode"] == 200 and body_of(response) == "1158201444"


async def test_function_url_handshake_with_wrong_token_is_403(container: LambdaContainer) -> None:
    query = "hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1"
    response = await container.invoke(function_url_event("GET", "/webhook", query=query))
    assert response["statusCode"] == 403


async def test_function_url_signed_webhook_is_answered(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    body, headers = meta.signed_request(meta.text_webhook("Hello", business=business_of(tenant)), APP_SECRET)

    response = await container.invoke(function_url_event("POST", "/webhook", body=body, headers=headers))

    assert response["statusCode"] == 200
    assert json.loads(body_of(response))["messages"] == {"replied": 1}
    assert len(graph.delivered) == 1


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha256=abc"])
async def test_function_url_webhook_with_bad_signature_is_401(
    signature: str | None, db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    body, headers = meta.signed_request(meta.text_webhook("Hello", business=business_of(tenant)), APP_SECRET)
    headers.pop("x-hub-signature-256")
    if signature is not None:
        headers["x-hub-signature-256"] = signature

    response = await container.invoke(function_url_event("POST", "/webhook", body=body, headers=headers))

    assert response["statusCode"] == 401 and groq.requests == []
    assert "test-app-secret" not in body_of(response)


async def test_function_url_malformed_json_with_valid_signature_is_400(container: LambdaContainer) -> None:
    body = b"{not json"
    headers = {"x-hub-signature-256": sign(APP_SECRET, body)}
    response = await container.invoke(function_url_event("POST", "/webhook", body=body, headers=headers))
    assert response["statusCode"] == 400


async def test_http_api_web_chat(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    key = await issue_web_chat_key(db, tenant.user_id)
    body = json.dumps({"webUserId": str(tenant.user_id), "text": "Bonjour", "sessionId": "abc"}).encode()
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    event = function_url_event("POST", "/chat", body=body, headers=headers)
    event["routeKey"] = "POST /chat"

    response = await container.invoke(event)

    assert response["statusCode"] == 200
    assert json.loads(body_of(response))["response"].endswith("You wrote: Bonjour")
    assert graph.requests == []


async def test_rest_api_seed_endpoint(
    db: asyncpg.Connection, container: LambdaContainer, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    body = json.dumps(
        {"phoneNumber": "242066582610", "phoneNumberId": tenant.phone_number_id, "text": "Hello"}
    )

    response = await container.invoke(
        rest_api_event("POST", "/functions/v1/api-chatbot", body=body, headers=SEED_ROUTE_HEADERS)
    )

    assert response["statusCode"] == 200 and json.loads(body_of(response))["whatsappSent"] is True
    assert [m.to for m in graph.delivered] == ["242066582610"]


async def test_rest_api_seed_endpoint_unknown_number_is_503(container: LambdaContainer) -> None:
    body = json.dumps({"phoneNumber": "242066582610", "phoneNumberId": "999", "text": "Hello"})
    response = await container.invoke(
        rest_api_event("POST", "/functions/v1/api-chatbot", body=body, headers=SEED_ROUTE_HEADERS)
    )
    assert response["statusCode"] == 503
    assert json.loads(body_of(response))["error"] == "Service de messagerie non configuré"


async def test_warm_invocations_reuse_one_database_connection(
    db: asyncpg.Connection, container: LambdaContainer
) -> None:
    tenant = await add_tenant(db, 1)

    async def handler_backends() -> list[object]:
        rows = await db.fetch(
            "SELECT backend_start FROM pg_stat_activity"
            " WHERE application_name = 'whatsapp-handler' AND datname = current_database()"
        )
        return [row["backend_start"] for row in rows]

    await container.invoke(meta.text_webhook("one", business=business_of(tenant)))
    before = await handler_backends()
    for text in ["two", "three"]:
        await container.invoke(meta.text_webhook(text, business=business_of(tenant)))
    after = await handler_backends()

    assert len(before) == 1 and after == before


@pytest.mark.parametrize("path", ["/webhook", "/internal/envelope"])
async def test_signature_check_without_its_secret_configured_is_503(
    path: str, handler_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("META_APP_SECRET")
    monkeypatch.delenv("FORWARDER_HANDLER_SECRET")
    unconfigured = LambdaContainer()  # a fresh container reads the environment anew
    try:
        body, headers = meta.signed_request(meta.text_webhook("Hello"), APP_SECRET)
        response = await unconfigured.invoke(function_url_event("POST", path, body=body, headers=headers))
    finally:
        await unconfigured.close()
    assert response["statusCode"] == 503  # our configuration is missing: the sender should retry
    assert json.loads(body_of(response)) == {"success": False, "error": "not configured"}
