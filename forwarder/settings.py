"""The forwarder's configuration, read once from the environment into one typed, frozen object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from shared.env import ConfigurationError, comma_list, optional_float, optional_int, optional_str

# Meta sends payloads of up to 3 MB; anything well above that is not Meta.
DEFAULT_MAX_BODY_BYTES = 3_500_000
# Lambda accepts at most 1 MB (1,048,576 bytes) per asynchronous invoke; this counts the whole envelope.
DEFAULT_INVOKE_MAX_BYTES = 1_000_000
DEFAULT_HANDOFF_TIMEOUT_SECONDS = 3.0
# The development handler answers only after it has processed the payload.
DEFAULT_HTTP_HANDOFF_TIMEOUT_SECONDS = 30.0
DEFAULT_HANDOFF_CONCURRENCY = 32


class HandlerTarget(StrEnum):
    """Where the forwarder hands payloads to."""

    LAMBDA = "lambda"  # asynchronous invoke of HANDLER_FUNCTION_NAME
    HTTP = "http"  # authenticated POST to HANDLER_URL (development)
    NONE = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwarderSettings:
    verify_token: str = field(default="", repr=False)
    meta_app_secrets: tuple[str, ...] = field(default=(), repr=False)
    handler_function_name: str = ""
    handler_url: str = ""
    forwarder_handler_secret: str = field(default="", repr=False)
    parking_bucket: str = ""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    invoke_max_bytes: int = DEFAULT_INVOKE_MAX_BYTES
    handoff_timeout_seconds: float = DEFAULT_HANDOFF_TIMEOUT_SECONDS
    http_handoff_timeout_seconds: float = DEFAULT_HTTP_HANDOFF_TIMEOUT_SECONDS
    handoff_concurrency: int = DEFAULT_HANDOFF_CONCURRENCY  # threads (and pooled connections) for boto3
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.handler_function_name and self.handler_url:
            raise ConfigurationError("set HANDLER_FUNCTION_NAME or HANDLER_URL, not both")
        if self.handler_url and not self.handler_url.startswith(("http://", "https://")):
            raise ConfigurationError("HANDLER_URL must be an http:// or https:// URL")
        if self.max_body_bytes < 1 or self.invoke_max_bytes < 1 or self.handoff_concurrency < 1:
            raise ConfigurationError(
                "MAX_BODY_BYTES, INVOKE_MAX_BYTES and HANDOFF_CONCURRENCY must be positive"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ForwarderSettings:
        env = os.environ if env is None else env
        return cls(
            verify_token=optional_str(env, "VERIFY_TOKEN"),
            meta_app_secrets=comma_list(env, "META_APP_SECRET"),
            handler_function_name=optional_str(env, "HANDLER_FUNCTION_NAME"),
            handler_url=optional_str(env, "HANDLER_URL"),
            forwarder_handler_secret=optional_str(env, "FORWARDER_HANDLER_SECRET"),
            parking_bucket=optional_str(env, "PARKING_BUCKET"),
            max_body_bytes=optional_int(env, "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, minimum=1),
            invoke_max_bytes=optional_int(env, "INVOKE_MAX_BYTES", DEFAULT_INVOKE_MAX_BYTES, minimum=1024),
            handoff_timeout_seconds=optional_float(
                env, "HANDOFF_TIMEOUT_SECONDS", DEFAULT_HANDOFF_TIMEOUT_SECONDS, minimum=0.01
            ),
            http_handoff_timeout_seconds=optional_float(
                env, "HTTP_HANDOFF_TIMEOUT_SECONDS", DEFAULT_HTTP_HANDOFF_TIMEOUT_SECONDS, minimum=0.01
            ),
            handoff_concurrency=optional_int(
                env, "HANDOFF_CONCURRENCY", DEFAULT_HANDOFF_CONCURRENCY, minimum=1
            ),
            log_level=optional_str(env, "LOG_LEVEL", "INFO"),
        )

    @property
    def handler_target(self) -> HandlerTarget:
        if self.handler_function_name:
            return HandlerTarget.LAMBDA
        if self.handler_url and self.forwarder_handler_secret:
            return HandlerTarget.HTTP
        return HandlerTarget.NONE

    @property
    def is_complete(self) -> bool:
        """Can the forwarder verify, check and hand off a webhook with this configuration?"""
        return (
            bool(self.verify_token and self.meta_app_secrets)
            and self.handler_target is not HandlerTarget.NONE
        )
