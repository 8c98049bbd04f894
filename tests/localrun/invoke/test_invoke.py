"""`make invoke EVENT=…`: every sample event through the real `lambda_handler`, in this process,
against a real Postgres (a database of its own), and each event's `expect` line comes true."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from infra.sample_events import CATALOG, FORWARDER, HANDLER, TEST_APP_SECRET, TEST_VERIFY_TOKEN, load_event
from localrun.console import Output
from localrun.invoke.cli import USAGE, find_event, main
from localrun.invoke.offline import StandIns, started_stand_ins
from localrun.invoke.preconditions import (
    SAMPLE_TENANTS,
    SAMPLE_WEB_CHAT_KEY,
    WEB_CHAT_TENANT_ID,
    Readiness,
)
from localrun.invoke.report import json_body
from localrun.invoke.runner import EventRun, run_event
from ops.migrate import apply_migrations
from tests.conftest import CreateDatabase

MAIN, TENANT_A, TENANT_B = SAMPLE_TENANTS
STATUS_WAMID = "wamid.HBgMMjQyMDY2NTgyNjEwFQIAERgSRVZFTlQtU1RBVFVTLVJFUExZAA=="
SECRETS = (
    TEST_APP_SECRET,
    TEST_VERIFY_TOKEN,
    SAMPLE_WEB_CHAT_KEY,
    *(tenant.access_token for tenant in SAMPLE_TENANTS),
    *(tenant.groq_api_key for tenant in SAMPLE_TENANTS),
)
EVENTS_TESTED_HERE = {
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


Invoke = Callable[[str], Awaitable["Invoked"]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Invoked:
    run: EventRun
    output: str

    @property
    def result(self) -> object:
        return self.run.invocation.main.result


@pytest.fixture(scope="module")
async def invoke_database(create_database: CreateDatabase) -> str:
    url = await create_database()
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    return url


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[StandIns]:
    """Started once for the module's direct runs (each `make invoke` starts its own)."""
    with started_stand_ins(hands_off=True) as running:
        yield running


