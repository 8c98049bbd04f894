"""ForwarderSettings.from_env: names, defaults, validation, and secrets kept out of repr."""

from __future__ import annotations

import pytest

from forwarder.settings import (
    DEFAULT_INVOKE_MAX_BYTES,
    DEFAULT_MAX_BODY_BYTES,
    ForwarderSettings,
    HandlerTarget,
)
from shared.env import ConfigurationError


def test_everything_is_read_from_its_variable() -> None:
    settings = ForwarderSettings.from_env(
        {
            "VERIFY_TOKEN": "vt",
            "META_APP_SECRET": "one, two,,",
            "HANDLER_FUNCTION_NAME": "handler",
            "PARKING_BUCKET": "bucket",
            "MAX_BODY_BYTES": "4000000",
            "INVOKE_MAX_BYTES": "200000",
            "HANDOFF_TIMEOUT_SECONDS": "2.5",
            "HTTP_HANDOFF_TIMEOUT_SECONDS": "10",
            "HANDOFF_CONCURRENCY": "8",
        }
    )

    assert settings.meta_app_secrets == ("one", "two")
    assert (settings.max_body_bytes, settings.invoke_max_bytes) == (4_000_000, 200_000)
    assert (settings.handoff_timeout_seconds, settings.http_handoff_timeout_seconds) == (2.5, 10.0)
    assert (settings.handoff_concurrency, settings.parking_bucket) == (8, "bucket")
    assert settings.handler_target is HandlerTarget.LAMBDA and settings.is_complete


def test_defaults_fit_meta_and_lambda() -> None:
    settings = ForwarderSettings.from_env({})

    assert 3_000_000 < DEFAULT_MAX_BODY_BYTES == settings.max_body_bytes < 4_000_000
    assert DEFAULT_INVOKE_MAX_BYTES == settings.invoke_max_bytes <= 1_048_576
    assert settings.handoff_timeout_seconds <= 5
    assert settings.handler_target is HandlerTarget.NONE and not settings.is_complete


def test_the_http_target_needs_its_shared_secret() -> None:
    url = {"HANDLER_URL": "http://127.0.0.1:8001/internal/envelope"}

    assert ForwarderSettings.from_env(url).handler_target is HandlerTarget.NONE
    with_secret = ForwarderSettings.from_env(url | {"FORWARDER_HANDLER_SECRET": "s"})
    assert with_secret.handler_target is HandlerTarget.HTTP


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MAX_BODY_BYTES": "3MB"}, "MAX_BODY_BYTES"),
        ({"HANDOFF_TIMEOUT_SECONDS": "0"}, "HANDOFF_TIMEOUT_SECONDS"),
        ({"HANDLER_FUNCTION_NAME": "f", "HANDLER_URL": "http://h/e"}, "HANDLER_URL"),
        ({"HANDLER_URL": "ftp://h/e"}, "HANDLER_URL"),
    ],
)
def test_an_unusable_value_names_its_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        ForwarderSettings.from_env(env)


def test_secrets_stay_out_of_repr() -> None:
    settings = ForwarderSettings.from_env(
        {
            "VERIFY_TOKEN": "vt-secret",
            "META_APP_SECRET": "app-secret",
            "FORWARDER_HANDLER_SECRET": "fw-secret",
        }
    )

    assert not any(secret in repr(settings) for secret in ("vt-secret", "app-secret", "fw-secret"))
