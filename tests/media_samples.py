"""Bytes that look like the media customers send (the Groq stand-in checks a recording's container
signature, as a decoder would), and the webhook items that announce a file the Graph stand-in holds."""

from __future__ import annotations

import hashlib
from typing import Any

from standins import meta
from standins.graph_media import StoredMedia


def ogg_voice_note(size: int = 4_000) -> bytes:
    """An Opus-in-OGG recording's first bytes, padded (deterministic, so its checksum is stable)."""
    header = b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead"
    return (header + hashlib.sha256(b"voice").digest() * (size // 32 + 1))[:size]


def jpeg_image(size: int = 2_000) -> bytes:
    header = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
    return (header + hashlib.sha256(b"image").digest() * (size // 32 + 1))[:size]


def voice_note_message(media: StoredMedia, **common: Any) -> dict[str, Any]:
    """The `messages` item Meta sends for `media` recorded with WhatsApp's voice button."""
    return meta.media_message(
        "audio",
        media_id=media.id,
        mime_type=media.mime_type,
        sha256=media.sha256_base64,
        voice=True,
        **common,
    )


def image_message(media: StoredMedia, caption: str | None = None, **common: Any) -> dict[str, Any]:
    return meta.media_message(
        "image",
        media_id=media.id,
        mime_type=media.mime_type,
        sha256=media.sha256_base64,
        caption=caption,
        **common,
    )
