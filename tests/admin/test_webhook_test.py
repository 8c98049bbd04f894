"""`wa-admin webhook-test TENANT`: a signed sample webhook sent to a running forwarder, followed in Postgres.

Two forwarders: the real one (`forwarder.app.create_app`, under uvicorn) handing off over the
development HTTP transport to the real handler (under uvicorn, with the Groq and Graph stand-ins
and the test database), as `make run` wires them; and a recording endpoint that checks Meta's
signature like the forwarder and keeps the body, to look at exactly what was sent.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import asyncpg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from admin import render
from admin.errors import MissingSecret
from admin.message_trace import MessageTrace, StoredMessage, StoredReply
from admin.signing_secret import LocalSecretFile, SecretCandidates, choose_signing_secret
from admin.webhook_test import ForwarderAnswer, HintContext, Verdict, WebhookTestReport, judge
from forwarder.app import create_app
from forwarder.settings import ForwarderSettings
from handler.app import app as handler_app
from localrun.local_secrets import load_or_create
from shared.signature import META_SIGNATURE_HEADER, SignatureCheck, check_signature
from shared.webhook import MessageType, parse_webhook
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from standins.server import BackgroundServer
from tests.admin.conftest import ACCESS_TOKEN, APP_SECRET, Cli, Result, add_served_tenant, add_tenant
from tests.forwarder.servers import LiveServer

FORWARDER_APP_SECRET = "forwarder-app-secret-0123456789abcdef"
OTHER_APP_SECRET = "another-app-secret-0123456789abcdef"
HANDLER_SECRET = "forwarder-to-handler-secret-0123456789"
TEST_CUSTOMER = "15550000000"
PHONE_NUMBER_ID = "123456789"


# --- the real system: forwarder -> handler -> Groq and Graph stand-ins -> the test database ----


@dataclass(frozen=True, slots=True)
class System:
    forwarder_url: str
    groq: GroqStandIn
    graph: GraphStandIn


@pytest.fixture(scope="module")
def system(database_url: str) -> Iterator[System]:
    with GroqStandIn() as groq, GraphStandIn() as graph, pytest.MonkeyPatch.context() as patch:
        # The handler reads its settings from the environment on its first request.
        for name, value in {
            "DATABASE_URL": database_url,
            "GROQ_BASE_URL": groq.base_url,
            "GRAPH_API_BASE_URL": graph.base_url,
            "FORWARDER_HANDLER_SECRET": HANDLER_SECRET,
            "GROQ_TIMEOUT_SECONDS": "2",
            "GRAPH_TIMEOUT_SECONDS": "2",
            "RETRY_BASE_DELAY_SECONDS": "0.01",
            "RETRY_MAX_DELAY_SECONDS": "0.05",
            "LAMBDA_RETRY_ATTEMPTS": "0",
        }.items():
            patch.setenv(name, value)
        with LiveServer(handler_app) as handler:
            settings = ForwarderSettings(
                verify_token="verify-token-for-tests",
                meta_app_secrets=(FORWARDER_APP_SECRET,),
                handler_url=f"{handler.url}/internal/envelope",
                forwarder_handler_secret=HANDLER_SECRET,
            )
            with LiveServer(create_app(settings)) as forwarder:
                yield System(forwarder_url=f"{forwarder.url}/webhook", groq=groq, graph=graph)


@pytest.fixture
def live(system: System) -> System:
    system.groq.reset()
    system.groq.api_keys = None
    system.graph.reset()
    system.graph.tokens = None
    return system


# --- a recording endpoint: Meta's signature checked as the forwarder checks it, the body kept ----


@dataclass
class Recorder:
    secrets: tuple[str, ...] = (FORWARDER_APP_SECRET,)
    received: list[tuple[bytes, SignatureCheck]] = field(default_factory=list)
    signatures: list[str | None] = field(default_factory=list)

    async def webhook(self, request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get(META_SIGNATURE_HEADER)
        check = check_signature(body, signature, self.secrets)
        self.received.append((body, check))
        self.signatures.append(signature)
        if check is not SignatureCheck.VALID:
            return PlainTextResponse("invalid signature", status_code=401)
        return PlainTextResponse("EVENT_RECEIVED")  # acknowledged, handed to nobody

    def only_body(self) -> bytes:
        [(body, check)] = self.received
        assert check is SignatureCheck.VALID
        return body


@pytest.fixture(scope="module")
def recording_server() -> Iterator[tuple[Recorder, str]]:
    recorder = Recorder()
    app = Starlette(routes=[Route("/webhook", recorder.webhook, methods=["POST"])])
    with BackgroundServer(app) as server:
        yield recorder, f"{server.base_url}/webhook"


@pytest.fixture
def recording(recording_server: tuple[Recorder, str]) -> tuple[Recorder, str]:
    recorder, url = recording_server
    recorder.secrets = (FORWARDER_APP_SECRET,)
    recorder.received.clear()
    recorder.signatures.clear()
    return recorder, url


def assert_nothing_secret(result: Result, *more: str) -> None:
    result.assert_no_secret()
    for secret in (FORWARDER_APP_SECRET, OTHER_APP_SECRET, HANDLER_SECRET, *more):
        assert secret not in result.out and secret not in result.err


def line(out: str, label: str) -> str:
    """The report's line for `label` (e.g. "reply", "stored"), without its label."""
    [found] = [text for text in out.splitlines() if text.startswith(f"  {label} ")]
    return found[len(label) + 2 :].strip()


