"""The container's long-lived resources: one event loop, one Postgres pool, one HTTP client.

Lambda reuses a container for many invocations, one at a time. Everything here is created on
first use and kept, so a warm invocation opens no connection. Resources belong to the event loop
they were created on (an asyncpg pool cannot move between loops), hence one set per loop.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass

import asyncpg
import httpx

from handler.adapters.graph import WhatsAppSender
from handler.adapters.groq import GroqReplies
from handler.adapters.postgres import ConversationStore
from handler.adapters.retry import RetryPolicy
from handler.adapters.tenant_secrets import SecretOpener
from handler.conversation.services import Services
from handler.settings import HandlerSettings
from shared.database import resolve_database_url
from shared.master_keys import Keyring

DB_CONNECT_TIMEOUT_SECONDS = 5.0
DB_COMMAND_TIMEOUT_SECONDS = 10.0
APPLICATION_NAME = "whatsapp-handler"  # how the handler's connections show in pg_stat_activity


@dataclass(frozen=True, slots=True, kw_only=True)
class Runtime:
    settings: HandlerSettings
    pool: asyncpg.Pool
    http: httpx.AsyncClient
    services: Services

    async def close(self) -> None:
        await self.http.aclose()
        await self.pool.close()


_runtimes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Runtime] = weakref.WeakKeyDictionary()
_creating: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
# Lambda calls the handler from one thread for the container's whole life; keeping the loop per
# thread also lets a test run two "containers" side by side in one process.
_thread_state = threading.local()


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Release a connection without asyncpg's reset query: the handler changes no session state,
    and the reset would cost one more round trip per message."""


async def get_runtime() -> Runtime:
    loop = asyncio.get_running_loop()
    runtime = _runtimes.get(loop)
    if runtime is not None:
        return runtime
    lock = _creating.setdefault(loop, asyncio.Lock())
    async with lock:
        runtime = _runtimes.get(loop)
        if runtime is None:
            runtime = await create_runtime(HandlerSettings.from_env())
            _runtimes[loop] = runtime
    return runtime


async def create_runtime(settings: HandlerSettings) -> Runtime:
    database_url = settings.database_url or await asyncio.to_thread(resolve_database_url)
    pool = await asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=settings.db_pool_max_size,
        # Transaction poolers (RDS Proxy, pgbouncer, Supabase :6543) cannot keep prepared statements.
        statement_cache_size=100 if settings.db_statement_cache else 0,
        timeout=DB_CONNECT_TIMEOUT_SECONDS,
        command_timeout=DB_COMMAND_TIMEOUT_SECONDS,
        reset=_keep_session,
        server_settings={"application_name": APPLICATION_NAME},
    )
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.graph_timeout_seconds, connect=3.0),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
    )
    services = Services(
        store=ConversationStore(pool, SecretOpener(Keyring.from_env())),
        groq=GroqReplies(http, timeout=settings.groq_timeout_seconds),
        whatsapp=WhatsAppSender(
            http,
            base_url=settings.graph_api_base_url,
            version=settings.graph_api_version,
            timeout=settings.graph_timeout_seconds,
        ),
        groq_policy=RetryPolicy(
            max_attempts=settings.groq_max_attempts,
            base_delay=settings.retry_base_delay_seconds,
            max_delay=settings.retry_max_delay_seconds,
        ),
        graph_policy=RetryPolicy(
            max_attempts=settings.graph_max_attempts,
            base_delay=settings.retry_base_delay_seconds,
            max_delay=settings.retry_max_delay_seconds,
        ),
        default_groq_model=settings.default_groq_model,
        retry_attempts=settings.lambda_retry_attempts,
        retry_delays=settings.lambda_retry_delays_seconds,
    )
    return Runtime(settings=settings, pool=pool, http=http, services=services)


async def close_runtime() -> None:
    """Close the running loop's resources (local servers on shutdown; tests between setups)."""
    runtime = _runtimes.pop(asyncio.get_running_loop(), None)
    if runtime is not None:
        await runtime.close()


def container_loop() -> asyncio.AbstractEventLoop:
    """The loop every Lambda invocation of this container runs on, made current for this thread."""
    loop: asyncio.AbstractEventLoop | None = getattr(_thread_state, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _thread_state.loop = loop
    asyncio.set_event_loop(loop)
    return loop


def reset_container() -> None:
    """Forget this thread's container: close its resources and loop (tests use this)."""
    loop: asyncio.AbstractEventLoop | None = getattr(_thread_state, "loop", None)
    if loop is None or loop.is_closed():
        return
    loop.run_until_complete(close_runtime())
    loop.close()
    _thread_state.loop = None
