"""Structured JSON logging and the one place where customer phone numbers are masked."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import islice
from types import MappingProxyType
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_OWN_ATTRIBUTES = tuple(vars(logging.LogRecord("", 0, "", 0, "", None, None)))
_STANDARD_ATTRIBUTES = frozenset(_OWN_ATTRIBUTES) | {"message", "asctime", "taskName"}


def mask_phone(phone: str | None) -> str:
    """Keep enough of a customer's number to tell conversations apart, never the whole of it."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


def ms_since(started: float) -> float:
    """Milliseconds since `started` (a `time.perf_counter()` reading), for a log line's timing."""
    return round((time.perf_counter() - started) * 1000, 2)


# Built once: `json.dumps` with options builds an encoder per call, and the forwarder logs per webhook.
_ENCODE = json.JSONEncoder(default=str, ensure_ascii=False).encode
_ENCODE_ASCII = json.JSONEncoder(default=str).encode


# Fields every line logged within a `log_context` carries (the Lambda request, the message being
# answered): bound once where they become known, not passed down as a parameter. Asyncio tasks and
# `asyncio.to_thread` copy the context, so what they log carries the fields too.
_NOTHING_BOUND: Mapping[str, object] = MappingProxyType({})
_bound: ContextVar[Mapping[str, object]] = ContextVar("log_context", default=_NOTHING_BOUND)


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add `fields` to every log line written inside the block (on top of those bound outside)."""
    token = _bound.set({**_bound.get(), **fields})
    try:
        yield
    finally:
        _bound.reset(token)


def bind_log_fields(**fields: object) -> None:
    """Add `fields` to the current `log_context` block for the rest of it (once they are known
    partway through, e.g. the tenant after the claim)."""
    _bound.set({**_bound.get(), **fields})


def bound_log_fields() -> Mapping[str, object]:
    return _bound.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: level, logger, message, the bound fields, and every `extra=` field."""

    def format(self, record: logging.LogRecord) -> str:
        fields = vars(record)
        entry: dict[str, Any] = {
            "ts": _timestamp(record.created, record.msecs),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **fields.get("_bound", _NOTHING_BOUND),
        }
        for key, value in _extra_items(fields):
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__
        line = _ENCODE(entry)
        if line.isascii():  # the usual line; only one with other characters may hold a lone surrogate
            return line
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (half an emoji): a line no stream could write
            line = _ENCODE_ASCII(entry)
        return line


def _extra_items(fields: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    """The record's items past LogRecord's own attributes, which it sets first (one check says so);
    every item when something else came first."""
    count = len(_OWN_ATTRIBUTES)
    if next(islice(fields, count - 1, None), None) == _OWN_ATTRIBUTES[-1]:
        return islice(fields.items(), count, None)
    return fields.items()


_last_second: tuple[int, str] = (-1, "")  # the last second formatted, and its text


def _timestamp(created: float, msecs: float) -> str:
    """`created` as ISO 8601 UTC with milliseconds; the second's text is made once per second."""
    global _last_second
    second = int(created)
    last = _last_second
    if last[0] != second:
        last = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        _last_second = last  # one assignment: a thread reads the old pair or the new, never half
    return f"{last[1]}.{int(msecs):03d}Z"


def _with_bound_fields(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        # One private attribute, not one per field: an `extra=` of the same name stays allowed.
        record._bound = _bound.get()
        return record

    make_record.binds_log_fields = True  # type: ignore[attr-defined]
    return make_record


# Client libraries that write whole requests and responses at DEBUG: Groq's SDK the conversation
# and an image's data URL, botocore a KMS answer's plaintext key and an invoke's payload. They stay
# at INFO whatever LOG_LEVEL, GROQ_LOG or Lambda's log level says: customer data, media and
# secrets never reach a log.
_QUOTE_REQUESTS_AT_DEBUG = ("groq", "botocore")


def configure_logging(level: str | None = None, *, loggers: Sequence[str]) -> None:
    """JSON lines on stdout, `loggers` (the caller's own) at `level`; third-party loggers
    (uvicorn, …) keep their own levels, but never DEBUG for those that would quote customer data
    or secrets (`_QUOTE_REQUESTS_AT_DEBUG`). Lambda ships stdout to CloudWatch.

    In Lambda the runtime already installed a root handler: it gets our formatter. A process that
    configured logging itself (pytest's capture, uvicorn) keeps its handlers; ours only add levels.
    """
    level = (level or os.environ.get("LOG_LEVEL", "") or "INFO").upper()
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "binds_log_fields", False):
        logging.setLogRecordFactory(_with_bound_fields(factory))
    for name in loggers:
        app_logger = logging.getLogger(name)
        # Lambda calls this on every invocation; setLevel would empty every logger's cache each time.
        if app_logger.level != logging.getLevelName(level):
            app_logger.setLevel(level)
    for name in _QUOTE_REQUESTS_AT_DEBUG:
        # A level of their own: inherited, a root turned to DEBUG later would reach them.
        client_logger = logging.getLogger(name)
        pinned = max(logging.INFO, client_logger.getEffectiveLevel())
        if client_logger.level != pinned:
            client_logger.setLevel(pinned)
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        for existing in root.handlers:
            existing.setFormatter(JsonFormatter())
        return
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
