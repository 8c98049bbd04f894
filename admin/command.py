"""What a subcommand is: a function of its parsed arguments, one database connection and the
console it reads secrets from and writes to."""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

import asyncpg


@dataclass(frozen=True, slots=True, kw_only=True)
class Console:
    """Where a command reads secrets from and writes its output to."""

    stdin: TextIO
    stdout: TextIO
    env: Mapping[str, str]

    def write(self, text: str) -> None:
        self.stdout.write(text if text.endswith("\n") else text + "\n")


Run = Callable[[asyncpg.Connection, Namespace, Console], Awaitable[int]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    run: Run
    needs_migrated_schema: bool = True
