"""JsonFormatter: one JSON object per line, the record's `extra=` fields in order, nothing else of it."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from shared.logs import JsonFormatter


def record(message: str = "Webhook handed off", **extra: Any) -> logging.LogRecord:
    return logging.getLogger("forwarder").makeRecord(
        "forwarder", logging.INFO, "(unknown file)", 0, message, (), None, extra=extra
    )


def test_a_line_holds_the_time_level_logger_message_and_the_extra_fields_in_order() -> None:
    made = record(handoff_ms=1.5, invokes=1, parked=0)

    line = JsonFormatter().format(made)

    entry = json.loads(line)
    assert list(entry) == ["ts", "level", "logger", "message", "handoff_ms", "invokes", "parked"]
    assert entry["ts"] == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(made.created)) + (
        f".{int(made.msecs):03d}Z"
    )
    assert (entry["level"], entry["logger"], entry["message"]) == ("INFO", "forwarder", "Webhook handed off")


def test_records_a_second_apart_carry_their_own_second() -> None:
    formatter = JsonFormatter()
    first, second = record(), record()
    second.created, second.msecs = first.created + 1, 7.0

    stamps = [json.loads(formatter.format(made))["ts"] for made in (first, second, first)]

    assert stamps[0] == stamps[2] != stamps[1]
    assert stamps[1] == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(first.created + 1)) + ".007Z"


def test_an_attribute_set_before_the_records_own_is_still_a_field() -> None:
    class Tagged(logging.LogRecord):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.origin = "relay"  # before LogRecord's own attributes
            super().__init__(*args, **kwargs)

    made = Tagged("forwarder", logging.INFO, "(unknown file)", 0, "hello", (), None)
    made.parts = 2

    entry = json.loads(JsonFormatter().format(made))

    assert (entry["origin"], entry["parts"]) == ("relay", 2)
    assert "msg" not in entry and "args" not in entry and "created" not in entry


def test_an_attribute_removed_and_set_again_is_not_a_field_and_the_extras_stay() -> None:
    made = record(invokes=1)
    message = made.msg
    del made.msg
    made.msg = message  # now after the extra fields

    entry = json.loads(JsonFormatter().format(made))

    assert entry["invokes"] == 1 and "msg" not in entry


def test_bound_fields_come_before_the_extra_fields() -> None:
    made = record(invokes=1)
    made._bound = {"aws_request_id": "req-1"}  # what the record factory attaches inside log_context

    entry = json.loads(JsonFormatter().format(made))

    assert list(entry)[4:] == ["aws_request_id", "invokes"]
