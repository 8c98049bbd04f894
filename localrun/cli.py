"""`python -m localrun` (`make run`): start the whole system, chat with it, and stop all of it."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from admin.errors import AdminError
from localrun.chat import chat
from localrun.console import InputLines, Output
from localrun.errors import LocalRunError
from localrun.settings import LocalSettings
from localrun.system import run_system
from shared.env import ConfigurationError
from shared.logs import JsonFormatter

logger = logging.getLogger("localrun")

DESCRIPTION = """\
Run the whole system on this machine (Postgres, handler, forwarder, stand-ins for Meta's Graph API
and for Groq) and chat with it as a WhatsApp customer. Lines come from standard input: typed at a
prompt in a terminal, or piped (one message or command per line)."""

EPILOG = """\
environment: HANDLER_PORT (8001), FORWARDER_PORT (8002), GROQ_STANDIN_PORT (8003),
GRAPH_STANDIN_PORT (8004) — 0 picks a free port; APP_DATA_DIR (.data); DATABASE_URL (unset: the
embedded Postgres); DEMO_GROQ_API_KEY (real Groq for the demo tenants); GROQ_BASE_URL."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localrun",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")  # a reply in any language, on any terminal
    out = Output(sys.stdout)
    try:
        settings = LocalSettings.from_env()
    except ConfigurationError as exc:
        return _fail(str(exc))
    _log_to_file(settings.run_dir / "localrun.log")
    _stop_on(signal.SIGTERM, signal.SIGHUP)
    interactive = os.isatty(sys.stdin.fileno())
    try:
        with run_system(settings, out) as system:
            logger.info(
                "local run started",
                extra={"handler_pid": system.handler.pid, "forwarder_pid": system.forwarder.pid},
            )
            try:
                asyncio.run(chat(system, out, InputLines(sys.stdin.fileno()), interactive=interactive))
            except KeyboardInterrupt:
                out.line()
            out.line("Stopping…")
    except KeyboardInterrupt:
        out.line("\nInterrupted while starting.")
    except (LocalRunError, AdminError, ConfigurationError) as exc:
        return _fail(str(exc), getattr(exc, "exit_code", 2))
    logger.info("local run stopped")
    out.line("Stopped.")
    return 0


def _fail(message: str, code: int = 2) -> int:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    return code


def _log_to_file(path: Path) -> None:
    """This process's own log lines (and the embedded Postgres' warnings) go to a file, not into the chat."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    logger.setLevel(logging.INFO)


def _stop_on(*signals: signal.Signals) -> None:
    """SIGTERM and SIGHUP end the run like Ctrl-C: every process it started is stopped."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for signum in signals:
        signal.signal(signum, interrupt)
