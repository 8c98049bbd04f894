"""The handler's configuration, read once from the environment into one typed object: the only
place the handler reads the environment (its master keys and Groq's base URL included)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from providers import graph_api
from providers.groq_models import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
    DEFAULT_VISION_MODEL,
    TRANSCRIPTION_UPLOAD_LIMIT_BYTES,
    VISION_IMAGE_LIMIT_BYTES,
)
from shared.env import (
    ConfigurationError,
    comma_list,
    optional_bool,
    optional_float,
    optional_int,
    optional_str,
    required_str,
)
from tenant_secrets.master_keys import Keyring

DEFAULT_GRAPH_API_BASE_URL = graph_api.DEFAULT_BASE_URL
DEFAULT_GRAPH_API_VERSION = graph_api.DEFAULT_VERSION  # providers/graph_api.py: each version's end
DEFAULT_METRICS_NAMESPACE = "WhatsAppAssistant"
DEFAULT_METRICS_SERVICE = "handler"
# WhatsApp's own cap on audio (every audio type: 16 MB), well under Groq's 25 MB upload limit.
DEFAULT_MEDIA_MAX_AUDIO_BYTES = graph_api.WHATSAPP_AUDIO_LIMIT_BYTES


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerSettings:
    database_url: str = field(repr=False)  # required: its password is in it
    db_statement_cache: bool  # off behind transaction poolers (RDS Proxy, pgbouncer, Supabase :6543)
    db_pool_max_size: int
    graph_api_base_url: str
    groq_base_url: str  # empty: the SDK's own (https://api.groq.com)
    graph_api_version: str
    meta_app_secrets: tuple[str, ...] = field(repr=False)  # when Meta calls the handler directly
    verify_token: str = field(repr=False)
    forwarder_handler_secret: str = field(repr=False)  # authenticates the forwarder's HTTP transport
    # The bearer key the old webhook sends to `/functions/v1/api-chatbot`; empty: the route is off.
    seed_route_key: str = field(repr=False)
    groq_timeout_seconds: float
    groq_max_attempts: int
    graph_timeout_seconds: float
    graph_max_attempts: int
    retry_base_delay_seconds: float
    retry_max_delay_seconds: float
    # Room kept at the end of an invocation to record the outcome after the last retry.
    outcome_reserve_seconds: float
    # Answers in place of a tenant's model that Groq refuses (retired or unknown).
    default_groq_model: str = DEFAULT_CHAT_MODEL
    # Voice notes and images: the largest file fetched (Groq's own limits bound them), and the
    # models for tenants who name none.
    media_max_audio_bytes: int = DEFAULT_MEDIA_MAX_AUDIO_BYTES
    media_max_image_bytes: int = VISION_IMAGE_LIMIT_BYTES
    default_vision_model: str = DEFAULT_VISION_MODEL
    default_transcription_model: str = DEFAULT_TRANSCRIPTION_MODEL
    media_check_sha256: bool = True  # compare downloaded media with Meta's checksum
    # Lambda's MaximumRetryAttempts for asynchronous invocations (the template sets both): while one
    # remains, a passing failure leaves the message for it instead of giving up.
    lambda_retry_attempts: int = 2
    # How long Lambda waits before each of those retries (about 1 then 2 minutes).
    lambda_retry_delays_seconds: tuple[float, ...] = (60.0, 120.0)
    # The master keys that decrypt tenant secrets (KMS_KEY_ID, LOCAL_MASTER_KEY or _FILE).
    keyring: Keyring = field(default_factory=Keyring, repr=False, compare=False)
    log_level: str = "INFO"
    # Application metrics (handler.adapters.metrics): Powertools' variable names and its rule for
    # turning them off (POWERTOOLS_METRICS_DISABLED, else POWERTOOLS_DEV), read here once.
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    metrics_service: str = DEFAULT_METRICS_SERVICE
    metrics_enabled: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HandlerSettings:
        env = os.environ if env is None else env
        return cls(
            database_url=required_str(env, "DATABASE_URL"),
            db_statement_cache=optional_bool(env, "DB_STATEMENT_CACHE", True),
            db_pool_max_size=optional_int(env, "DB_POOL_MAX_SIZE", 2, minimum=1),
            graph_api_base_url=optional_str(env, "GRAPH_API_BASE_URL", DEFAULT_GRAPH_API_BASE_URL).rstrip(
                "/"
            ),
            graph_api_version=optional_str(env, "GRAPH_API_VERSION", DEFAULT_GRAPH_API_VERSION),
            groq_base_url=optional_str(env, "GROQ_BASE_URL").rstrip("/"),
            meta_app_secrets=comma_list(env, "META_APP_SECRET"),
            verify_token=optional_str(env, "VERIFY_TOKEN"),
            forwarder_handler_secret=optional_str(env, "FORWARDER_HANDLER_SECRET"),
            seed_route_key=optional_str(env, "SEED_ROUTE_KEY"),
            groq_timeout_seconds=optional_float(env, "GROQ_TIMEOUT_SECONDS", 20.0, minimum=0.1),
            groq_max_attempts=optional_int(env, "GROQ_MAX_ATTEMPTS", 4, minimum=1),
            graph_timeout_seconds=optional_float(env, "GRAPH_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            # Graph outages last seconds: keep trying (within the deadline) rather than give up.
            graph_max_attempts=optional_int(env, "GRAPH_MAX_ATTEMPTS", 8, minimum=1),
            retry_base_delay_seconds=optional_float(env, "RETRY_BASE_DELAY_SECONDS", 0.5),
            retry_max_delay_seconds=optional_float(env, "RETRY_MAX_DELAY_SECONDS", 4.0),
            outcome_reserve_seconds=optional_float(env, "OUTCOME_RESERVE_SECONDS", 3.0),
            default_groq_model=optional_str(env, "DEFAULT_GROQ_MODEL", DEFAULT_CHAT_MODEL),
            media_max_audio_bytes=_bounded_bytes(
                env, "MEDIA_MAX_AUDIO_BYTES", DEFAULT_MEDIA_MAX_AUDIO_BYTES, TRANSCRIPTION_UPLOAD_LIMIT_BYTES
            ),
            media_max_image_bytes=_bounded_bytes(
                env, "MEDIA_MAX_IMAGE_BYTES", VISION_IMAGE_LIMIT_BYTES, VISION_IMAGE_LIMIT_BYTES
            ),
            default_vision_model=optional_str(env, "DEFAULT_VISION_MODEL", DEFAULT_VISION_MODEL),
            default_transcription_model=optional_str(
                env, "DEFAULT_TRANSCRIPTION_MODEL", DEFAULT_TRANSCRIPTION_MODEL
            ),
            media_check_sha256=optional_bool(env, "MEDIA_CHECK_SHA256", True),
            lambda_retry_attempts=optional_int(env, "LAMBDA_RETRY_ATTEMPTS", 2),
            lambda_retry_delays_seconds=_delays(env, "LAMBDA_RETRY_DELAYS_SECONDS", (60.0, 120.0)),
            keyring=Keyring.from_env(env),
            log_level=optional_str(env, "LOG_LEVEL", "INFO").upper(),
            metrics_namespace=optional_str(env, "POWERTOOLS_METRICS_NAMESPACE", DEFAULT_METRICS_NAMESPACE),
            metrics_service=optional_str(env, "POWERTOOLS_SERVICE_NAME", DEFAULT_METRICS_SERVICE),
            metrics_enabled=_metrics_enabled(env),
        )


def _metrics_enabled(env: Mapping[str, str]) -> bool:
    """Powertools' own rule: POWERTOOLS_METRICS_DISABLED when set, else off in POWERTOOLS_DEV mode
    (Powertools would then print nothing, so the handler must not believe it records)."""
    return not optional_bool(env, "POWERTOOLS_METRICS_DISABLED", optional_bool(env, "POWERTOOLS_DEV", False))


def _bounded_bytes(env: Mapping[str, str], name: str, default: int, groq_limit: int) -> int:
    """A size limit in bytes, at most what Groq takes (a larger file would only be refused there)."""
    value = optional_int(env, name, default, minimum=1)
    if value > groq_limit:
        raise ConfigurationError(f"{name} must be at most {groq_limit} (Groq refuses larger files)")
    return value


def _delays(env: Mapping[str, str], name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    """Comma-separated seconds, e.g. `60,120`."""
    values = comma_list(env, name)
    if not values:
        return default
    try:
        delays = tuple(float(value) for value in values)
    except ValueError:
        raise ConfigurationError(f"{name} must be comma-separated seconds, e.g. 60,120") from None
    if any(delay < 0 for delay in delays):
        raise ConfigurationError(f"{name} must not hold a negative delay")
    return delays
