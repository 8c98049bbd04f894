"""One full run with KMS (moto's server) as the master key: a tenant configured with the admin CLI,
Meta's handshake and messages through the forwarder, replies from the handler, a web chat. Then:
a `pg_dump` of the database holds none of the plain secrets, and no log line of the run holds a
secret or a whole customer number."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from admin.cli import main as admin_main
from forwarder.app import create_app, create_lambda_handler
from ops.migrate import migrate
from shared.logs import JsonFormatter, mask_phone
from standins import meta
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from standins.lambda_invoke import LambdaInvokeStandin
from tenant_secrets import master_keys
from tests.conftest import KMS_REGION, CreateDatabase
from tests.handler.conftest import LambdaContainer, LambdaTestContext
from tests.handler.events import function_url_event

HANDLER_FUNCTION = "SecurityHandler"
CUSTOMER = "242066582610"
ACCESS_TOKEN = "EAAG-e2e-access-token-7f3c9a1b2d4e"
APP_SECRET = "e2e-own-app-secret-51c8d0f2a6"
GROQ_KEY = "gsk_e2e_groq_key_9b7e5d3c1a0f"
META_APP_SECRET = "e2e-meta-app-secret-0d2f4b6a8c"
VERIFY_TOKEN = "e2e-verify-token-3e5a7c9b1d"
FORWARDER_SECRET = "e2e-forwarder-secret-6a4c2e0b8d"

# Every logger of ours whose lines a run can produce.
APP_LOGGERS = ("handler", "forwarder", "admin", "migrate", "localrun", "standins")


@dataclass(frozen=True, slots=True, kw_only=True)
class SecurityRun:
    database_url: str
    secrets: dict[str, str]  # name → value: every secret the run handled
    log_lines: list[str]
    cli_output: str  # everything the CLI printed, except the web chat key it prints by design
    results: dict[str, Any]


class LogCapture(logging.Handler):
    """Every record formatted as production formats it (JSON lines)."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def captured_logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in APP_LOGGERS}
    root.addHandler(capture)
    for name in APP_LOGGERS:  # stricter than production (INFO): our debug lines are checked too
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = admin_main(list(argv))
    return code, out.getvalue(), err.getvalue()


