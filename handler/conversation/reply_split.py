"""Split a reply into WhatsApp text messages of at most 4,096 characters, at natural boundaries."""

from __future__ import annotations

import re

WHATSAPP_TEXT_LIMIT = 4096

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def split_reply(text: str, limit: int = WHATSAPP_TEXT_LIMIT) -> list[str]:
    """Paragraphs first, then sentences, then words, then a hard cut: each part ≤ `limit`."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        _append_packed(parts, paragraph.strip(), "\n\n", limit)
    return parts


def _append_packed(parts: list[str], piece: str, joiner: str, limit: int) -> None:
    """Add `piece` to the last part when it fits, else start a new part (splitting `piece` further)."""
    if not piece:
        return
    if parts and len(parts[-1]) + len(joiner) + len(piece) <= limit:
        parts[-1] = parts[-1] + joiner + piece
        return
    if len(piece) <= limit:
        parts.append(piece)
        return
    for index, (smaller, smaller_joiner) in enumerate(_finer_pieces(piece, limit)):
        # The first finer piece still follows whatever came before `piece` (e.g. a paragraph break).
        _append_packed(parts, smaller, joiner if index == 0 else smaller_joiner, limit)


def _finer_pieces(piece: str, limit: int) -> list[tuple[str, str]]:
    sentences = _SENTENCE_END.split(piece)
    if len(sentences) > 1:
        return [(sentence, " ") for sentence in sentences]
    words = piece.split(" ")
    if len(words) > 1:
        return [(word, " ") for word in words]
    return [(piece[i : i + limit], "") for i in range(0, len(piece), limit)]
