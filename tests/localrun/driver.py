"""Driving `python -m localrun` as a person would, through pipes, and seeing which processes it leaves."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg

from ops.database import PROJECT_ROOT

# Variables of the developer's, CI's or the test run's environment that would point the run elsewhere
# (the test run's own master key included: `make run` makes its own, as on a fresh machine).
CLEARED = (
    "DATABASE_URL",
    "GROQ_BASE_URL",
    "DEMO_GROQ_API_KEY",
    "GRAPH_API_BASE_URL",
    "KMS_KEY_ID",
    "LOCAL_MASTER_KEY",
    "LOCAL_MASTER_KEY_FILE",
)


class LocalRun:
    """`python -m localrun` on `data_dir` with every port 0 (free ports), stdin and stdout piped."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        environment = {k: v for k, v in os.environ.items() if k not in CLEARED} | {
            "APP_DATA_DIR": str(data_dir),
            "HANDLER_PORT": "0",
            "FORWARDER_PORT": "0",
            "GROQ_STANDIN_PORT": "0",
            "GRAPH_STANDIN_PORT": "0",
        }
        self.data_dir = data_dir
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localrun"],
            cwd=PROJECT_ROOT,
            env=environment | env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.lines: list[str] = []
        self._incoming: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._incoming.put(line.rstrip("\n"))
        self._incoming.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        self._stderr.extend(self.process.stderr)

    @property
    def stdout(self) -> str:
        return "\n".join(self.lines)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def close_input(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def wait_for(self, matches: Callable[[str], bool], timeout: float = 20.0) -> list[str]:
        """Read output until a line matches; return the lines read (the matching one last)."""
        deadline = time.monotonic() + timeout
        read: list[str] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no matching line within {timeout} s; output:\n{self.stdout}\n{self.stderr}"
                )
            try:
                line = self._incoming.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the run ended first; output:\n{self.stdout}\nstderr:\n{self.stderr}")
            self.lines.append(line)
            read.append(line)
            if matches(line):
                return read

    def command(self, line: str, until: str, timeout: float = 20.0) -> list[str]:
        """Send `line`, then read until a line containing `until`."""
        self.send(line)
        return self.wait_for(lambda text: until in text, timeout)

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def finish(self, timeout: float = 20.0) -> int:
        """Wait for the exit; read the rest of the output; return the exit code."""
        code = self.process.wait(timeout)
        while (line := self._incoming.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    def close(self) -> None:
        """Kill the run if it is still going, and close the pipes."""
        if self.process.poll() is None:
            self.process.terminate()  # like Ctrl-C: the run stops what it started
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for reader in self._readers:
            reader.join(5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None and not stream.closed:
                try:
                    stream.close()
                except BrokenPipeError:
                    pass  # unflushed input for a process that has gone


# --- processes, through /proc (Linux) ------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: the fields after it are fixed.
    return text[text.rindex(")") + 2 :].split()


def is_gone(pid: int) -> bool:
    """Exited (a zombie waiting for a parent that does not reap it counts as exited)."""
    fields = _stat_fields(pid)
    return fields is None or fields[0] in ("Z", "X")


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier} - found
        found |= children
        frontier = children
    return found


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0])


async def connect_embedded(data_dir: Path) -> asyncpg.Connection:
    """A connection to the run's embedded server, found through its postmaster.pid (without joining it)."""
    lines = (data_dir / "postgres" / "postmaster.pid").read_text().splitlines()
    port, socket_dir = int(lines[3]), lines[4]
    return await asyncpg.connect(host=socket_dir, port=port, user="postgres", database="postgres")
