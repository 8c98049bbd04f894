"""Run an ASGI app under uvicorn on 127.0.0.1: in a background thread for tests, or as a process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp

from shared.logs import configure_logging

LOCALHOST = "127.0.0.1"
_START_TIMEOUT_SECONDS = 5.0
_STOP_TIMEOUT_SECONDS = 5.0

logger = logging.getLogger(__name__)


class PortUnavailable(OSError):
    """The requested port is taken (or not ours to bind)."""


def bind_socket(host: str = LOCALHOST, port: int = 0) -> socket.socket:
    """A listening TCP socket; port 0 lets the system pick a free one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _config(app: ASGIApp, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
        log_config=None,
    )


class BackgroundServer:
    """An ASGI app served by uvicorn in a daemon thread; a context manager that starts and stops it.

    Subclasses pass their app to `__init__`; `base_url` is valid once started.
    """

    def __init__(self, app: ASGIApp, *, host: str = LOCALHOST, port: int = 0) -> None:
        self.app = app
        self._host = host
        self._requested_port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, with no trailing slash."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> Self:
        """Bind, serve in a background thread, and return once requests are accepted."""
        if self._thread is not None:
            raise RuntimeError("the server is already running")
        self._stopping.clear()
        sock = bind_socket(self._host, self._requested_port)
        self._port = sock.getsockname()[1]
        server = uvicorn.Server(_config(self.app, "warning"))
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"standin-{self._port}", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the stand-in server did not start")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread; open connections are closed."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        self._port = None
        if server is None or thread is None:
            return
        self._stopping.set()  # ends scripted delays at once, so stopping never waits on them
        server.should_exit = True
        thread.join(_STOP_TIMEOUT_SECONDS)
        if thread.is_alive():
            server.force_exit = True
            thread.join(_STOP_TIMEOUT_SECONDS)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def pause(self, seconds: float) -> None:
        """Sleep inside a request handler for `seconds`, or until the server is being stopped."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._stopping.is_set() and (remaining := deadline - loop.time()) > 0:
            await asyncio.sleep(min(remaining, 0.05))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def standalone_arguments(description: str) -> argparse.ArgumentParser:
    """The command-line options every stand-in process shares (`--host`, `--port`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default=LOCALHOST, help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    return parser


def serve_forever(name: str, app: ASGIApp, host: str, port: int) -> int:
    """Serve until SIGINT or SIGTERM; log one JSON line with the URL once listening.

    Returns a process exit status: 0 after a clean stop, 2 when the port is unavailable.
    """
    configure_logging(loggers=("standins",))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    server = BackgroundServer(app, host=host, port=port)
    try:
        server.start()
    except PortUnavailable as exc:
        logger.error("stand-in cannot start", extra={"standin": name, "error": str(exc)})
        return 2
    logger.info("stand-in listening", extra={"standin": name, "url": server.base_url})
    try:
        stop.wait()
    finally:
        server.stop()
    logger.info("stand-in stopped", extra={"standin": name})
    return 0
