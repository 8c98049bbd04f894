"""Handler benchmark: own time per message, database round trips, connections, cold start.

Groq and Graph are the zero-latency stand-ins, each in its own process; Postgres is real. Own time
is an invocation's wall time minus the time spent waiting on Groq and Graph. The cold start runs
from the handler's package alone (built as `make package` builds it, for this machine), next to
importing its dependencies from the same package.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bench import Row
from bench._cold import measure_cold_start, package_here
from bench._keys import ensure_master_key
from bench.pgproxy import count_round_trips
from ops.database import PROJECT_ROOT, data_dir, start_embedded_postgres, with_database
from ops.migrate import migrate
from shared.envelope import Envelope
from tests.factories import add_tenant

PYTHON = sys.executable
TENANTS = 5
COLD_RUNS = 7


@dataclass(frozen=True, slots=True)
class HandlerFigures:
    invocations: int
    own_p50_ms: float
    own_p99_ms: float
    total_p50_ms: float
    round_trips_per_message: float
    round_trips_first_message: int
    new_connections: int
    cold_init_ms: float
    dependency_import_ms: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _standin(module: str) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [PYTHON, "-m", module, "--port", str(port)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _prepare_database(server_url: str) -> tuple[str, list[str]]:
    name = "bench_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = with_database(server_url, name)
    await migrate(url)
    conn = await asyncpg.connect(url)
    try:
        tenants = [await add_tenant(conn, n) for n in range(TENANTS)]
    finally:
        await conn.close()
    return url, [tenant.phone_number_id for tenant in tenants]


async def _drop_database(server_url: str, url: str) -> None:
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    await admin.close()


def _envelope(phone_number_id: str, customer: str, text: str) -> dict[str, Any]:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "waba",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "1555", "phone_number_id": phone_number_id},
                            "messages": [
                                {
                                    "from": customer,
                                    "id": "wamid." + uuid.uuid4().hex,
                                    "timestamp": str(int(time.time())),
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return Envelope(body=json.dumps(payload), received_at=time.time()).to_dict()


class _Context:
    function_name = "bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _events(numbers: list[str], count: int) -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield _envelope(numbers[i % len(numbers)], f"3360000{i % 50:04d}", f"message {i}")


def _instrument_external_time() -> list[float]:
    """Wrap the Groq and Graph adapters so that the time spent waiting on them is summed."""
    from handler.adapters.graph import WhatsAppSender
    from handler.adapters.groq import GroqReplies

    spent = [0.0]
    for cls, name in ((GroqReplies, "complete"), (WhatsAppSender, "send_text")):
        original = getattr(cls, name)

        async def timed(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await __original(self, *args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - started

        setattr(cls, name, timed)
    return spent


async def _database_sessions(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        )
    finally:
        await conn.close()


def measure(invocations: int = 1000) -> HandlerFigures:
    ensure_master_key()
    server_url = os.environ.get("DATABASE_URL") or start_embedded_postgres(data_dir() / "bench-postgres")
    url, numbers = asyncio.run(_prepare_database(server_url))
    try:
        with _standin("standins.groq") as groq_url, _standin("standins.graph") as graph_url:
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "GROQ_BASE_URL": groq_url,
                "GRAPH_API_BASE_URL": graph_url,
            }
            round_trips, first_message_round_trips = count_round_trips(url, env, list(_events(numbers, 102)))
            os.environ.update(env)
            from handler.app import lambda_handler

            spent = _instrument_external_time()
            context = _Context()
            lambda_handler(next(_events(numbers, 1)), context)  # warm the container
            sessions_before = asyncio.run(_database_sessions(url))
            own, total = [], []
            for event in _events(numbers, invocations):
                spent[0] = 0.0
                started = time.perf_counter()
                lambda_handler(event, context)
                elapsed = time.perf_counter() - started
                total.append(elapsed * 1000)
                own.append((elapsed - spent[0]) * 1000)
            # The benchmark's own query above opened one session; the handler should open none.
            new_connections = asyncio.run(_database_sessions(url)) - sessions_before - 1
            with package_here("handler") as package:
                events = list(_events(numbers, COLD_RUNS + 1))
                cold = measure_cold_start("handler.app", events, env, runs=COLD_RUNS, package=package)
    finally:
        asyncio.run(_drop_database(server_url, url))
    quantiles = statistics.quantiles(own, n=100)
    return HandlerFigures(
        invocations=invocations,
        own_p50_ms=statistics.median(own),
        own_p99_ms=quantiles[98],
        total_p50_ms=statistics.median(total),
        round_trips_per_message=round_trips,
        round_trips_first_message=first_message_round_trips,
        new_connections=new_connections,
        cold_init_ms=cold.median_ms,
        dependency_import_ms=cold.floor_ms,
    )


def run() -> list[Row]:
    figures = measure()
    return [
        Row(
            name="handler: own time per message, p50",
            figure=figures.own_p50_ms,
            unit="ms",
            target="<= 5 ms",
            met=figures.own_p50_ms <= 5,
        ),
        Row(name="handler: own time per message, p99", figure=figures.own_p99_ms, unit="ms"),
        Row(
            name="handler: wall time per message with loopback Groq and Graph, p50",
            figure=figures.total_p50_ms,
            unit="ms",
        ),
        Row(
            name="handler: database round trips per warm message",
            figure=figures.round_trips_per_message,
            unit="round trips",
            target="<= 3 (the seed: 6 queries)",
            met=figures.round_trips_per_message <= 3,
        ),
        Row(
            name="handler: round trips of a cold container's first message (connect included)",
            figure=figures.round_trips_first_message,
            unit="round trips",
        ),
        Row(
            name=f"handler: new Postgres connections over {figures.invocations} warm invocations",
            figure=figures.new_connections,
            unit="connections",
            target="0 after the first",
            met=figures.new_connections == 0,
        ),
        Row(
            name="handler: cold start (import + first message) vs importing its dependencies",
            figure=figures.cold_init_ms,
            unit="ms",
            baseline=figures.dependency_import_ms,
            target="<= 1.3x baseline",
            met=figures.cold_init_ms <= 1.3 * figures.dependency_import_ms,
        ),
    ]
