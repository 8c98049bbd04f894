"""Text and identifiers from outside made safe to store in Postgres and to write in a log line.

Postgres `text` cannot hold NUL, and UTF-8 cannot encode a lone surrogate (`\\ud83d`, half of an
emoji a client truncated, or a `\\ud83d` JSON escape). A customer's words are cleaned (NUL
dropped, a lone surrogate becomes U+FFFD); an identifier is either usable as it is, or refused:
changing an id would make dedupe and replies address something else.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Ids Meta sends (wamid.…, digits, BSUIDs such as US.1349…) are short printable ASCII.
_IDENTIFIER = re.compile(r"[\x21-\x7e]+")


def storable_text(text: str) -> str:
    """`text` with NUL removed and every lone surrogate replaced by U+FFFD (a no-op for clean text)."""
    if _UNSTORABLE.search(text) is None:
        return text
    return _UNSTORABLE.sub(lambda match: "" if match.group() == "\x00" else REPLACEMENT, text)


def is_identifier(value: str, max_length: int) -> bool:
    """Printable ASCII without spaces, at most `max_length` characters: safe as a key and in an index."""
    return 0 < len(value) <= max_length and _IDENTIFIER.fullmatch(value) is not None


def loggable(text: str, limit: int = 80) -> str:
    """A short, writable excerpt of a value for a log line (never for a secret)."""
    cleaned = storable_text(text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"
