"""A small HTTP/1.1 load generator, run as its own process: keep-alive connections, pre-built requests.

    python -m bench._loadgen --port P --requests FILE (--connections N | --rate R) --seconds S

FILE is JSON: a list of {"body": str, "headers": {...}} POSTed to /webhook in turn. Closed loop
(`--connections`): each connection sends its next request as soon as it has an answer, which
measures the most a server sustains. Open loop (`--rate`): requests start on a fixed schedule
and latency counts from the scheduled time, so a slow server cannot hide its queue. Prints one
JSON object: requests, errors, statuses, elapsed, rps, p50/p90/p99/max in ms. Only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import uvloop

HOST = "127.0.0.1"


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0

    def summary(self, elapsed: float) -> dict[str, object]:
        ordered = sorted(self.latencies)

        def quantile(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3) if ordered else 0.0

        return {
            "requests": len(ordered),
            "errors": self.errors,
            "statuses": {str(code): count for code, count in sorted(self.statuses.items())},
            "elapsed": round(elapsed, 3),
            "rps": round(len(ordered) / elapsed, 1) if elapsed else 0.0,
            "p50_ms": quantile(0.50),
            "p90_ms": quantile(0.90),
            "p99_ms": quantile(0.99),
            "max_ms": quantile(1.0),
        }


def build_requests(port: int, specs: list[dict[str, object]]) -> list[bytes]:
    built = []
    for spec in specs:
        body = str(spec["body"]).encode()
        headers = {"host": f"{HOST}:{port}", "content-length": str(len(body)), **dict(spec["headers"])}  # type: ignore[call-overload]
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        built.append(f"POST /webhook HTTP/1.1\r\n{head}\r\n".encode() + body)
    return built


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: bytes) -> int:
        """Send one request and read its whole answer; return the status (reconnects when needed)."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length:
            await self.reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def closed_loop(
    port: int, requests: list[bytes], connections: int, seconds: float
) -> dict[str, object]:
    results = Results()
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        connection = Connection(port)
        index = offset
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status = await connection.exchange(requests[index % len(requests)])
            except (OSError, asyncio.IncompleteReadError, ValueError):
                results.errors += 1
                connection.close()
                await asyncio.sleep(0.01)
                continue
            results.latencies.append(time.perf_counter() - started)
            results.statuses[status] += 1
            index += connections
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(connections)))
    return results.summary(time.perf_counter() - started)


async def open_loop(
    port: int, requests: list[bytes], rate: float, seconds: float, max_connections: int
) -> dict[str, object]:
    results = Results()
    idle: list[Connection] = []
    opened = 0
    pending: set[asyncio.Task[None]] = set()
    total = int(rate * seconds)

    async def one(scheduled: float, request: bytes, connection: Connection) -> None:
        try:
            status = await connection.exchange(request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            results.errors += 1
            connection.close()
        else:
            results.latencies.append(time.perf_counter() - scheduled)
            results.statuses[status] += 1
        idle.append(connection)

    start = time.perf_counter() + 0.05
    for n in range(total):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        while not idle and opened >= max_connections:
            await asyncio.sleep(0.0005)  # every connection busy: the wait counts in the latency
        if idle:
            connection = idle.pop()
        else:
            connection = Connection(port)
            opened += 1
        task = asyncio.create_task(one(scheduled, requests[n % len(requests)], connection))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=30)
    for connection in idle:
        connection.close()
    return results.summary(time.perf_counter() - start)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=0, help="closed loop with this many connections")
    parser.add_argument("--rate", type=float, default=0.0, help="open loop at this many requests/s")
    parser.add_argument("--max-connections", type=int, default=256)
    args = parser.parse_args(argv)
    if args.seconds > 120 or args.rate > 20_000 or args.connections > 1024:
        parser.error("bounded: at most 120 s, 20,000 requests/s, 1,024 connections")
    requests = build_requests(args.port, json.loads(args.requests.read_text()))
    if args.rate > 0:
        summary = uvloop.run(open_loop(args.port, requests, args.rate, args.seconds, args.max_connections))
    else:
        summary = uvloop.run(closed_loop(args.port, requests, max(1, args.connections), args.seconds))
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