class ForwarderContainer:
    """The forwarder Lambda (`create_lambda_handler(create_app())`) on its own thread and loop."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forwarder-container")
        self._app = create_app()
        self._handler = create_lambda_handler(self._app)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _run(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    async def start(self) -> None:
        def start() -> asyncio.AbstractEventLoop:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            return loop

        self._loop = await self._run(start)

    async def invoke(self, event: dict[str, Any]) -> Any:
        return await self._run(self._handler, event, LambdaTestContext(function_name="forwarder"))

    async def close(self) -> None:
        def stop() -> None:
            assert self._loop is not None
            self._loop.run_until_complete(self._app.state.runtime.aclose())
            self._loop.close()
            asyncio.set_event_loop(None)

        await self._run(stop)
        self._thread.shutdown()


async def through_forwarder(
    forwarder: ForwarderContainer,
    lambda_api: LambdaInvokeStandin,
    handler: LambdaContainer,
    payload: object,
    secret: str,
) -> dict[str, Any]:
    """Meta → forwarder (signature check, hand-off) → the envelope it handed off → handler."""
    before = len(lambda_api.accepted)
    body, headers = meta.signed_request(payload, secret)
    response = await forwarder.invoke(function_url_event("POST", "/webhook", body=body, headers=headers))
    assert response["statusCode"] == 200, response
    handoff = lambda_api.accepted[before]
    result: dict[str, Any] = await handler.invoke(handoff.event())
    return result


@pytest.fixture(scope="module")
async def security_run(
    create_database: CreateDatabase,
    moto_kms_url: str,
    handler_environment: dict[str, str],
    groq: GroqStandIn,
    graph: GraphStandIn,
) -> AsyncIterator[SecurityRun]:
    database_url = await create_database()
    await migrate(database_url)
    kms = boto3.client(
        "kms",
        region_name=KMS_REGION,
        endpoint_url=moto_kms_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    kms_key = kms.create_key()["KeyMetadata"]
    lambda_api = LambdaInvokeStandin({HANDLER_FUNCTION: None})
    lambda_api.start()
    environment = {
        "DATABASE_URL": database_url,
        "KMS_KEY_ID": kms_key["Arn"],
        "AWS_ENDPOINT_URL_KMS": moto_kms_url,
        "AWS_ENDPOINT_URL_LAMBDA": lambda_api.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": KMS_REGION,
        "HANDLER_FUNCTION_NAME": HANDLER_FUNCTION,
        # The forwarder accepts payloads of both apps; the handler holds the tenant to its own.
        "META_APP_SECRET": f"{META_APP_SECRET},{APP_SECRET}",
        "VERIFY_TOKEN": VERIFY_TOKEN,
        "FORWARDER_HANDLER_SECRET": FORWARDER_SECRET,
        "WA_TOKEN": ACCESS_TOKEN,
        "WA_APP_SECRET": APP_SECRET,
        "GROQ_KEY": GROQ_KEY,
    }
    results: dict[str, Any] = {}
    cli_output: list[str] = []
    with pytest.MonkeyPatch.context() as patch, captured_logs() as logs:
        for name in ("HANDLER_URL", "PARKING_BUCKET", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        for name, value in environment.items():
            patch.setenv(name, value)
        master_keys._kms_client.cache_clear()
        handler = LambdaContainer()  # a cold container that reads this environment
        forwarder = ForwarderContainer()
        await forwarder.start()
        groq.reset()
        graph.reset()
        try:
            for argv in (
                ("add-tenant", "--email", "secure@example.com"),
                ("set-whatsapp", "secure@example.com", "--phone-number-id", "555000111",
                 "--access-token-env", "WA_TOKEN", "--app-secret-env", "WA_APP_SECRET"),
                ("set-groq", "secure@example.com", "--api-key-env", "GROQ_KEY"),
                ("list",),
                ("check",),
            ):  # fmt: skip
                code, out, err = await asyncio.to_thread(run_cli, *argv)
                assert code == 0, (argv, err)
                cli_output.append(out + err)
                if argv[0] == "add-tenant":
                    tenant_id = out.strip()
            code, out, err = await asyncio.to_thread(run_cli, "issue-web-chat-key", "secure@example.com")
            assert code == 0, err
            web_chat_key = out.strip()
            cli_output.append(err)

            query = urlencode(meta.verification_params(VERIFY_TOKEN))
            results["handshake"] = await forwarder.invoke(function_url_event("GET", "/webhook", query=query))
            business = meta.BusinessNumber(
                phone_number_id="555000111", display_phone_number="15550001111", waba_id="waba-555000111"
            )

            def payload(text: str) -> object:
                message = meta.text_message(text, sender=CUSTOMER, timestamp=int(time.time()))
                return meta.webhook_payload(meta.messages_change(message, business=business))

            results["own_app"] = await through_forwarder(
                forwarder, lambda_api, handler, payload("Bonjour"), APP_SECRET
            )
            results["other_app"] = await through_forwarder(
                forwarder, lambda_api, handler, payload("Forged"), META_APP_SECRET
            )
            chat = json.dumps({"webUserId": tenant_id, "text": "Horaires ?", "sessionId": "s1"}).encode()
            chat_event = function_url_event(
                "POST", "/chat", body=chat, headers={"authorization": f"Bearer {web_chat_key}"}
            )
            chat_event["routeKey"] = "POST /chat"
            results["web_chat"] = await handler.invoke(chat_event)
            results["groq_keys"] = [call.api_key for call in groq.requests]
            results["graph_tokens"] = [sent.token for sent in graph.delivered]
        finally:
            await handler.close()
            await forwarder.close()
            lambda_api.stop()
            master_keys._kms_client.cache_clear()
    yield SecurityRun(
        database_url=database_url,
        secrets={
            "access token": ACCESS_TOKEN,
            "app secret": APP_SECRET,
            "groq key": GROQ_KEY,
            "meta app secret": META_APP_SECRET,
            "verify token": VERIFY_TOKEN,
            "forwarder secret": FORWARDER_SECRET,
            "web chat key": web_chat_key,
            "local master key": os.environ["LOCAL_MASTER_KEY"],
        },
        log_lines=logs.lines,
        cli_output="".join(cli_output),
        results=results,
    )


def test_the_run_worked_end_to_end(security_run: SecurityRun) -> None:
    results = security_run.results
    assert results["handshake"]["statusCode"] == 200
    assert results["own_app"]["messages"] == {"replied": 1}
    assert results["other_app"]["messages"] == {"refused": 1}
    assert results["web_chat"]["statusCode"] == 200
    # The secrets were decrypted through KMS and used: Groq got the key, Graph the token.
    assert results["groq_keys"] == [GROQ_KEY, GROQ_KEY]
    assert results["graph_tokens"] == [ACCESS_TOKEN]


def pg_dump(database_url: str) -> str:
    import pgserver

    binary = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
    dumped = subprocess.run(
        [str(binary), "--no-owner", f"--dbname={database_url}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dumped.stdout


def test_a_database_dump_holds_no_plain_secret(security_run: SecurityRun) -> None:
    dump = pg_dump(security_run.database_url)

    assert "COPY public.user_whatsapp_config" in dump and "enc:v1:kms-" in dump
    for name, value in security_run.secrets.items():
        assert value not in dump, f"the {name} is in the database dump"


def test_no_log_line_of_the_run_holds_a_secret_or_a_whole_customer_number(security_run: SecurityRun) -> None:
    lines = security_run.log_lines
    loggers = {json.loads(line)["logger"] for line in lines}

    assert {"forwarder", "handler"} <= loggers, loggers
    for name, value in security_run.secrets.items():
        leaking = [line for line in lines if value in line]
        assert not leaking, f"the {name} is logged: {leaking[:1]}"
    assert not [line for line in lines if CUSTOMER in line]
    assert any(mask_phone(CUSTOMER) in line for line in lines)


def test_the_cli_never_prints_a_secret_except_the_web_chat_key_it_issues(security_run: SecurityRun) -> None:
    for name, value in security_run.secrets.items():
        assert value not in security_run.cli_output, f"the CLI printed the {name}"
    assert "…" + ACCESS_TOKEN[-4:] in security_run.cli_output  # `list` shows masked tails, decrypted