# --- what is sent ---------------------------------------------------------------------------


async def test_the_sample_is_signed_with_the_first_meta_app_secret_and_is_one_text_message_to_the_tenant(
    cli: Cli, recording: tuple[Recorder, str]
) -> None:
    recorder, url = recording
    await add_served_tenant(cli, "shop@example.com", PHONE_NUMBER_ID)

    result = await cli(
        "webhook-test",
        "shop@example.com",
        "--forwarder-url",
        url,
        "--text",
        "Bonjour, vous êtes ouverts ?",
        "--wait",
        "0",
        env={"META_APP_SECRET": f"{FORWARDER_APP_SECRET},{OTHER_APP_SECRET}"},
    )

    body = recorder.only_body()  # its signature verified with the first secret
    assert check_signature(body, recorder.signatures[0], [OTHER_APP_SECRET]) is SignatureCheck.MISMATCH
    batch = parse_webhook(json.loads(body))
    [message] = batch.messages
    assert batch.skipped == () and batch.statuses == ()
    assert message.phone_number_id == PHONE_NUMBER_ID
    assert message.customer_phone == TEST_CUSTOMER
    assert message.type is MessageType.TEXT and message.text == "Bonjour, vous êtes ouverts ?"
    assert message.id.startswith("wamid.") and message.id in result.out
    assert message.timestamp is not None and abs(message.timestamp.timestamp() - time.time()) < 60
    assert "signed     with META_APP_SECRET (the first of 2)" in result.out
    assert_nothing_secret(result)


async def test_without_meta_app_secret_it_signs_with_the_local_secret_of_make_run(
    cli: Cli, recording: tuple[Recorder, str], tmp_path: Path
) -> None:
    recorder, url = recording
    local = load_or_create(tmp_path / "local-secrets.json")  # as make run writes it
    recorder.secrets = (local.meta_app_secret,)
    await add_served_tenant(cli, "shop@example.com", PHONE_NUMBER_ID)

    result = await cli(
        "webhook-test",
        "shop@example.com",
        "--forwarder-url",
        url,
        "--wait",
        "0",
        env={"META_APP_SECRET": "", "APP_DATA_DIR": str(tmp_path)},
    )

    recorder.only_body()  # verified with the local secret
    assert f"signed     with make run's local app secret ({tmp_path / 'local-secrets.json'})" in result.out
    assert_nothing_secret(result, local.meta_app_secret, local.verify_token)


