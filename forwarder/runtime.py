"""The forwarder's settings and clients, built once on first use (app start-up or first request).

Nothing is read or connected at import time: `forwarder.app:app` reads the environment when it
starts, while tests build an app from explicit settings and transports.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from functools import partial

from starlette.requests import Request

from forwarder.handoff import Handoff
from forwarder.offload import Offloader
from forwarder.parking import S3Parking, s3_client
from forwarder.settings import ForwarderSettings, HandlerTarget
from forwarder.transport import LambdaTransport, Transport, lambda_client
from shared.env import ConfigurationError
from shared.logs import configure_logging


@dataclass(frozen=True, slots=True, kw_only=True)
class Runtime:
    settings: ForwarderSettings
    handoff: Handoff | None  # None: no handler target configured
    invoke_max_bytes: int  # the biggest envelope one hand-off may carry
    offloader: Offloader | None

    async def aclose(self) -> None:
        if self.handoff is not None:
            await self.handoff.aclose()
        if self.offloader is not None:
            self.offloader.close()


def build_runtime(
    settings: ForwarderSettings, *, transport: Transport | None = None, parking: S3Parking | None = None
) -> Runtime:
    """Clients for `settings`; an explicit `transport` or `parking` replaces the one settings name."""
    target = settings.handler_target
    needs_threads = (transport is None and target is HandlerTarget.LAMBDA) or (
        parking is None and bool(settings.parking_bucket)
    )
    offloader = Offloader(settings.handoff_concurrency) if needs_threads else None
    if transport is None:
        transport = _transport_for(settings, offloader)
    if parking is None and settings.parking_bucket and offloader is not None:
        make_client = partial(
            s3_client, timeout=settings.handoff_timeout_seconds, pool_size=settings.handoff_concurrency
        )
        parking = S3Parking(settings.parking_bucket, make_client, offloader, settings.handoff_timeout_seconds)
    handoff = Handoff(transport, parking) if transport is not None else None
    # Only a Lambda invoke has a size limit; the development handler takes any body we accept.
    limited = transport is not None and transport.name == LambdaTransport.name
    return Runtime(
        settings=settings,
        handoff=handoff,
        invoke_max_bytes=settings.invoke_max_bytes if limited else sys.maxsize,
        offloader=offloader,
    )


def _transport_for(settings: ForwarderSettings, offloader: Offloader | None) -> Transport | None:
    match settings.handler_target:
        case HandlerTarget.LAMBDA:
            assert offloader is not None
            client = lambda_client(
                timeout=settings.handoff_timeout_seconds, pool_size=settings.handoff_concurrency
            )
            return LambdaTransport(
                settings.handler_function_name, client, offloader, settings.handoff_timeout_seconds
            )
        case HandlerTarget.HTTP:
            try:
                from forwarder.http_transport import http_transport  # development only: needs httpx
            except ImportError as exc:
                raise ConfigurationError(
                    f"HANDLER_URL is the development hand-off and needs {exc.name}; a Lambda hands off"
                    " with HANDLER_FUNCTION_NAME"
                ) from None
            return http_transport(
                settings.handler_url,
                settings.forwarder_handler_secret,
                timeout=settings.http_handoff_timeout_seconds,
                concurrency=settings.handoff_concurrency,
            )
        case HandlerTarget.NONE:
            return None


class LazyRuntime:
    """Builds the runtime once, on first use, from explicit settings or from the environment."""

    def __init__(
        self,
        settings: ForwarderSettings | None = None,
        *,
        transport: Transport | None = None,
        parking: S3Parking | None = None,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._parking = parking
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()

    def get(self) -> Runtime:
        runtime = self._runtime
        if runtime is not None:
            return runtime
        with self._lock:
            if self._runtime is None:
                settings = self._settings
                if settings is None:
                    settings = ForwarderSettings.from_env()
                    configure_logging(settings.log_level, loggers=("forwarder",))
                self._runtime = build_runtime(settings, transport=self._transport, parking=self._parking)
            return self._runtime

    async def aclose(self) -> None:
        with self._lock:
            runtime, self._runtime = self._runtime, None
        if runtime is not None:
            await runtime.aclose()


def request_runtime(request: Request) -> Runtime:
    """The runtime of the app serving `request` (built on first use)."""
    lazy: LazyRuntime = request.app.state.runtime
    return lazy.get()
