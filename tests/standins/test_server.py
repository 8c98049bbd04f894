"""Stand-in servers start fast, stop cleanly, and also run as their own process."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from standins.groq import GroqStandIn
from standins.server import PortUnavailable

ROOT = Path(__file__).resolve().parents[2]


def standin_threads() -> set[str]:
    """Names of running stand-in threads (other tests' session-scoped servers included)."""
    return {t.name for t in threading.enumerate() if t.name.startswith("standin-")}


def test_starts_within_half_a_second_and_leaves_no_thread() -> None:
    before = standin_threads()
    started = time.perf_counter()
    with GroqStandIn() as standin:
        startup = time.perf_counter() - started
        listing = httpx.get(standin.base_url + "/openai/v1/models", headers={"authorization": "Bearer gsk_k"})
        assert listing.status_code == 200
        assert standin_threads() - before == {f"standin-{standin.port}"}
    assert startup < 0.5
    assert standin_threads() == before


async def test_stopping_does_not_wait_for_scripted_delays() -> None:
    before = standin_threads()
    standin = GroqStandIn().start()
    standin.slow(30)
    async with httpx.AsyncClient(base_url=standin.base_url) as http:
        pending = asyncio.create_task(
            http.post(
                "/openai/v1/chat/completions",
                headers={"authorization": "Bearer gsk_k"},
                json={"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "x"}]},
            )
        )
        await asyncio.sleep(0.1)
        started = time.perf_counter()
        await asyncio.to_thread(standin.stop)
        assert time.perf_counter() - started < 0.5
        assert (await pending).status_code == 200
    assert standin_threads() == before


def test_two_servers_get_different_free_ports() -> None:
    with GroqStandIn() as first, GroqStandIn() as second:
        assert first.port != second.port
        assert first.port > 0


def test_not_running_has_no_url() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = GroqStandIn().base_url


def test_a_busy_port_is_a_clear_error() -> None:
    before = standin_threads()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(PortUnavailable, match=f"127.0.0.1:{port}"):
            GroqStandIn(port=port).start()
    assert standin_threads() == before


def run_module(module: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_runs_as_a_process_and_stops_on_sigterm() -> None:
    process = run_module("standins.groq", "--port", "0", "--api-key", "gsk_demo")
    try:
        assert process.stdout is not None
        line = json.loads(process.stdout.readline())
        assert line["message"] == "stand-in listening" and line["standin"] == "groq"
        response = httpx.post(
            line["url"] + "/openai/v1/chat/completions",
            headers={"authorization": "Bearer gsk_demo"},
            json={"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()
        process.wait()
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()


def test_graph_runs_as_a_process_with_registered_tokens() -> None:
    process = run_module("standins.graph", "--port", "0", "--token", "123=EAA-demo")
    try:
        assert process.stdout is not None
        url = json.loads(process.stdout.readline())["url"]
        body = {"messaging_product": "whatsapp", "to": "33600000000", "type": "text", "text": {"body": "x"}}
        ok = httpx.post(url + "/v24.0/123/messages", json=body, headers={"authorization": "Bearer EAA-demo"})
        wrong = httpx.post(url + "/v24.0/123/messages", json=body, headers={"authorization": "Bearer nope"})
        assert (ok.status_code, wrong.status_code) == (200, 401)
        assert [m["body"] for m in httpx.get(url + "/_standin/messages").json()["messages"]] == ["x"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()
        process.wait()
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()


def test_process_on_a_busy_port_exits_2_with_a_reason() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = run_module("standins.groq", "--port", str(port))
        stdout, _stderr = process.communicate(timeout=10)
    assert process.returncode == 2
    line = json.loads(stdout.splitlines()[0])
    assert line["level"] == "ERROR" and f"127.0.0.1:{port}" in line["error"]
