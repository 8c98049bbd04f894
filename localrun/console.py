"""The terminal: lines read from standard input without threads, and text written to standard output.

Reading goes through the event loop (`add_reader`), so Ctrl-C and EOF end a waiting read at once
and no thread is left blocked on the terminal. The terminal's own line editing is used as it is.
"""

from __future__ import annotations

import asyncio
import os
from typing import TextIO

_CHUNK_BYTES = 65536


class Output:
    """Lines for the person at the terminal (not logs): written and flushed at once."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def line(self, text: str = "") -> None:
        self._stream.write(text + "\n")
        self._stream.flush()

    def prompt(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()


class InputLines:
    """Lines from a file descriptor (standard input), read on the running event loop."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""
        self._ended = False

    async def readline(self) -> str | None:
        """The next line without its line ending; None at the end of input."""
        while b"\n" not in self._buffer and not self._ended:
            chunk = await self._read_chunk()
            if chunk:
                self._buffer += chunk
            else:
                self._ended = True
        if not self._buffer:
            return None
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", errors="replace").rstrip("\r")

    async def _read_chunk(self) -> bytes:
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not readable.done():
                readable.set_result(None)

        try:
            loop.add_reader(self._fd, wake)
        except (OSError, ValueError):
            # A regular file or /dev/null cannot be watched, and never blocks either.
            return os.read(self._fd, _CHUNK_BYTES)
        try:
            await readable
        finally:
            loop.remove_reader(self._fd)
        return os.read(self._fd, _CHUNK_BYTES)
