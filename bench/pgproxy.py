"""A TCP proxy in front of Postgres that counts connections and round trips, for benchmarks.

A round trip is counted each time the client starts sending after the server has answered: that is
exactly one wait for the network, however many protocol messages the burst carries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ops.database import PROJECT_ROOT


@dataclass
class Counts:
    connections: int = 0
    round_trips: int = 0


class CountingProxy:
    """Listens on 127.0.0.1 and forwards to a Postgres unix socket or TCP address."""

    def __init__(
        self, *, unix_socket: str | None = None, host: str | None = None, port: int | None = None
    ) -> None:
        self._unix_socket, self._host, self._port = unix_socket, host, port
        self.counts = Counts()
        self._lock = threading.Lock()
        self._server: asyncio.Server | None = None
        self.listen_port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.listen_port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._unix_socket is not None:
            return await asyncio.open_unix_connection(self._unix_socket)
        assert self._host is not None and self._port is not None
        return await asyncio.open_connection(self._host, self._port)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self.counts.connections += 1
        upstream_reader, upstream_writer = await self._open_upstream()
        last = {"direction": "server"}

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str) -> None:
            try:
                while data := await reader.read(65536):
                    if direction == "client" and last["direction"] != "client":
                        with self._lock:
                            self.counts.round_trips += 1
                    last["direction"] = direction
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    writer.close()

        await asyncio.gather(
            pump(client_reader, upstream_writer, "client"), pump(upstream_reader, client_writer, "server")
        )


_RUN_EVENTS = "import json, sys\nfrom handler.app import lambda_handler\nfor event in json.load(sys.stdin):\n    lambda_handler(event, None)\n"


def count_round_trips(url: str, env: dict[str, str], events: list[dict[str, Any]]) -> tuple[float, int]:
    """Round trips per warm message of the handler, counted by a proxy in front of Postgres.

    Two fresh processes: one handles `events[0]`, the other the rest; the difference divided by
    their number less one is what a warm message costs (connecting and first-time statement
    preparation cancel out). Also returns the first message's count, connection set-up included.
    """
    host = parse_qs(urlsplit(url).query).get("host", [""])[0]
    parts = urlsplit(url)
    if host:
        proxy = CountingProxy(unix_socket=str(Path(host) / f".s.PGSQL.{parts.port or 5432}"))
    else:
        proxy = CountingProxy(host=parts.hostname or "127.0.0.1", port=parts.port or 5432)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(proxy.start(), loop).result()
    child_env = {
        **env,
        "DATABASE_URL": f"postgresql://{parts.username or 'postgres'}@127.0.0.1:{proxy.listen_port}{parts.path}",
    }

    def round_trips_for(batch: list[dict[str, Any]]) -> int:
        proxy.counts.round_trips = 0
        subprocess.run(
            [sys.executable, "-c", _RUN_EVENTS],
            input=json.dumps(batch),
            cwd=PROJECT_ROOT,
            env=child_env,
            capture_output=True,
            text=True,
            check=True,
        )
        return proxy.counts.round_trips

    try:
        one = round_trips_for(events[:1])
        many = round_trips_for(events[1:])
        return (many - one) / (len(events) - 2), one
    finally:
        asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