async def test_a_tenant_with_its_own_app_secret_is_signed_with_it(
    cli: Cli, recording: tuple[Recorder, str]
) -> None:
    recorder, url = recording
    await add_served_tenant(cli, "shop@example.com", PHONE_NUMBER_ID)
    stored = await cli(
        "set-whatsapp",
        "shop@example.com",
        "--phone-number-id",
        PHONE_NUMBER_ID,
        "--app-secret-env",
        "TENANT_APP_SECRET",
        env={"TENANT_APP_SECRET": APP_SECRET},
    )
    assert stored.code == 0, stored.err
    recorder.secrets = (APP_SECRET,)

    held = await cli(
        "webhook-test",
        "shop@example.com",
        "--forwarder-url",
        url,
        "--wait",
        "0",
        env={"META_APP_SECRET": f"{FORWARDER_APP_SECRET},{APP_SECRET}"},
    )
    missing = await cli(
        "webhook-test",
        "shop@example.com",
        "--forwarder-url",
        url,
        "--wait",
        "0",
        env={"META_APP_SECRET": FORWARDER_APP_SECRET},
    )

    assert [check for _, check in recorder.received] == [SignatureCheck.VALID, SignatureCheck.VALID]
    assert "signed     with the tenant's own Meta app secret" in held.out and "note" not in held.out
    assert "META_APP_SECRET here does not hold the tenant's app secret" in line(missing.out, "note")
    assert_nothing_secret(held)
    assert_nothing_secret(missing)


# --- what became of it ----------------------------------------------------------------------


async def test_an_answered_message_exits_0_and_shows_the_stored_rows(
    cli: Cli, db: asyncpg.Connection, live: System
) -> None:
    await add_served_tenant(cli, "shop@example.com", PHONE_NUMBER_ID)

    result = await cli(
        "webhook-test",
        "shop@example.com",
        "--forwarder-url",
        live.forwarder_url,
        env={"META_APP_SECRET": FORWARDER_APP_SECRET},
    )

    assert result.code == 0, result.out + result.err
    [sent] = live.graph.delivered_to(TEST_CUSTOMER)
    assert sent.phone_number_id == PHONE_NUMBER_ID and sent.token == ACCESS_TOKEN
    assert "200 EVENT_RECEIVED" in line(result.out, "forwarder")
    assert line(result.out, "stored") == "customer message answered"
    reply = line(result.out, "reply")
    assert reply.startswith("sent  ") and reply.endswith('…"')
    assert sent.body is not None and reply == f'sent  "{sent.body[:60]}…"'
    assert "result: answered\n" in result.out
    assert "the fictional 15550000000 is on no WhatsApp: expect failed (131026 or similar)" in result.out
    rows = await db.fetch("SELECT sender, status FROM customer_conversations ORDER BY sender DESC")
    assert [(r["sender"], r["status"]) for r in rows] == [("user", "answered"), ("bot", "sent")]
    assert_nothing_secret(result)


@pytest.mark.parametrize(
    ("code", "explained"),
    [
        (131026, "the customer's number is not on WhatsApp"),
        (131047, "a sample webhook does not open Meta's 24-hour window"),
        (190, "wa-admin set-whatsapp shop@example.com --phone-number-id ID --access-token-stdin"),
    ],
)
async def test_a_reply_graph_refuses_exits_1_and_says_what_the_code_means(
    cli: Cli, live: System, code: int, explained: str
) -> None:
    await add_served_tenant(cli, "shop@example.com", PHONE_NUMBER_ID)
    live.graph.fail_next(None, code=code, to=TEST_CUSTOMER)

    result = await cli(
        "webhook-test",
        "shop@example.com",
        "--forwarder-url",
        live.forwarder_url,
        env={"META_APP_SECRET": FORWARDER_APP_SECRET},
    )

    assert result.code == 1, result.out
    assert line(result.out, "reply").startswith(f"failed ({code} ")
    assert "result: not answered\n" in result.out
    assert explained in result.out
    assert_nothing_secret(result)


async def test_an_acknowledged_webhook_that_never_reaches_this_database_is_not_found(
    cli: Cli, recording: tuple[Recorder, str]
) -> None:
    _, url = recording
    await add_served_tenant(cli, "shop@example.com", PHONE_NUMBER_ID)

    started = time.monotonic()
    result = await cli(
        "webhook-test",
        "shop@example.com",
        "--forwarder-url",
        url,
        "--wait",
        "1",
        env={"META_APP_SECRET": FORWARDER_APP_SECRET},
    )

    assert result.code == 1
    assert time.monotonic() - started >= 1.0
    assert line(result.out, "stored") == "no row with this message id after 1 s"
    assert "result: not found\n" in result.out and "another database" in result.out


