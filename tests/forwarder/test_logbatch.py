"""Batched log output: the same JSON lines, in order, written by one background thread."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator

import pytest

from forwarder.logbatch import BatchingHandler, batch_root_output, restore_root_output
from shared.logs import JsonFormatter


@pytest.fixture
def root_handlers() -> Iterator[None]:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers, root.level = saved, level


def record(message: str, **fields: object) -> logging.LogRecord:
    made = logging.LogRecord("forwarder", logging.INFO, __file__, 1, message, None, None)
    made.__dict__.update(fields)
    return made


def test_lines_come_out_in_order_as_json_within_the_interval() -> None:
    stream = io.StringIO()
    handler = BatchingHandler(stream, interval=0.02)
    handler.setFormatter(JsonFormatter())
    try:
        for n in range(5):
            handler.handle(record("Webhook handed off", n=n))
        deadline = time.monotonic() + 2
        while stream.getvalue().count("\n") < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        handler.close()
    assert [(line["message"], line["n"]) for line in lines] == [("Webhook handed off", n) for n in range(5)]


def test_close_writes_what_is_still_queued() -> None:
    stream = io.StringIO()
    handler = BatchingHandler(stream, interval=60)
    handler.setFormatter(JsonFormatter())
    handler.handle(record("last words"))

    handler.close()

    assert json.loads(stream.getvalue())["message"] == "last words"


def test_the_root_output_is_swapped_and_restored(root_handlers: None) -> None:
    stream = io.StringIO()
    direct = logging.StreamHandler(stream)
    direct.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [direct]
    root.setLevel(logging.INFO)

    batched = batch_root_output(interval=60)
    assert batched is not None
    previous, batching = batched
    logging.getLogger("forwarder").info("queued", extra={"k": 1})
    assert root.handlers == [batching] and stream.getvalue() == ""
    restore_root_output(previous, batching)

    assert root.handlers == [direct]
    assert json.loads(stream.getvalue())["k"] == 1


def test_while_batched_records_skip_the_details_no_line_shows(root_handlers: None) -> None:
    stream = io.StringIO()
    direct = logging.StreamHandler(stream)
    direct.setFormatter(JsonFormatter())
    logging.getLogger().handlers = [direct]
    before = (logging.logThreads, logging.logProcesses, logging._srcfile)

    batched = batch_root_output(interval=60)
    assert batched is not None
    made = logging.getLogger("forwarder").makeRecord("forwarder", logging.INFO, "", 0, "m", (), None)
    during = (logging.logThreads, logging.logProcesses, logging._srcfile)
    restore_root_output(*batched)

    assert (made.thread, made.process) == (None, None) and during == (False, False, None)
    assert (logging.logThreads, logging.logProcesses, logging._srcfile) == before


def test_nothing_changes_without_our_json_handler(root_handlers: None) -> None:
    plain = logging.StreamHandler(io.StringIO())
    logging.getLogger().handlers = [plain]

    assert batch_root_output() is None
    assert logging.getLogger().handlers == [plain]


def test_nothing_changes_in_lambda(root_handlers: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "forwarder")
    direct = logging.StreamHandler(io.StringIO())
    direct.setFormatter(JsonFormatter())
    logging.getLogger().handlers = [direct]

    assert batch_root_output() is None
