"""Handler benchmark: own time per message, database round trips, connections, cold start.

Groq and Graph are the zero-latency stand-ins, each in its own process; Postgres is real. Own time
is an invocation's wall time minus the time spent waiting on Groq and Graph. The cold start runs
from the handler's package alone (built as `make package` builds it, for this machine), next to
importing its dependencies from the same package.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
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
from typing import Any, TextIO
from urllib.parse import urlsplit

import asyncpg
import httpx

from bench import Row
from bench._cold import measure_cold_start, package_here
from bench._keys import ensure_master_key
from bench.pgproxy import count_round_trips
from ops.database import PROJECT_ROOT, data_dir, start_embedded_postgres, with_database
from ops.migrate import migrate
from shared.envelope import Envelope
from shared.logs import JsonFormatter
from tests.factories import add_tenant
from tests.media_samples import jpeg_image, ogg_voice_note

PYTHON = sys.executable
TENANTS = 5
COLD_RUNS = 7
# A 10-second WhatsApp voice note (Opus at ~16 kbit/s) and a phone photo as WhatsApp recompresses it.
VOICE_NOTE_BYTES = 20_000
PHOTO_BYTES = 200_000


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
    voice_notes: int
    voice_own_p50_ms: float
    voice_round_trips: float
    images: int
    image_own_p50_ms: float
    image_round_trips: float


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


def _envelope(phone_number_id: str, item: dict[str, Any]) -> dict[str, Any]:
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
                            "messages": [item],
                        },
                    }
                ],
            }
        ],
    }
    return Envelope(body=json.dumps(payload), received_at=time.time()).to_dict()


def _item(customer: str, kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "from": customer,
        "id": "wamid." + uuid.uuid4().hex,
        "timestamp": str(int(time.time())),
        "type": kind,
        kind: content,
    }


class _Context:
    function_name = "bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass(frozen=True, slots=True)
class _Upload:
    """A customer's file as Graph holds it for one tenant's number: what the webhook names."""

    media_id: str
    mime_type: str
    sha256: str


def _upload(graph_url: str, data: bytes, mime_type: str, phone_number_id: str) -> _Upload:
    """`POST /_standin/media`: the Graph stand-in keeps the file for that number, as Meta does."""
    response = httpx.post(
        graph_url + "/_standin/media",
        params={"phone_number_id": phone_number_id, "mime_type": mime_type},
        content=data,
        timeout=30,
    )
    response.raise_for_status()
    stored = response.json()
    return _Upload(media_id=stored["id"], mime_type=mime_type, sha256=stored["sha256"])


def _events(numbers: list[str], count: int) -> Iterator[dict[str, Any]]:
    for i in range(count):
        customer = f"3360000{i % 50:04d}"
        yield _envelope(numbers[i % len(numbers)], _item(customer, "text", {"body": f"message {i}"}))


def _media_events(
    numbers: list[str], uploads: dict[str, _Upload], kind: str, count: int
) -> Iterator[dict[str, Any]]:
    """`count` voice notes (`kind` audio) or captioned photos (image), each tenant's own file."""
    for i in range(count):
        number = numbers[i % len(numbers)]
        upload = uploads[number]
        content: dict[str, Any] = {
            "id": upload.media_id,
            "mime_type": upload.mime_type,
            "sha256": upload.sha256,
        }
        content |= {"voice": True} if kind == "audio" else {"caption": f"in stock in size {i % 10 + 38}?"}
        yield _envelope(number, _item(f"3370000{i % 50:04d}", kind, content))


