"""The handler's composition root: from settings to the adapters and services one answer needs.

Lambda reuses a container for many invocations, one at a time. Everything here is created on
first use and kept, so a warm invocation opens no connection. Resources belong to the event loop
they were created on (an asyncpg pool cannot move between loops): a `LazyRuntime` is used from
one loop only.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg
import httpx

from handler.adapters.graph import WhatsAppMedia, WhatsAppSender
from handler.adapters.groq import GroqReplies
from handler.adapters.metrics import MetricsRecorder
from handler.adapters.postgres import ConversationStore, database_errors
from handler.adapters.retry import RetryPolicy
from handler.adapters.tenant_secrets import SecretOpener
from handler.conversation.services import Services
from handler.model import MediaPolicy
from handler.settings import HandlerSettings
from shared.logs import configure_logging

logger = logging.getLogger("handler")

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


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Release a connection without asyncpg's reset query: the handler changes no session state,
    and the reset would cost one more round trip per message."""


async def create_runtime(settings: HandlerSettings) -> Runtime:
    with database_errors():  # Postgres down at a cold start: DatabaseUnavailable, Lambda retries
        pool = await asyncpg.create_pool(
            settings.database_url,
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
    metrics = create_metrics(settings)
    services = Services(
        store=ConversationStore(pool, SecretOpener(settings.keyring, metrics=metrics)),
        groq=GroqReplies(
            http,
            timeout=settings.groq_timeout_seconds,
            base_url=settings.groq_base_url or None,
            metrics=metrics,
        ),
        whatsapp=WhatsAppSender(
            http,
            base_url=settings.graph_api_base_url,
            version=settings.graph_api_version,
            timeout=settings.graph_timeout_seconds,
            metrics=metrics,
        ),
        metrics=metrics,
        media=WhatsAppMedia(
            http,
            base_url=settings.graph_api_base_url,
            version=settings.graph_api_version,
            timeout=settings.graph_timeout_seconds,
        ),
        media_policy=MediaPolicy(
            max_audio_bytes=settings.media_max_audio_bytes,
            max_image_bytes=settings.media_max_image_bytes,
            vision_model=settings.default_vision_model,
            transcription_model=settings.default_transcription_model,
            check_sha256=settings.media_check_sha256,
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


def create_metrics(settings: HandlerSettings) -> MetricsRecorder:
    if not settings.metrics_enabled:
        # Said once per container, so that a missing metric in CloudWatch is never a mystery.
        logger.warning("application metrics are off (POWERTOOLS_METRICS_DISABLED or POWERTOOLS_DEV)")
    return MetricsRecorder(
        namespace=settings.metrics_namespace,
        service=settings.metrics_service,
        enabled=settings.metrics_enabled,
    )


class LazyRuntime:
    """The runtime, built on first use (from `settings`, or from the environment when None) and
    kept until `close`: one per Lambda container, or per local server."""

    def __init__(self, settings: HandlerSettings | None = None) -> None:
        self._settings = settings
        self._runtime: Runtime | None = None
        self._lock: asyncio.Lock | None = None

    async def get(self) -> Runtime:
        if self._runtime is not None:
            return self._runtime
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._runtime is None:
                settings = self._settings
                if settings is None:
                    settings = self._settings = HandlerSettings.from_env()
                    configure_logging(settings.log_level, loggers=("handler",))
                self._runtime = await create_runtime(settings)
        return self._runtime

    @property
    def built(self) -> Runtime | None:
        """The runtime if it was built already (nothing is built by asking)."""
        return self._runtime

    async def close(self) -> None:
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            await runtime.close()
