"""Log lines written in batches by a background thread, so the event loop never waits on a write.

With unbuffered stdout (PYTHONUNBUFFERED=1, usual in containers) every log line is a write()
that releases the GIL; under load, boto3's threads then hold the event loop back on each of the
three lines a webhook logs. The lines are the same JSON, in the same order, at most `interval`
seconds later. Only for a long-running server: a Lambda container may be frozen right after
its response, so there the lines are written synchronously (this is never installed).

While it is installed, log records also skip what no JSON line of ours shows (the caller's file
and line, the thread, the process): the logging module's documented switches for that, which
save a stack walk and several lookups on each of a webhook's lines.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TextIO

from shared.logs import JsonFormatter

DEFAULT_INTERVAL_SECONDS = 0.05
_MAX_PENDING_LINES = 2000  # write early past this many lines
# The logging module's switches for what a LogRecord gathers, and the value that skips each.
_RECORD_DETAILS_OFF: dict[str, object] = {
    "_srcfile": None,  # the caller's file, line and function (a walk up the stack)
    "logThreads": False,
    "logProcesses": False,
    "logMultiprocessing": False,
    "logAsyncioTasks": False,  # Python 3.12+
}


class BatchingHandler(logging.Handler):
    """Formats each record at once, queues the line, and writes queued lines from one thread."""

    def __init__(self, stream: TextIO, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        super().__init__()
        self._stream = stream
        self._interval = interval
        self._pending: list[str] = []
        self._pending_lock = threading.Lock()
        self._write_lock = threading.Lock()  # keeps batches in order when two flushes meet
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._writer = threading.Thread(target=self._write_periodically, name="log-writer", daemon=True)
        self._writer.start()
        self.record_details: dict[str, object] = {}  # what batch_root_output switched off, to put back

    def handle(self, record: logging.LogRecord) -> bool:
        """`logging.Handler.handle` without its per-record lock: `emit` takes only the queue's lock."""
        kept = self.filter(record)
        if isinstance(kept, logging.LogRecord):  # Python 3.12+: a filter may return a replacement
            record = kept
        if kept:
            self.emit(record)
        return bool(kept)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        with self._pending_lock:
            self._pending.append(line)
            if len(self._pending) >= _MAX_PENDING_LINES:
                self._wake.set()

    def flush(self) -> None:
        """Write every queued line now."""
        with self._write_lock:
            with self._pending_lock:
                lines, self._pending = self._pending, []
            if lines:
                self._stream.write("\n".join(lines) + "\n")
                self._stream.flush()

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._writer.is_alive() and self._writer is not threading.current_thread():
            self._writer.join(timeout=5)
        self.flush()
        super().close()

    def _write_periodically(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # a broken stdout must not end the writer; the next flush retries
                continue


def batch_root_output(
    interval: float = DEFAULT_INTERVAL_SECONDS,
) -> tuple[list[logging.Handler], BatchingHandler] | None:
    """Replace the root logger's JSON stream handler by a batching one on the same stream.

    Returns the handlers it replaced (to restore on shutdown) and the new handler (to close); None
    when there is no such handler (logging set up by someone else, e.g. pytest) or in Lambda.
    """
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return None
    root = logging.getLogger()
    previous = list(root.handlers)
    ours = [
        h for h in previous if isinstance(h, logging.StreamHandler) and isinstance(h.formatter, JsonFormatter)
    ]
    if not ours:
        return None
    batching = BatchingHandler(ours[0].stream, interval)
    batching.setFormatter(ours[0].formatter)
    batching.setLevel(ours[0].level)
    root.handlers = [batching if h is ours[0] else h for h in previous]
    for name, off in _RECORD_DETAILS_OFF.items():
        if hasattr(logging, name):
            batching.record_details[name] = getattr(logging, name)
            setattr(logging, name, off)
    return previous, batching


def restore_root_output(previous: list[logging.Handler], batching: BatchingHandler) -> None:
    """Write what is queued and put the original handlers and record details back."""
    logging.getLogger().handlers = previous
    for name, value in batching.record_details.items():
        setattr(logging, name, value)
    batching.close()