def _mixed_events(
    numbers: list[str], voice: dict[str, _Upload], image: dict[str, _Upload], texts: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """`texts` text messages with a voice note after every third and a photo after the next one:
    the three kinds interleaved, so a load change on this shared machine touches them alike."""
    voices = _media_events(numbers, voice, "audio", texts)
    images = _media_events(numbers, image, "image", texts)
    for i, event in enumerate(_events(numbers, texts)):
        yield "text", event
        if i % 3 == 0:
            yield "voice", next(voices)
        elif i % 3 == 1:
            yield "image", next(images)


def _instrument_external_time() -> list[float]:
    """Wrap the Groq and Graph adapters so that the time spent waiting on them is summed (the
    typing indicator runs beside Groq's call: not waited on in sequence, not counted)."""
    from handler.adapters.graph import WhatsAppMedia, WhatsAppSender
    from handler.adapters.groq import GroqReplies

    spent = [0.0]
    waits = (
        (GroqReplies, "complete"),  # a reply, and a photo shown to the vision model
        (GroqReplies, "transcribe"),
        (WhatsAppSender, "send_text"),
        (WhatsAppMedia, "metadata"),
        (WhatsAppMedia, "download"),
    )
    for cls, name in waits:
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


@contextmanager
def _logs_to(stream: TextIO) -> Iterator[None]:
    """The handler's log lines formatted as in Lambda (JSON), written to `stream` only."""
    handler_logger = logging.getLogger("handler")
    sink = logging.StreamHandler(stream)
    sink.setFormatter(JsonFormatter())
    handler_logger.addHandler(sink)
    handler_logger.propagate = False
    try:
        yield
    finally:
        handler_logger.removeHandler(sink)
        handler_logger.propagate = True


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
            voice = {
                n: _upload(graph_url, ogg_voice_note(VOICE_NOTE_BYTES), "audio/ogg; codecs=opus", n)
                for n in numbers
            }
            image = {n: _upload(graph_url, jpeg_image(PHOTO_BYTES), "image/jpeg", n) for n in numbers}
            round_trips, first_message_round_trips = count_round_trips(url, env, list(_events(numbers, 102)))
            voice_round_trips, _ = count_round_trips(
                url, env, list(_media_events(numbers, voice, "audio", 42))
            )
            image_round_trips, _ = count_round_trips(
                url, env, list(_media_events(numbers, image, "image", 42))
            )
            os.environ.update(env)
            from handler.app import lambda_handler

            spent = _instrument_external_time()
            # Log lines and metrics are made as in Lambda (JSON lines on stdout: their cost counts)
            # but written nowhere: thousands of them would bury the results table.
            with open(os.devnull, "w") as nowhere, contextlib.redirect_stdout(nowhere), _logs_to(nowhere):
                context = _Context()
                for warm in (next(_events(numbers, 1)), *_media_events(numbers, voice, "audio", 1)):
                    lambda_handler(warm, context)  # warm the container, and the media path
                lambda_handler(next(_media_events(numbers, image, "image", 1)), context)
                sessions_before = asyncio.run(_database_sessions(url))
                own: dict[str, list[float]] = {"text": [], "voice": [], "image": []}
                total: list[float] = []
                for kind, event in _mixed_events(numbers, voice, image, invocations):
                    spent[0] = 0.0
                    started = time.perf_counter()
                    lambda_handler(event, context)
                    elapsed = time.perf_counter() - started
                    if kind == "text":
                        total.append(elapsed * 1000)
                    own[kind].append((elapsed - spent[0]) * 1000)
            # The benchmark's own query above opened one session; the handler should open none.
            new_connections = asyncio.run(_database_sessions(url)) - sessions_before - 1
            _check_understood(url, voices=len(own["voice"]), images=len(own["image"]))
            with package_here("handler") as package:
                events = list(_events(numbers, COLD_RUNS + 1))
                cold = measure_cold_start("handler.app", events, env, runs=COLD_RUNS, package=package)
    finally:
        asyncio.run(_drop_database(server_url, url))
    quantiles = statistics.quantiles(own["text"], n=100)
    return HandlerFigures(
        invocations=invocations,
        own_p50_ms=statistics.median(own["text"]),
        own_p99_ms=quantiles[98],
        total_p50_ms=statistics.median(total),
        round_trips_per_message=round_trips,
        round_trips_first_message=first_message_round_trips,
        new_connections=new_connections,
        cold_init_ms=cold.median_ms,
        dependency_import_ms=cold.floor_ms,
        voice_notes=len(own["voice"]),
        voice_own_p50_ms=statistics.median(own["voice"]),
        voice_round_trips=voice_round_trips,
        images=len(own["image"]),
        image_own_p50_ms=statistics.median(own["image"]),
        image_round_trips=image_round_trips,
    )


_MEDIA_OUTCOMES = """
SELECT count(*) FILTER (WHERE media_outcome = 'transcribed') AS transcribed,
       count(*) FILTER (WHERE media_outcome = 'seen') AS seen,
       count(*) FILTER (WHERE media_outcome = 'fell_back') AS fell_back
FROM customer_conversations WHERE sender = 'user'
"""


def _check_understood(url: str, *, voices: int, images: int) -> None:
    """Every voice note transcribed and every photo seen (warm-up and round-trip runs included):
    a figure for the notice path instead would be no figure for media."""

    async def outcomes() -> asyncpg.Record | None:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchrow(_MEDIA_OUTCOMES)
        finally:
            await conn.close()

    row = asyncio.run(outcomes())
    if row is None or row["fell_back"] or row["transcribed"] < voices or row["seen"] < images:
        raise RuntimeError(f"media not all understood: {dict(row or {})}")


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
            name=f"handler: own time per voice note ({VOICE_NOTE_BYTES // 1000} KB, {figures.voice_notes}) vs a text message, p50",
            figure=figures.voice_own_p50_ms,
            unit="ms",
            baseline=figures.own_p50_ms,
        ),
        Row(
            name=f"handler: own time per photo with caption ({PHOTO_BYTES // 1000} KB, {figures.images}) vs a text message, p50",
            figure=figures.image_own_p50_ms,
            unit="ms",
            baseline=figures.own_p50_ms,
        ),
        Row(
            name="handler: database round trips per warm voice note vs a text message",
            figure=figures.voice_round_trips,
            unit="round trips",
            baseline=figures.round_trips_per_message,
        ),
        Row(
            name="handler: database round trips per warm photo vs a text message",
            figure=figures.image_round_trips,
            unit="round trips",
            baseline=figures.round_trips_per_message,
        ),
        Row(
            name="handler: cold start (import + first invocation) vs its dependencies' import",
            figure=figures.cold_init_ms,
            unit="ms",
            baseline=figures.dependency_import_ms,
            target="<= 1.3x baseline",
            met=figures.cold_init_ms <= 1.3 * figures.dependency_import_ms,
        ),
    ]
