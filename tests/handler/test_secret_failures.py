"""When KMS cannot be reached the message is given back for a retry, and callers see no internals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import pytest

from standins import meta
from standins.graph import GraphStandIn
from tenant_secrets import master_keys
from tests.factories import add_tenant
from tests.handler.conftest import LambdaContainer
from tests.handler.events import APP_SECRET, business_of, function_url_event

CUSTOMER = "242066582610"


@pytest.fixture
async def kms_container(
    kms_key_id: str, handler_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[LambdaContainer]:
    """A cold handler container whose tenants' secrets are under the KMS key."""
    monkeypatch.setenv("KMS_KEY_ID", kms_key_id)
    container = LambdaContainer()
    yield container
    await container.close()


async def test_a_kms_outage_answers_503_without_internals_and_the_retry_succeeds(
    db: asyncpg.Connection,
    kms_container: LambdaContainer,
    moto_kms_url: str,
    graph: GraphStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = await add_tenant(db, 1)  # encrypted through KMS (KMS_KEY_ID is set)
    assert (await db.fetchval("SELECT api_key FROM user_groq_config")).startswith("enc:v1:kms-")
    body, headers = meta.signed_request(
        meta.text_webhook("Bonjour", sender=CUSTOMER, business=business_of(tenant)), APP_SECRET
    )
    event = function_url_event("POST", "/webhook", body=body, headers=headers)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    master_keys._kms_client.cache_clear()

    refused = await kms_container.invoke(event)

    assert refused["statusCode"] == 503
    assert json.loads(refused["body"]) == {"success": False, "error": "temporarily unavailable, retry later"}
    row = await db.fetchrow("SELECT status, lease_expires_at <= now() AS free FROM customer_conversations")
    assert row is not None and (row["status"], row["free"]) == ("received", True)  # given back at once
    assert graph.requests == []

    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", moto_kms_url)
    master_keys._kms_client.cache_clear()
    retried = await kms_container.invoke(event)

    assert retried["statusCode"] == 200 and json.loads(retried["body"])["messages"] == {"replied": 1}
    assert [sent.token for sent in graph.delivered] == [tenant.access_token]


async def test_a_refused_signature_or_key_names_no_secret(
    db: asyncpg.Connection, kms_container: LambdaContainer
) -> None:
    tenant = await add_tenant(db, 1)
    body = json.dumps({"webUserId": str(tenant.user_id), "text": "Hi"}).encode()
    chat = function_url_event("POST", "/chat", body=body, headers={"authorization": "Bearer wck_guess"})
    forged = function_url_event(
        "POST", "/webhook", body=b"{}", headers={"x-hub-signature-256": "sha256=" + "0" * 64}
    )

    responses = [await kms_container.invoke(chat), await kms_container.invoke(forged)]

    assert [r["statusCode"] for r in responses] == [401, 401]
    for response in responses:
        text = str(response["body"])
        assert "wck_guess" not in text and APP_SECRET not in text and "Traceback" not in text