async def test_a_forwarder_without_the_signing_secret_answers_401_and_the_cause_is_named(
    cli: Cli, db: asyncpg.Connection, live: System
) -> None:
    await add_served_tenant(cli, "shop@example.com", PHONE_NUMBER_ID)

    result = await cli(
        "webhook-test",
        "shop@example.com",
        "--forwarder-url",
        live.forwarder_url,
        env={"META_APP_SECRET": OTHER_APP_SECRET},
    )

    assert result.code == 1
    assert "401 invalid signature" in line(result.out, "forwarder")
    assert "result: not accepted\n" in result.out
    assert "the forwarder's META_APP_SECRET does not hold the secret this was signed with" in result.out
    assert await db.fetchval("SELECT count(*) FROM customer_conversations") == 0
    assert_nothing_secret(result)


async def test_nothing_listening_is_reported_unreachable(cli: Cli) -> None:
    await add_served_tenant(cli, "shop@example.com", PHONE_NUMBER_ID)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"

    result = await cli(
        "webhook-test", "shop@example.com", "--forwarder-url", nowhere, env={"META_APP_SECRET": "x" * 32}
    )

    assert result.code == 1
    assert f"POST {nowhere}/webhook: no answer (ConnectError)" in result.out
    assert "result: forwarder unreachable\n" in result.out and "make run" in result.out


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("nobody@example.com",), "unknown tenant: nobody@example.com"),
        (("prospect@example.com",), "prospect@example.com has no WhatsApp number"),
        (("paused@example.com",), "is inactive: wa-admin reactivate paused@example.com"),
        (("shop@example.com", "--forwarder-url", "ftp://example.com/webhook"), "http:// or https://"),
        (("shop@example.com", "--forwarder-url", "http://h:99999/webhook"), "not a URL"),
        (("shop@example.com", "--forwarder-url", "https://u:p@example.com/"), "must not carry credentials"),
        (("shop@example.com", "--customer", "+33 6"), "7 to 15 digits"),
        (("shop@example.com", "--wait", "-1"), "from 0 to 600 seconds"),
        (("shop@example.com", "--text", "  "), "must not be blank"),
    ],
)
async def test_bad_input_is_one_line_and_exit_2(
    cli: Cli, recording: tuple[Recorder, str], argv: tuple[str, ...], fragment: str
) -> None:
    recorder, _ = recording
    await add_served_tenant(cli, "shop@example.com", PHONE_NUMBER_ID)
    await add_served_tenant(cli, "paused@example.com", "222222222")
    assert (await cli("deactivate", "paused@example.com")).code == 0
    await add_tenant(cli, "prospect@example.com")

    result = await cli("webhook-test", *argv, env={"META_APP_SECRET": FORWARDER_APP_SECRET})

    result.assert_one_line_error(fragment)
    assert "u:p@" not in result.err
    assert recorder.received == []


async def test_no_app_secret_anywhere_is_bad_input(
    cli: Cli, recording: tuple[Recorder, str], tmp_path: Path
) -> None:
    recorder, url = recording
    await add_served_tenant(cli, "shop@example.com", PHONE_NUMBER_ID)

    result = await cli(
        "webhook-test",
        "shop@example.com",
        "--forwarder-url",
        url,
        env={"META_APP_SECRET": "", "APP_DATA_DIR": str(tmp_path)},
    )

    result.assert_one_line_error("no Meta app secret to sign with", "set META_APP_SECRET")
    assert recorder.received == []


# --- the report, from its parts (pure) ------------------------------------------------------

TENANT_ID = uuid.uuid4()
CONTEXT = HintContext(
    tenant_id=TENANT_ID,
    tenant="shop@example.com",
    customer=TEST_CUSTOMER,
    url="http://127.0.0.1:8002/webhook",
    signed_with="META_APP_SECRET",
    wait_seconds=15,
)
ACCEPTED = ForwarderAnswer(status=200, body="EVENT_RECEIVED", elapsed_ms=42.0)


