"""Structured JSON logging and the one place where customer phone numbers are masked."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)


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


class JsonFormatter(logging.Formatter):
    """One JSON object per line: level, logger, message, and every `extra=` field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
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


# Our loggers; third-party ones (pgserver, botocore, uvicorn) keep their own levels.
APP_LOGGERS = ("handler", "forwarder", "admin", "migrate", "localrun", "standins")


def configure_logging(level: str | None = None) -> None:
    """JSON lines on stdout for our loggers (Lambda ships stdout to CloudWatch).

    In Lambda the runtime already installed a root handler: it gets our formatter. A process that
    configured logging itself (pytest's capture, uvicorn) keeps its handlers; ours only add levels.
    """
    level = (level or os.environ.get("LOG_LEVEL", "") or "INFO").upper()
    for name in APP_LOGGERS:
        app_logger = logging.getLogger(name)
        # Lambda calls this on every invocation; setLevel would empty every logger's cache each time.
        if app_logger.level != logging.getLevelName(level):
            app_logger.setLevel(level)
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
