"""The handler and the forwarder as uvicorn child processes, on sockets `make run` claimed for them.

Each child (`localrun.serve`) gets its listening socket as an inherited file descriptor, so a busy
port is found before anything starts and port 0 works; it stops when its stdin pipe from us closes.
Its output goes to a log file; each line is also handed to `on_line` (the handler's lines carry the
stage times the chat shows).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

_STOP_TIMEOUT_SECONDS = 5.0
_TAIL_LINES = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildSpec:
    name: str  # "handler", "forwarder"
    app: str  # uvicorn's import string, e.g. "handler.app:app"
    env: Mapping[str, str] = field(repr=False)  # carries secrets
    log_path: Path


class ChildServer:
    """One uvicorn process serving `spec.app` on `sock`; a context manager that stops it."""

    def __init__(
        self, spec: ChildSpec, sock: socket.socket, on_line: Callable[[str], None] | None = None
    ) -> None:
        self.spec = spec
        self.port: int = sock.getsockname()[1]
        self._sock: socket.socket | None = sock
        self._on_line = on_line
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._tail: deque[str] = deque(maxlen=_TAIL_LINES)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError(f"the {self.spec.name} is not running")
        return self._process.pid

    def exit_code(self) -> int | None:
        """None while the process runs."""
        return None if self._process is None else self._process.poll()

    def tail(self) -> list[str]:
        """The last lines the process wrote."""
        return list(self._tail)

    def start(self) -> Self:
        sock = self._sock
        if sock is None:
            raise RuntimeError(f"the {self.spec.name} was started before")
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        fd = sock.fileno()
        command = [sys.executable, "-m", "localrun.serve", self.spec.app, "--fd", str(fd)]
        try:
            # Own session: a Ctrl-C in the terminal reaches `make run`, which stops the children in order.
            self._process = subprocess.Popen(
                command,
                env=dict(self.spec.env),
                stdin=subprocess.PIPE,  # the child stops when this pipe closes, even if we are killed
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(fd,),
                start_new_session=True,
            )
        finally:
            # The child holds its own copy; ours would keep the port open after the child exits.
            sock.close()
            self._sock = None
        assert self._process.stdout is not None
        self._reader = threading.Thread(
            target=self._copy_output,
            args=(self._process.stdout,),
            name=f"{self.spec.name}-output",
            daemon=True,
        )
        self._reader.start()
        return self

    def _copy_output(self, stream: IO[bytes]) -> None:
        with self.spec.log_path.open("w", encoding="utf-8") as log:
            for raw in stream:
                line = raw.decode("utf-8", errors="replace")
                log.write(line)
                log.flush()
                self._tail.append(line.rstrip("\n"))
                if self._on_line is not None:
                    self._on_line(line)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within a few seconds; waits for it."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._reader is not None:
            self._reader.join(_STOP_TIMEOUT_SECONDS)
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
