"""Every sample event in infra/events, run unchanged through the real `lambda_handler` (and the
Function URL ones through the real forwarder too): real Postgres, the Groq and Graph stand-ins.

The tenants the events name are created the way an operator creates them: with the admin CLI's
code (`add-tenant`, `set-whatsapp`, `set-groq`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from admin.configs import GroqChanges, WhatsAppChanges, set_groq_config, set_whatsapp_config
from admin.records import Tenant
from admin.secrets_input import Secret
from admin.tenants import lock_tenant
from forwarder.app import create_app, create_lambda_handler
from handler.app import HandlerFunction
from infra.sample_events import EVENTS_DIR, TEST_APP_SECRET, TEST_VERIFY_TOKEN, load_event
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from standins.lambda_container import FakeLambdaContext
from standins.lambda_invoke import LambdaInvokeStandin
from tests.factories import issue_web_chat_key

# The handler's Lambda function, as handler.app builds `lambda_handler` (cold: built here).
HANDLER = HandlerFunction()


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleTenant:
    user_id: UUID
    phone_number_id: str
    access_token: str
    groq_key: str


# The tenants the sample events name (the web chat event names the first one's id).
SAMPLE_TENANTS = (
    SampleTenant(
        user_id=UUID("5f0c6a8e-1d2b-4c3a-9e4f-7a8b9c0d1e2f"),
        phone_number_id="123456789",
        access_token="EAA-sample-token-123456789",
        groq_key="gsk_sample_key_123456789",
    ),
    SampleTenant(
        user_id=uuid4(),
        phone_number_id="111111111",
        access_token="EAA-sample-token-111111111",
        groq_key="gsk_sample_key_111111111",
    ),
    SampleTenant(
        user_id=uuid4(),
        phone_number_id="222222222",
        access_token="EAA-sample-token-222222222",
        groq_key="gsk_sample_key_222222222",
    ),
)
MAIN, TENANT_A, TENANT_B = SAMPLE_TENANTS
# The web chat key http-api-web-chat.json sends for MAIN (a real one comes from `wa-admin issue-web-chat-key`).
SAMPLE_WEB_CHAT_KEY = "wck_sample-web-chat-key-of-tenant-5f0c6a8e"
HANDLER_FUNCTION = "HandlerFunction"
# The reply that envelope-status.json reports on.
STATUS_EVENT_WAMID = "wamid.HBgMMjQyMDY2NTgyNjEwFQIAERgSRVZFTlQtU1RBVFVTLVJFUExZAA=="

EVENTS_COVERED = {
    "envelope-text.json",
    "envelope-batch-two-tenants.json",
    "envelope-status.json",
    "envelope-image.json",
    "seed-request.json",
    "function-url-handshake.json",
    "function-url-webhook.json",
    "http-api-web-chat.json",
    "rest-api-health.json",
}


class Container:
    """One warm Lambda container: every invocation on the same dedicated thread."""

    def __init__(self, name: str) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    def close(self) -> None:
        self._thread.shutdown()


@pytest.fixture(scope="module")
def groq() -> Iterator[GroqStandIn]:
    with GroqStandIn(api_keys=[t.groq_key for t in SAMPLE_TENANTS]) as server:
        yield server


@pytest.fixture(scope="module")
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn(tokens={t.phone_number_id: t.access_token for t in SAMPLE_TENANTS}) as server:
        yield server


@pytest.fixture(scope="module")
def lambda_api() -> Iterator[LambdaInvokeStandin]:
    # Records the forwarder's invokes without running anything: the test hands them to the handler.
    with LambdaInvokeStandin({HANDLER_FUNCTION: None}) as server:
        yield server


@pytest.fixture(scope="module")
def environment(
    database_url: str, groq: GroqStandIn, graph: GraphStandIn, lambda_api: LambdaInvokeStandin
) -> Iterator[None]:
    """What infra/template.yaml and infra/env.local.json set, pointed at the local servers."""
    values = {
        "DATABASE_URL": database_url,
        "META_APP_SECRET": TEST_APP_SECRET,
        "VERIFY_TOKEN": TEST_VERIFY_TOKEN,
        "DB_STATEMENT_CACHE": "false",
        "GROQ_BASE_URL": groq.base_url,
        "GRAPH_API_BASE_URL": graph.base_url,
        "RETRY_BASE_DELAY_SECONDS": "0.01",
        "RETRY_MAX_DELAY_SECONDS": "0.05",
        "HANDLER_FUNCTION_NAME": HANDLER_FUNCTION,
        "HANDOFF_TIMEOUT_SECONDS": "3",
        "AWS_ENDPOINT_URL_LAMBDA": lambda_api.endpoint_url,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name in ("HANDLER_URL", "PARKING_BUCKET", "FORWARDER_HANDLER_SECRET", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        for name, value in values.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
async def handler(environment: None) -> AsyncIterator[Container]:
    container = Container("handler-container")
    yield container
    await container.run(HANDLER.close_container)
    container.close()


@pytest.fixture(autouse=True)
def forget_recorded_calls(groq: GroqStandIn, graph: GraphStandIn, lambda_api: LambdaInvokeStandin) -> None:
    groq.reset()
    graph.reset()
    lambda_api.reset()


@pytest.fixture
async def tenants(db: asyncpg.Connection) -> tuple[SampleTenant, ...]:
    for index, sample in enumerate(SAMPLE_TENANTS):
        tenant = Tenant(id=sample.user_id, email=f"sample{index}@example.com")
        async with db.transaction():
            await db.execute("INSERT INTO auth.users (id, email) VALUES ($1, $2)", tenant.id, tenant.email)
            await lock_tenant(db, tenant)
            await set_whatsapp_config(
                db,
                tenant,
                WhatsAppChanges(
                    phone_number_id=sample.phone_number_id,
                    access_token=Secret(value=sample.access_token),
                    active=True,
                ),
            )
            await set_groq_config(db, tenant, GroqChanges(api_key=Secret(value=sample.groq_key)))
    await issue_web_chat_key(db, MAIN.user_id, SAMPLE_WEB_CHAT_KEY)
    return SAMPLE_TENANTS


async def invoke(handler: Container, name: str) -> Any:
    """The event file exactly as the console or `sam local invoke -e` would send it."""
    return await handler.run(HANDLER, load_event(name), lambda_context())


def lambda_context(function_name: str = HANDLER_FUNCTION) -> FakeLambdaContext:
    return FakeLambdaContext(
        function_name=function_name,
        aws_request_id=str(uuid4()),
        invoked_function_arn=f"arn:aws:lambda:eu-west-1:123456789012:function:{function_name}",
        deadline=time.monotonic() + 30,
    )


def body_of(response: dict[str, Any]) -> str:
    body = str(response["body"])
    return base64.b64decode(body).decode() if response.get("isBase64Encoded") else body


async def conversation(db: asyncpg.Connection, customer: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT sender, user_id, content, status, wa_message_id FROM customer_conversations"
        " WHERE phone_number = $1 ORDER BY created_at, sender DESC",
        customer,
    )


def test_every_sample_event_has_a_test_here() -> None:
    assert {path.name for path in EVENTS_DIR.glob("*.json")} == EVENTS_COVERED


async def test_envelope_text_is_answered_with_the_tenants_credentials(
    handler: Container, tenants: object, db: asyncpg.Connection, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    result = await invoke(handler, "envelope-text.json")

    assert result["success"] is True and result["messages"] == {"replied": 1}
    [call] = groq.requests
    assert call.api_key == MAIN.groq_key
    assert call.last_user_message == "Bonjour, quels sont vos horaires d'ouverture ?"
    [sent] = graph.delivered
    assert (sent.phone_number_id, sent.token, sent.to) == (
        MAIN.phone_number_id,
        MAIN.access_token,
        "242066582610",
    )
    rows = await conversation(db, "242066582610")
    assert [(r["sender"], r["user_id"], r["status"]) for r in rows] == [
        ("user", MAIN.user_id, "answered"),
        ("bot", MAIN.user_id, "sent"),
    ]
    assert rows[1]["content"] == sent.body and rows[1]["wa_message_id"] == sent.wamid


async def test_envelope_text_delivered_twice_is_answered_once(
    handler: Container, tenants: object, graph: GraphStandIn
) -> None:
    await invoke(handler, "envelope-text.json")
    again = await invoke(handler, "envelope-text.json")

    assert again["messages"] == {"duplicate": 1}
    assert len(graph.delivered) == 1


async def test_envelope_batch_answers_each_customer_from_their_own_tenant(
    handler: Container, tenants: object, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    result = await invoke(handler, "envelope-batch-two-tenants.json")

    assert result["messages"] == {"replied": 2}
    assert sorted(call.api_key for call in groq.requests) == sorted([TENANT_A.groq_key, TENANT_B.groq_key])
    for customer, tenant in (("242066582611", TENANT_A), ("242066582612", TENANT_B)):
        [sent] = graph.delivered_to(customer)
        assert (sent.phone_number_id, sent.token) == (tenant.phone_number_id, tenant.access_token)


async def test_envelope_status_updates_the_reply_it_reports_on(
    handler: Container, tenants: object, db: asyncpg.Connection, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    await db.execute(
        "INSERT INTO customer_conversations (user_id, phone_number, content, sender, source, wa_message_id,"
        " business_phone_number_id, status) VALUES ($1, '242066582610', 'Nous ouvrons à 9 h.', 'bot',"
        " 'whatsapp', $2, $3, 'sent')",
        MAIN.user_id,
        STATUS_EVENT_WAMID,
        MAIN.phone_number_id,
    )

    result = await invoke(handler, "envelope-status.json")

    assert (result["statuses_applied"], result["statuses_unmatched"]) == (1, 0)
    status = await db.fetchval(
        "SELECT status FROM customer_conversations WHERE wa_message_id = $1", STATUS_EVENT_WAMID
    )
    assert status == "delivered"
    assert groq.requests == [] and graph.requests == []


async def test_envelope_image_gets_the_tenants_text_only_notice_without_groq(
    handler: Container, tenants: object, db: asyncpg.Connection, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    result = await invoke(handler, "envelope-image.json")

    assert result["messages"] == {"replied": 1}
    assert groq.requests == []
    notice = await db.fetchval(
        "SELECT unsupported_media_text FROM user_groq_config WHERE user_id = $1", MAIN.user_id
    )
    [sent] = graph.delivered
    assert (sent.to, sent.token, sent.body) == ("242066582610", MAIN.access_token, notice)


async def test_seed_request_is_answered_as_the_old_edge_function_did(
    handler: Container, tenants: object, graph: GraphStandIn
) -> None:
    result = await invoke(handler, "seed-request.json")

    assert result["statusCode"] == 200 and result["success"] is True and result["whatsappSent"] is True
    [sent] = graph.delivered
    assert (sent.phone_number_id, sent.to, sent.body) == (
        MAIN.phone_number_id,
        "+242066582610",
        result["response"],
    )


async def test_function_url_handshake_returns_the_challenge(handler: Container) -> None:
    response = await invoke(handler, "function-url-handshake.json")

    assert response["statusCode"] == 200 and body_of(response) == "1158201444"


async def test_function_url_webhook_is_verified_and_answered(
    handler: Container, tenants: object, graph: GraphStandIn
) -> None:
    response = await invoke(handler, "function-url-webhook.json")

    assert response["statusCode"] == 200
    assert json.loads(body_of(response))["messages"] == {"replied": 1}
    [sent] = graph.delivered
    assert (sent.phone_number_id, sent.token, sent.to) == (
        MAIN.phone_number_id,
        MAIN.access_token,
        "242066582613",
    )


async def test_http_api_web_chat_answers_in_the_response_and_sends_nothing(
    handler: Container, tenants: object, db: asyncpg.Connection, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    response = await invoke(handler, "http-api-web-chat.json")

    assert response["statusCode"] == 200
    body = json.loads(body_of(response))
    assert body["success"] is True and body["source"] == "web"
    [call] = groq.requests
    assert call.api_key == MAIN.groq_key and body["response"]
    assert graph.requests == []
    rows = await conversation(db, "web:web-session-42")
    assert [(r["sender"], r["user_id"]) for r in rows] == [("user", MAIN.user_id), ("bot", MAIN.user_id)]
    assert rows[1]["content"] == body["response"]


async def test_rest_api_health_reports_a_healthy_handler(handler: Container) -> None:
    response = await invoke(handler, "rest-api-health.json")

    assert response["statusCode"] == 200
    health = json.loads(body_of(response))
    assert health["status"] == "healthy" and health["config"]["hasDatabase"] is True


# --- The Function URL events through the forwarder, as Meta reaches a deployed stack ----------


@pytest.fixture
async def forwarder(environment: None) -> AsyncIterator[tuple[Container, Any]]:
    """A cold forwarder Lambda (`create_lambda_handler(create_app())`, as forwarder.app builds it),
    on its own thread with its own event loop, as the Lambda runtime runs it."""
    app = create_app()
    container = Container("forwarder-container")

    def start() -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        return loop

    def stop(loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(app.state.runtime.aclose())
        loop.close()
        asyncio.set_event_loop(None)

    loop = await container.run(start)
    yield container, create_lambda_handler(app)
    await container.run(stop, loop)
    container.close()


async def test_forwarder_answers_the_handshake_event(forwarder: tuple[Container, Any]) -> None:
    container, forwarder_handler = forwarder

    response = await container.run(
        forwarder_handler, load_event("function-url-handshake.json"), lambda_context()
    )

    assert response["statusCode"] == 200 and body_of(response) == "1158201444"


async def test_forwarder_hands_the_signed_webhook_event_to_the_handler(
    forwarder: tuple[Container, Any],
    handler: Container,
    tenants: object,
    lambda_api: LambdaInvokeStandin,
    graph: GraphStandIn,
) -> None:
    container, forwarder_handler = forwarder
    event = load_event("function-url-webhook.json")

    response = await container.run(forwarder_handler, event, lambda_context())

    assert response["statusCode"] == 200
    [handoff] = lambda_api.accepted
    assert handoff.function_name == HANDLER_FUNCTION and handoff.invocation_type == "Event"
    envelope = handoff.event()
    assert (envelope["body"], envelope["signature"]) == (
        event["body"],
        event["headers"]["x-hub-signature-256"],
    )
    result = await handler.run(HANDLER, envelope, lambda_context())
    assert result["messages"] == {"replied": 1}
    [sent] = graph.delivered
    assert (sent.token, sent.to) == (MAIN.access_token, "242066582613")