def report(trace: MessageTrace | None, answer: ForwarderAnswer = ACCEPTED) -> tuple[Verdict, str]:
    judgement = judge(answer, trace, CONTEXT)
    text = render.webhook_test_report(
        WebhookTestReport(
            context=CONTEXT,
            phone_number_id=PHONE_NUMBER_ID,
            wamid="wamid.TEST",
            text="Hello",
            signing_notes=(),
            answer=answer,
            trace=trace,
            judgement=judgement,
        )
    )
    return judgement.verdict, text


def stored(status: str, *replies: StoredReply, tenant_id: uuid.UUID | None = TENANT_ID) -> MessageTrace:
    message = StoredMessage(id=uuid.uuid4(), tenant_id=tenant_id, status=status, error_title=None)
    return MessageTrace(message=message, replies=replies, waited_seconds=0.1)


def reply(status: str, code: int | None = None, title: str | None = None, text: str = "Oui") -> StoredReply:
    return StoredReply(part=0, status=status, error_code=code, error_title=title, preview=text)


def test_the_report_for_an_answered_message() -> None:
    verdict, text = report(stored("answered", reply("delivered", text="x" * 61)))

    assert verdict is Verdict.ANSWERED and verdict.exit_code == 0
    assert line(text, "reply") == f'delivered  "{"x" * 60}…"'
    assert text.endswith("result: answered\n")  # delivered: no hint left to give


def test_the_report_for_a_reply_refused_for_a_fake_number() -> None:
    verdict, text = report(stored("answered", reply("failed", 131026, "Message undeliverable")))

    assert verdict is Verdict.NOT_ANSWERED and verdict.exit_code == 1
    assert line(text, "reply") == 'failed (131026 Message undeliverable)  "Oui"'
    assert "--customer YOUR_NUMBER" in text


def test_the_report_for_a_message_not_found_or_not_finished() -> None:
    not_found, missing = report(MessageTrace(waited_seconds=15))
    in_progress, pending = report(stored("send_retry", reply("send_retry")))
    nobody, unidentified = report(stored("failed", tenant_id=None))

    assert not_found is Verdict.NOT_FOUND and "no row with this message id after 15 s" in missing
    assert in_progress is Verdict.IN_PROGRESS and "still send_retry after 15 s" in pending
    assert nobody is Verdict.NOT_ANSWERED and "no active tenant with this phone_number_id" in unidentified
    assert {v.exit_code for v in (not_found, in_progress, nobody)} == {1}


def test_the_report_for_a_forwarder_that_refused_or_was_not_there() -> None:
    refused, text = report(None, ForwarderAnswer(status=503, body="not configured"))
    absent, gone = report(None, ForwarderAnswer(status=None, failure="ConnectError"))

    assert refused is Verdict.NOT_ACCEPTED and "GET /health" in text
    assert line(text, "stored") == "not looked for: the forwarder did not take the webhook"
    assert absent is Verdict.UNREACHABLE and "no answer (ConnectError)" in gone


def test_an_unreadable_tenant_secret_is_said_and_the_next_secret_signs() -> None:
    nothing_local = LocalSecretFile(
        path=Path("/nowhere/local-secrets.json"), app_secret=None, problem="not there"
    )
    unreadable = SecretCandidates(
        tenant_secret=None,
        tenant_secret_unreadable=True,
        env_secrets=(FORWARDER_APP_SECRET,),
        local=nothing_local,
    )

    chosen = choose_signing_secret(unreadable)
    with pytest.raises(MissingSecret, match="the tenant's own cannot be decrypted here") as missing:
        choose_signing_secret(replace(unreadable, env_secrets=()))

    assert chosen.secret.value == FORWARDER_APP_SECRET and chosen.origin == "META_APP_SECRET"
    [note] = chosen.notes
    assert "cannot be decrypted" in note and FORWARDER_APP_SECRET not in note
    assert "/nowhere/local-secrets.json is not there" in str(missing.value)
