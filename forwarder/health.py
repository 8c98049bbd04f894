"""GET /health in the seed's shape: is the forwarder configured well enough to take webhooks?"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from forwarder.runtime import request_runtime
from forwarder.settings import HandlerTarget
from shared import SERVICE_VERSION
from shared.errors import ConfigurationError, handling_of

logger = logging.getLogger("forwarder")


def _version() -> str:
    return SERVICE_VERSION


async def health(request: Request) -> Response:
    try:
        settings = request_runtime(request).settings
    except ConfigurationError as exc:
        logger.error("Invalid configuration", extra={"error": str(exc)})
        return JSONResponse(
            {"status": "unhealthy", "version": _version(), "error": str(exc)},
            status_code=handling_of(exc).http_status,
        )
    healthy = settings.is_complete
    return JSONResponse(
        {
            "status": "healthy" if healthy else "unhealthy",
            "version": _version(),
            "config": {
                "hasVerifyToken": bool(settings.verify_token),
                "hasAppSecret": bool(settings.meta_app_secrets),
                "hasHandlerTarget": settings.handler_target is not HandlerTarget.NONE,
            },
        },
        # Unhealthy is a setting missing: the status of a configuration error.
        status_code=200 if healthy else handling_of(ConfigurationError()).http_status,
    )