@pytest.fixture
async def conn(invoke_database: str) -> AsyncIterator[asyncpg.Connection]:
    """The invoke database with no tenant and no conversation, as on a first `make invoke`."""
    connection = await asyncpg.connect(invoke_database)
    await connection.execute("TRUNCATE customer_conversations, auth.users CASCADE")
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
def local_folder(tmp_path: Path, invoke_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """What `make invoke` reads: a data folder of its own and DATABASE_URL (never the real .data)."""
    monkeypatch.setenv("APP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", invoke_database)
    yield tmp_path


@pytest.fixture
def invoke(invoke_database: str, stand_ins: StandIns) -> Invoke:
    async def run(name: str) -> Invoked:
        output = io.StringIO()
        done = await run_event(
            find_event(f"infra/events/{name}"),
            invoke_database,
            Output(output),
            configured=True,
            stand_ins=stand_ins,
        )
        return Invoked(run=done, output=output.getvalue())

    return run


async def rows(conn: asyncpg.Connection, customer: str) -> list[tuple[str, str]]:
    found = await conn.fetch(
        "SELECT sender, status FROM customer_conversations WHERE phone_number = $1"
        " ORDER BY created_at, sender = 'bot'",
        customer,
    )
    return [(row["sender"], row["status"]) for row in found]


def test_every_catalogued_event_has_a_test_here() -> None:
    assert {event.file for event in CATALOG} == EVENTS_TESTED_HERE


async def test_envelope_text_is_answered_through_groq_and_sent_with_the_tenants_token(
    conn: asyncpg.Connection, invoke: Invoke
) -> None:
    invoked = await invoke("envelope-text.json")

    assert invoked.result == {
        "success": True,
        "messages": {"replied": 1},
        "statuses_applied": 0,
        "statuses_stale": 0,
        "statuses_unmatched": 0,
        "skipped": 0,
    }
    [call] = invoked.run.aftermath.groq_calls
    assert call.api_key == MAIN.groq_api_key and call.status == 200
    [sent] = invoked.run.aftermath.sends
    assert (sent.phone_number_id, sent.to, sent.token, sent.accepted) == (
        "123456789",
        "242066582610",
        MAIN.access_token,
        True,
    )
    assert await rows(conn, "242066582610") == [("user", "answered"), ("bot", "sent")]
    assert [(row.created, row.sender) for row in invoked.run.aftermath.rows] == [
        (True, "user"),
        (True, "bot"),
    ]
    assert "to 242066582610 from 123456789 with tenant 123456789's token" in invoked.output
    assert f"Expected: {CATALOG[0].expect}" in invoked.output


async def test_a_message_event_run_twice_is_a_duplicate_the_second_time(
    conn: asyncpg.Connection, invoke: Invoke
) -> None:
    await invoke("envelope-text.json")

    again = await invoke("envelope-text.json")

    assert isinstance(again.result, dict) and again.result["messages"] == {"duplicate": 1}
    assert again.run.aftermath.sends == () and again.run.aftermath.groq_calls == ()
    assert "a duplicate" in again.output
    assert await rows(conn, "242066582610") == [("user", "answered"), ("bot", "sent")]


async def test_envelope_batch_answers_each_customer_from_their_own_tenant(
    conn: asyncpg.Connection, invoke: Invoke
) -> None:
    invoked = await invoke("envelope-batch-two-tenants.json")

    assert isinstance(invoked.result, dict) and invoked.result["messages"] == {"replied": 2}
    assert sorted(call.api_key for call in invoked.run.aftermath.groq_calls) == sorted(
        [TENANT_A.groq_api_key, TENANT_B.groq_api_key]
    )
    sends = {sent.to: (sent.phone_number_id, sent.token) for sent in invoked.run.aftermath.sends}
    assert sends == {
        "242066582611": (TENANT_A.phone_number_id, TENANT_A.access_token),
        "242066582612": (TENANT_B.phone_number_id, TENANT_B.access_token),
    }


async def test_envelope_status_moves_the_prepared_reply_to_delivered_every_run(
    conn: asyncpg.Connection, invoke: Invoke
) -> None:
    first = await invoke("envelope-status.json")
    second = await invoke("envelope-status.json")

    for invoked in (first, second):
        assert isinstance(invoked.result, dict)
        assert (invoked.result["statuses_applied"], invoked.result["statuses_unmatched"]) == (1, 0)
        [changed] = invoked.run.aftermath.rows
        assert (changed.created, changed.sender, changed.status) == (False, "bot", "delivered")
        assert invoked.run.aftermath.groq_calls == () and invoked.run.aftermath.sends == ()
    [reply_first] = [p for p in first.run.prepared if STATUS_WAMID in p.what]
    [reply_second] = [p for p in second.run.prepared if STATUS_WAMID in p.what]
    assert (reply_first.readiness, reply_second.readiness) == (Readiness.CREATED, Readiness.UPDATED)
    status = await conn.fetchval(
        "SELECT status FROM customer_conversations WHERE wa_message_id = $1 AND user_id = $2",
        STATUS_WAMID,
        WEB_CHAT_TENANT_ID,
    )
    assert status == "delivered"


async def test_envelope_image_gets_the_tenants_text_only_notice_without_groq(
    conn: asyncpg.Connection, invoke: Invoke
) -> None:
    invoked = await invoke("envelope-image.json")

    assert invoked.run.aftermath.groq_calls == ()
    notice = await conn.fetchval(
        "SELECT unsupported_media_text FROM user_groq_config WHERE user_id = $1", WEB_CHAT_TENANT_ID
    )
    [sent] = invoked.run.aftermath.sends
    assert (sent.to, sent.token, sent.body) == ("242066582610", MAIN.access_token, notice)


async def test_seed_request_is_answered_and_sent_on_whatsapp(
    conn: asyncpg.Connection, invoke: Invoke
) -> None:
    invoked = await invoke("seed-request.json")

    result = invoked.result
    assert isinstance(result, dict)
    assert (result["statusCode"], result["success"], result["whatsappSent"]) == (200, True, True)
    [sent] = invoked.run.aftermath.sends
    assert (sent.phone_number_id, sent.to, sent.token, sent.body) == (
        "123456789",
        "+242066582610",
        MAIN.access_token,
        result["response"],
    )


async def test_function_url_handshake_is_answered_by_the_forwarder_with_the_challenge(
    conn: asyncpg.Connection, invoke: Invoke
) -> None:
    invoked = await invoke("function-url-handshake.json")

    main_result = invoked.run.invocation.main
    assert main_result.function == FORWARDER and not main_result.failed
    assert isinstance(main_result.result, dict)
    assert (main_result.result["statusCode"], main_result.result["body"]) == (200, "1158201444")
    assert invoked.run.invocation.handed_off == ()


async def test_function_url_webhook_reaches_the_handler_through_boto3_and_is_answered(
    conn: asyncpg.Connection, invoke: Invoke
) -> None:
    invoked = await invoke("function-url-webhook.json")

    main_result = invoked.run.invocation.main
    assert main_result.function == FORWARDER and isinstance(main_result.result, dict)
    assert (main_result.result["statusCode"], main_result.result["body"]) == (200, "EVENT_RECEIVED")
    [handed] = invoked.run.invocation.handed_off
    assert handed.function == HANDLER and not handed.failed
    assert isinstance(handed.result, dict) and handed.result["messages"] == {"replied": 1}
    [sent] = invoked.run.aftermath.sends
    assert (sent.to, sent.token) == ("242066582613", MAIN.access_token)
    assert await rows(conn, "242066582613") == [("user", "answered"), ("bot", "sent")]


async def test_http_api_web_chat_answers_the_prepared_web_tenant_and_sends_nothing(
    conn: asyncpg.Connection, invoke: Invoke
) -> None:
    invoked = await invoke("http-api-web-chat.json")

    assert isinstance(invoked.result, dict) and invoked.result["statusCode"] == 200
    body = json_body(invoked.result)
    assert isinstance(body, dict) and body["success"] is True and body["source"] == "web" and body["response"]
    [call] = invoked.run.aftermath.groq_calls
    assert call.api_key == MAIN.groq_api_key
    assert invoked.run.aftermath.sends == ()
    assert await rows(conn, "web:web-session-42") == [("user", "answered"), ("bot", "delivered")]


async def test_rest_api_health_is_healthy(conn: asyncpg.Connection, invoke: Invoke) -> None:
    invoked = await invoke("rest-api-health.json")

    assert isinstance(invoked.result, dict) and invoked.result["statusCode"] == 200
    body = json_body(invoked.result)
    assert isinstance(body, dict) and body["status"] == "healthy"


# --- The command line ----------------------------------------------------------------------


async def make_invoke(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(arguments))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_no_secret_is_printed_for_any_event(
    conn: asyncpg.Connection, local_folder: Path, master_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = []
    for event in CATALOG:
        code, out, err = await make_invoke(capsys, f"infra/events/{event.file}")
        assert code == 0, err
        printed.append(out + err)

    everything = "\n".join(printed)
    for secret in (*SECRETS, master_key):
        assert secret not in everything
    assert "tenant 123456789's token" in everything and "tenant 111111111's key" in everything


async def test_a_first_run_migrates_and_creates_the_tenants_and_the_next_finds_them(
    create_database: CreateDatabase,
    local_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", await create_database())

    code, first, _ = await make_invoke(capsys, "infra/events/rest-api-health.json")
    _, second, _ = await make_invoke(capsys, "rest-api-health.json")

    assert code == 0
    assert "migrations  applied 001_seed_tables" in first and "migrations  up to date" in second
    for tenant in SAMPLE_TENANTS:
        assert f"{tenant.label} (id " in first
    assert first.count(": created") == 4 and second.count(": already there") == 4
    assert "DATABASE_URL" in first and str(local_folder / "localrun" / "invoke.log") in first


async def test_a_tenant_changed_since_is_set_back_and_a_number_taken_by_another_tenant_is_reported(
    conn: asyncpg.Connection, local_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await make_invoke(capsys, "infra/events/envelope-text.json")
    await conn.execute(
        "UPDATE user_groq_config SET model = 'openai/gpt-oss-20b' WHERE user_id = $1", WEB_CHAT_TENANT_ID
    )

    _, out, _ = await make_invoke(capsys, "infra/events/envelope-image.json")
    assert f"tenant 123456789 (id {WEB_CHAT_TENANT_ID}): updated" in out

    await conn.execute("UPDATE user_whatsapp_config SET is_active = false")
    await conn.execute(
        "INSERT INTO auth.users (email) VALUES ('someone@example.com');"
        "INSERT INTO user_whatsapp_config (user_id, access_token, phone_number_id)"
        " SELECT id, 'plain', '111111111' FROM auth.users WHERE email = 'someone@example.com'"
    )
    code, _, err = await make_invoke(capsys, "infra/events/envelope-text.json")
    assert code != 0
    assert err.startswith(
        "error: phone_number_id 111111111 is active for a tenant make invoke did not create"
    )
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ((), USAGE),
        (("",), USAGE),
        (("infra/events/no-such-event.json",), "error: no such event file: infra/events/no-such-event.json"),
        (("README.md",), "error: README.md is not one of the sample events in infra/events"),
    ],
)
async def test_a_missing_or_unknown_event_is_one_line_and_a_failure(
    local_folder: Path, capsys: pytest.CaptureFixture[str], arguments: tuple[str, ...], expected: str
) -> None:
    code, out, err = await make_invoke(capsys, *arguments)

    assert code == 2 and out == ""
    assert err.startswith(expected) and err.count("\n") == 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [('{"kind": ', "is not valid JSON (line 1, column 10)"), ("[1, 2]", "is not a JSON object")],
)
async def test_a_malformed_event_file_is_one_line_and_a_failure(
    local_folder: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    path = local_folder / "envelope-text.json"
    path.write_text(content)

    code, out, err = await make_invoke(capsys, str(path))

    assert code == 2 and out == ""
    assert err.startswith(f"error: {path} {expected}") and err.count("\n") == 1


async def test_a_function_that_raises_prints_lambdas_error_object_and_exits_1(
    conn: asyncpg.Connection, local_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = local_folder / "envelope-text.json"
    path.write_text(json.dumps({**load_event("envelope-text.json"), "version": 99}))

    code, out, _ = await make_invoke(capsys, str(path))

    assert code == 1
    assert "HandlerFunction raised:" in out and '"errorType": "InvalidEnvelope"' in out
