"""Logging set-up: our loggers at the configured level, and no client library quoting requests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from shared.logs import configure_logging


@pytest.fixture
def debug_everywhere() -> Iterator[None]:
    """Root at DEBUG, as Lambda's log level DEBUG or a developer's basicConfig sets it."""
    root = logging.getLogger()
    names = ("groq", "botocore", "our-app")
    before = root.level, {name: logging.getLogger(name).level for name in names}
    root.setLevel(logging.DEBUG)
    for name in names:
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield
    root.setLevel(before[0])
    for name, level in before[1].items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("debug_everywhere")
def test_client_libraries_that_quote_requests_never_log_at_debug() -> None:
    configure_logging("DEBUG", loggers=("our-app",))

    assert logging.getLogger("our-app").isEnabledFor(logging.DEBUG)
    for name in ("groq", "groq._base_client", "botocore", "botocore.endpoint"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
        assert logging.getLogger(name).isEnabledFor(logging.INFO), name
