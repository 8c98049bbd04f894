"""Reading secrets from an environment variable or standard input, never from the command line."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

from admin.errors import InvalidInput, MissingSecret

# Below this length the last 4 characters would give away too much of the secret.
_MIN_LENGTH_TO_SHOW_TAIL = 12


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret value that does not show itself in reprs, tracebacks or f-strings."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return mask_secret(self.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretSource:
    """Where the operator said a secret is: the name of an environment variable, or stdin."""

    label: str  # what it is, for messages: "WhatsApp access token"
    env_name: str | None = None
    from_stdin: bool = False

    @property
    def given(self) -> bool:
        return self.env_name is not None or self.from_stdin


def mask_secret(value: str | None) -> str:
    """At most the last 4 characters (`…abcd`); `-` when there is none."""
    if not value:
        return "-"
    if len(value) < _MIN_LENGTH_TO_SHOW_TAIL:
        return "…"
    return "…" + value[-4:]


def read_secret(source: SecretSource, *, env: Mapping[str, str], stdin: TextIO) -> Secret | None:
    """The secret from its source; None when the operator gave no source for it."""
    if source.env_name is not None:
        value = env.get(source.env_name, "").strip()
        if not value:
            raise MissingSecret(
                f"environment variable {source.env_name} (the {source.label}) is not set or empty"
            )
    elif source.from_stdin:
        value = _read_line(source.label, stdin).strip()
        if not value:
            raise MissingSecret(f"no {source.label} on standard input")
    else:
        return None
    if any(char.isspace() or not char.isprintable() for char in value):
        raise InvalidInput(f"the {source.label} contains whitespace or control characters")
    return Secret(value)


def _read_line(label: str, stdin: TextIO) -> str:
    if stdin.isatty():
        # Typed by hand: do not echo it.
        return getpass.getpass(f"{label}: ", stream=None)
    return stdin.readline()
