"""Soak: thousands of signed webhooks through the real forwarder and handler, with duplicates and
Groq, Graph, Lambda and Postgres faults; counts double replies and lost messages (both must be 0).

Every message comes from its own customer, so the replies a customer received are the replies
its message got, whatever text they carry (the AI's answer or the tenant's fallback).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import boto3
import httpx

from bench import Row
from bench._keys import ensure_master_key
from forwarder.app import create_app
from forwarder.settings import ForwarderSettings
from shared.migrate import migrate
from shared.signature import sign
from standins import meta
from standins.graph import GraphFault, GraphStandIn
from standins.groq import GroqFault, GroqStandIn
from standins.lambda_container import FakeLambdaContext
from standins.lambda_invoke import LambdaFault, LambdaInvokeStandin
from standins.postgres import RestartablePostgres
from standins.server import BackgroundServer
from tests.factories import add_tenant

APP_SECRET = "soak-app-secret"
FUNCTION = "handler"
TENANTS = 5
_RESET = "__soak_reset_container__"


@dataclass(frozen=True, slots=True)
class SoakReport:
    webhooks_sent: int
    unique_messages: int
    duplicates_sent: int
    forwarder_503s: int
    replies_sent: int
    double_replies: int
    lost_messages: int
    recorded_failures: int  # no reply, but recorded with its reason (e.g. a permanent Graph error)
    dead_letters: int
    handler_retries: int  # invocations Lambda ran again after a failure (the Postgres outage)
    groq_faults: int
    graph_faults: int
    seconds: float

    def table(self) -> str:
        width = max(len(name) for name in self.__slots__)
        return "\n".join(
            f"{name.replace('_', ' '):{width}}  {getattr(self, name)}" for name in self.__slots__
        )


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _handler(event: Any, context: FakeLambdaContext) -> Any:
    from handler.app import lambda_handler
    from handler.runtime import reset_container

    if isinstance(event, dict) and event.get(_RESET):
        reset_container()  # close this container's pool before the soak's Postgres goes away
        return {}
    return lambda_handler(event, context)


async def _add_tenants(url: str) -> list[meta.BusinessNumber]:
    conn = await asyncpg.connect(url)
    try:
        tenants = [await add_tenant(conn, n) for n in range(TENANTS)]
    finally:
        await conn.close()
    return [
        meta.BusinessNumber(phone_number_id=t.phone_number_id, waba_id=f"waba-{t.phone_number_id}")
        for t in tenants
    ]


async def _inbound_states(url: str) -> dict[str, str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT phone_number, status FROM customer_conversations WHERE sender = 'user'"
        )
        return {row["phone_number"]: row["status"] for row in rows}
    finally:
        await conn.close()


async def _send_all(forwarder_url: str, bodies: list[bytes], concurrency: int) -> int:
    """POST each signed body as Meta does: again, later, until it is acknowledged with a 200."""
    refused = 0
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=10) as client:

        async def deliver(body: bytes) -> None:
            nonlocal refused
            headers = {"content-type": "application/json", "x-hub-signature-256": sign(APP_SECRET, body)}
            for attempt in range(60):
                async with semaphore:
                    response = await client.post(f"{forwarder_url}/webhook", content=body, headers=headers)
                if response.status_code == 200:
                    return
                refused += 1
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
            raise RuntimeError("the forwarder never acknowledged a webhook")

        await asyncio.gather(*(deliver(body) for body in bodies))
    return refused


def soak(
    messages: int, data_dir: Path, *, seed: int = 7, fault_rate: float = 0.1, concurrency: int = 16
) -> SoakReport:
    rng = random.Random(seed)
    ensure_master_key()
    postgres = RestartablePostgres(data_dir / "soak-postgres")
    asyncio.run(migrate(postgres.url))
    businesses = asyncio.run(_add_tenants(postgres.url))
    faults_lock = threading.Lock()

    def sometimes(_: object) -> bool:
        with faults_lock:
            return rng.random() < fault_rate

    with (
        GroqStandIn() as groq,
        GraphStandIn() as graph,
        LambdaInvokeStandin(
            {FUNCTION: _handler}, max_retry_attempts=2, retry_delay_seconds=1.2, function_timeout_seconds=4.0
        ) as lambdas,
    ):
        groq.faults.add(GroqFault(status=500), times=None, when=sometimes)
        graph.faults.add(GraphFault(status=503), times=None, when=sometimes)
        lambdas.faults.add(
            LambdaFault.throttle(), times=None, when=lambda _: sometimes(None) and sometimes(None)
        )
        environment = {
            "DATABASE_URL": postgres.url,
            "GROQ_BASE_URL": groq.base_url,
            "GRAPH_API_BASE_URL": graph.base_url,
            "RETRY_BASE_DELAY_SECONDS": "0.01",
            "RETRY_MAX_DELAY_SECONDS": "0.05",
            "AWS_ENDPOINT_URL_LAMBDA": lambdas.endpoint_url,
            "AWS_ACCESS_KEY_ID": "soak",
            "AWS_SECRET_ACCESS_KEY": "soak",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LOG_LEVEL": "WARNING",
        }
        with _environment(environment):
            settings = ForwarderSettings(
                meta_app_secrets=(APP_SECRET,), handler_function_name=FUNCTION, verify_token="soak"
            )
            with BackgroundServer(create_app(settings)) as forwarder:
                bodies, unique = _bodies(messages, businesses, rng)
                started = time.perf_counter()
                outage = threading.Thread(target=_outage, args=(postgres, lambdas, len(unique) // 3))
                outage.start()
                refused = asyncio.run(_send_all(forwarder.base_url, bodies, concurrency))
                outage.join()
                lambdas.wait_idle(timeout=300)
                seconds = time.perf_counter() - started
                boto3.client("lambda").invoke(
                    FunctionName=FUNCTION, Payload=json.dumps({_RESET: True}).encode()
                )
        replies = Counter(message.to for message in graph.delivered)
        states = asyncio.run(_inbound_states(postgres.url))
        dead_letters = len(lambdas.dead_letters)
        handler_retries = sum(c.attempts - 1 for c in lambdas.completions) + sum(
            d.attempts - 1 for d in lambdas.dead_letters
        )
        groq_faults = sum(1 for call in groq.requests if call.status >= 500)
        graph_faults = sum(1 for attempt in graph.requests if attempt.status >= 500)
    postgres.stop()
    customers = unique
    unanswered = [c for c in customers if replies[c] == 0]
    recorded = [c for c in unanswered if states.get(c) in ("failed", "outcome_unknown")]
    return SoakReport(
        webhooks_sent=len(bodies),
        unique_messages=len(unique),
        duplicates_sent=len(bodies) - len(unique),
        forwarder_503s=refused,
        replies_sent=sum(replies.values()),
        double_replies=sum(1 for c in customers if replies[c] > 1),
        lost_messages=len(unanswered) - len(recorded),
        recorded_failures=len(recorded),
        dead_letters=dead_letters,
        handler_retries=handler_retries,
        groq_faults=groq_faults,
        graph_faults=graph_faults,
        seconds=round(seconds, 1),
    )


def _outage(postgres: RestartablePostgres, lambdas: LambdaInvokeStandin, after: int) -> None:
    """Crash Postgres once a third of the messages are answered, while more wait in the queue."""
    deadline = time.monotonic() + 120
    while len(lambdas.completions) < after and time.monotonic() < deadline:
        time.sleep(0.01)
    postgres.stop()
    time.sleep(0.5)
    postgres.start()


def _bodies(
    messages: int, businesses: list[meta.BusinessNumber], rng: random.Random
) -> tuple[list[bytes], list[str]]:
    """Signed bodies in sending order, a fifth of them sent twice; and each message's customer."""
    bodies, customers = [], []
    for i in range(messages):
        customer = f"4470{i:08d}"
        payload = meta.text_webhook(f"soak {i}", sender=customer, business=rng.choice(businesses))
        body = json.dumps(payload, separators=(",", ":")).encode()
        bodies.append(body)
        customers.append(customer)
        if rng.random() < 0.2:
            bodies.insert(rng.randrange(len(bodies) + 1), body)
    return bodies, customers


def run() -> list[Row]:
    from shared.database import data_dir

    report = soak(3000, data_dir() / f"soak-{uuid.uuid4().hex[:8]}")
    print(report.table())  # noqa: T201
    return [
        Row(name="soak: unique messages", figure=report.unique_messages, unit="messages"),
        Row(name="soak: replies sent", figure=report.replies_sent, unit="replies"),
        Row(
            name="soak: double replies",
            figure=report.double_replies,
            unit="",
            target="0",
            met=report.double_replies == 0,
        ),
        Row(
            name="soak: lost messages",
            figure=report.lost_messages,
            unit="",
            target="0",
            met=report.lost_messages == 0,
        ),
        Row(name="soak: dead letters", figure=report.dead_letters, unit=""),
    ]
