"""Start the whole system on this machine, in order, and stop every part of it on the way out.

Postgres (embedded or DATABASE_URL), migrations and demo tenants, the Groq stand-in (unless Groq is
real), the Graph stand-in, then the handler and the forwarder as uvicorn processes wired together
with the local secrets. `run_system` is a context manager: leaving it stops what it started.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

from localrun import ports
from localrun.children import ChildServer, ChildSpec
from localrun.console import Output
from localrun.conversations import token_source
from localrun.database import database_url, prepare, release_embedded_postgres
from localrun.demo import WrittenKeys
from localrun.errors import PortBusy, ServerFailed
from localrun.handler_events import HandlerEvents
from localrun.local_secrets import LocalSecrets, load_or_create
from localrun.master_key import use_local_master_key
from localrun.settings import GroqTarget, LocalSettings, PortSetting, quiet_metrics
from standins.graph import GraphStandIn
from standins.groq import GroqStandIn
from standins.server import PortUnavailable

StandIn = TypeVar("StandIn", GraphStandIn, GroqStandIn)

_HEALTH_POLL_SECONDS = 0.05
# Variables that would send the children somewhere else than this run's parts.
_NOT_INHERITED = (
    "DATABASE_URL",
    "GROQ_BASE_URL",
    "GRAPH_API_BASE_URL",
    "HANDLER_URL",
    "HANDLER_FUNCTION_NAME",
    "AWS_ENDPOINT_URL_LAMBDA",
    "PARKING_BUCKET",
    "VERIFY_TOKEN",
    "META_APP_SECRET",
    "FORWARDER_HANDLER_SECRET",
    "DEMO_GROQ_API_KEY",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningSystem:
    settings: LocalSettings
    secrets: LocalSecrets = field(repr=False)
    database_url: str = field(repr=False)
    graph: GraphStandIn
    groq: GroqStandIn | None
    handler: ChildServer
    forwarder: ChildServer
    events: HandlerEvents

    @property
    def webhook_url(self) -> str:
        return self.forwarder.base_url + "/webhook"

    def stopped_server(self) -> ChildServer | None:
        """The handler or forwarder if it has exited on its own."""
        return next((c for c in (self.handler, self.forwarder) if c.exit_code() is not None), None)


@contextmanager
def run_system(settings: LocalSettings, out: Output) -> Iterator[RunningSystem]:
    """Everything started and healthy; on exit (normal, error or Ctrl-C) everything stopped again."""
    with ExitStack() as stack:
        handler_socket = stack.enter_context(ports.claim(settings.handler))
        forwarder_socket = stack.enter_context(ports.claim(settings.forwarder))
        ports.check_free(settings.graph_standin)
        if settings.groq_target is GroqTarget.STANDIN:
            ports.check_free(settings.groq_standin)
        local_secrets = load_or_create(settings.secrets_path)

        out.line(f"Starting the local system (data in {_shown(settings.data_dir)})")
        key_file = use_local_master_key(settings.data_dir)  # before anything reads or writes a secret
        if key_file is not None:
            out.line(f"  secrets     tenant secrets encrypted at rest with {_shown(key_file)}")
        url = _start_database(settings, out)
        if not settings.database_url:
            stack.callback(_stop_database, settings, out)
        prepared = asyncio.run(
            prepare(
                url,
                local_secrets,
                settings.demo_groq_api_key,
                written_keys=WrittenKeys(settings.data_dir / "demo-groq-keys"),
                configured=bool(settings.database_url),
            )
        )
        created = prepared.demo_tenants_created
        out.line(
            "  migrations  "
            + (
                f"applied {', '.join(prepared.migrations_applied)}"
                if prepared.migrations_applied
                else "up to date"
            )
        )
        out.line(
            "  tenants     " + (f"created {', '.join(created)}" if created else "demo tenants already there")
        )

        groq = _start_groq(settings, stack, out)
        # Strict as Meta: a number's token is looked up when a send names it (see token_source).
        graph = _standin(
            GraphStandIn(tokens={}, token_source=token_source(url), port=settings.graph_standin.port),
            settings.graph_standin,
            stack,
        )
        out.line(f"  Graph       WhatsApp messages stand-in on {graph.base_url}")

        events = HandlerEvents()
        handler_env = _handler_env(settings, local_secrets, url, graph, groq)
        handler = stack.enter_context(
            ChildServer(
                ChildSpec(
                    name="handler",
                    app="handler.app:app",
                    env=handler_env,
                    log_path=settings.run_dir / "handler.log",
                ),
                handler_socket,
                on_line=events.feed,
            )
        )
        forwarder = stack.enter_context(
            ChildServer(
                ChildSpec(
                    name="forwarder",
                    app="forwarder.app:app",
                    env=_forwarder_env(local_secrets, handler.base_url),
                    log_path=settings.run_dir / "forwarder.log",
                ),
                forwarder_socket,
            )
        )
        # Unwound first: a second Ctrl-C must not cut the shutdown short.
        stack.callback(_ignore_interrupts)
        _wait_healthy((handler, forwarder), settings.startup_timeout_seconds)
        out.line(f"  handler     {handler.base_url} (pid {handler.pid}, log {_shown(handler.spec.log_path)})")
        out.line(
            f"  forwarder   {forwarder.base_url}/webhook (pid {forwarder.pid},"
            f" log {_shown(forwarder.spec.log_path)})"
        )
        yield RunningSystem(
            settings=settings,
            secrets=local_secrets,
            database_url=url,
            graph=graph,
            groq=groq,
            handler=handler,
            forwarder=forwarder,
            events=events,
        )


def _start_database(settings: LocalSettings, out: Output) -> str:
    started = time.perf_counter()
    url = database_url(settings)
    if settings.database_url:
        out.line("  Postgres    DATABASE_URL")
    else:
        elapsed = time.perf_counter() - started
        out.line(f"  Postgres    embedded, {_shown(settings.postgres_dir)} (ready in {elapsed:.1f} s)")
    return url


def _stop_database(settings: LocalSettings, out: Output) -> None:
    if release_embedded_postgres(settings):
        out.line("  Postgres    stopped")
    else:
        out.line(
            "  Postgres    still running: another process (e.g. wa-admin) uses it and stops it when done"
        )


def _start_groq(settings: LocalSettings, stack: ExitStack, out: Output) -> GroqStandIn | None:
    match settings.groq_target:
        case GroqTarget.STANDIN:
            groq = _standin(GroqStandIn(port=settings.groq_standin.port), settings.groq_standin, stack)
            out.line(f"  Groq        offline stand-in on {groq.base_url} (DEMO_GROQ_API_KEY=… for real Groq)")
            return groq
        case GroqTarget.REAL:
            out.line("  Groq        real Groq with DEMO_GROQ_API_KEY for the demo tenants")
        case GroqTarget.CUSTOM:
            out.line(f"  Groq        GROQ_BASE_URL from the environment: {settings.groq_base_url}")
    return None


def _standin(server: StandIn, setting: PortSetting, stack: ExitStack) -> StandIn:
    """`server` started (and stopped with `stack`), with a busy port reported like the others."""
    try:
        server.start()
    except PortUnavailable:
        raise PortBusy(setting.port, setting.variable) from None
    stack.callback(server.stop)
    return server


def _inherited() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    env["PYTHONUNBUFFERED"] = "1"  # log lines must reach the chat as they are written
    return env


def _handler_env(
    settings: LocalSettings,
    local_secrets: LocalSecrets,
    url: str,
    graph: GraphStandIn,
    groq: GroqStandIn | None,
) -> Mapping[str, str]:
    env = _inherited() | {
        "DATABASE_URL": url,
        "GRAPH_API_BASE_URL": graph.base_url,
        "VERIFY_TOKEN": local_secrets.verify_token,
        "META_APP_SECRET": local_secrets.meta_app_secret,
        "FORWARDER_HANDLER_SECRET": local_secrets.forwarder_handler_secret,
        **quiet_metrics(os.environ),
    }
    if groq is not None:
        env["GROQ_BASE_URL"] = groq.base_url  # read by the groq SDK itself
    elif settings.groq_target is GroqTarget.CUSTOM:
        env["GROQ_BASE_URL"] = settings.groq_base_url
    return env


def _forwarder_env(local_secrets: LocalSecrets, handler_url: str) -> Mapping[str, str]:
    return _inherited() | {
        "VERIFY_TOKEN": local_secrets.verify_token,
        "META_APP_SECRET": local_secrets.meta_app_secret,
        "HANDLER_URL": handler_url + "/internal/envelope",
        "FORWARDER_HANDLER_SECRET": local_secrets.forwarder_handler_secret,
    }


def _wait_healthy(children: tuple[ChildServer, ...], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        for child in children:
            while not _healthy(client, child):
                code = child.exit_code()
                if code is not None:
                    last = next((line for line in reversed(child.tail()) if line.strip()), "")
                    raise ServerFailed(
                        f"the {child.spec.name} exited with code {code} while starting"
                        + (f" ({last.strip()[:200]})" if last else "")
                        + f"; see {child.spec.log_path}"
                    )
                if time.monotonic() > deadline:
                    raise ServerFailed(
                        f"the {child.spec.name} did not become healthy within {timeout:g} s;"
                        f" see {child.spec.log_path}"
                    )
                time.sleep(_HEALTH_POLL_SECONDS)


def _healthy(client: httpx.Client, child: ChildServer) -> bool:
    try:
        return client.get(child.base_url + "/health").status_code == 200
    except httpx.HTTPError:
        return False


def _ignore_interrupts() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is below it (shorter lines)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
