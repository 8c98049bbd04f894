"""What a customer's media message carries, parsed from Meta's webhook: the media's id and what
Meta says about it (type, checksum, caption, voice flag), and a shared location. Nothing here does
I/O: the bytes are fetched later, with the tenant's token, by the handler.

Meta's shapes (webhook reference, 2026): `"audio": {"id", "mime_type", "sha256", "voice"}`,
`"image": {"id", "mime_type", "sha256", "caption"}`, `"sticker": {…, "animated"}`, `"document":
{…, "filename", "caption"}`, `"video": {…, "caption"}`; an optional `url` is not relied on (the
Graph API gives a fresh one with the size). `"location": {"latitude", "longitude", "name",
"address"}`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.text import is_identifier, storable_text

MEDIA_TYPES = frozenset({"audio", "image", "sticker", "document", "video"})
# Meta's media ids are digits (~16); the rest are short fields of Meta's.
MAX_MEDIA_ID_LENGTH = 128
_MAX_MIME_TYPE_LENGTH = 128
_MAX_SHA256_LENGTH = 128
_MAX_FILENAME_LENGTH = 240
_MAX_PLACE_TEXT_LENGTH = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class Media:
    """A media attachment as the webhook announces it (never its bytes)."""

    kind: str  # the message type: audio, image, sticker, document, video
    id: str  # Graph's media id: `GET /{media-id}` gives a short-lived download URL
    mime_type: str  # lower case, parameters kept (e.g. "audio/ogg; codecs=opus"); "" when absent
    sha256: str | None = None  # base64 in webhooks (Meta's examples), compared with the bytes
    caption: str | None = None
    voice: bool = False  # audio recorded with WhatsApp's voice button (a voice note)
    animated: bool = False  # an animated sticker
    filename: str | None = None  # documents

    @property
    def base_mime_type(self) -> str:
        """The type without its parameters: "audio/ogg" for "audio/ogg; codecs=opus"."""
        return self.mime_type.split(";", 1)[0].strip()


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


def parse_media(message_type: str, raw: Mapping[str, Any]) -> Media | None:
    """The media of a message of a media type; None when it has none we could fetch (no usable id)."""
    if message_type not in MEDIA_TYPES:
        return None
    content = raw.get(message_type)
    if not isinstance(content, Mapping):
        return None
    media_id = _string(content.get("id"))
    if not is_identifier(media_id, MAX_MEDIA_ID_LENGTH):
        return None
    mime_type = _string(content.get("mime_type")).lower()
    sha256 = _string(content.get("sha256"))
    return Media(
        kind=message_type,
        id=media_id,
        mime_type=mime_type if len(mime_type) <= _MAX_MIME_TYPE_LENGTH and mime_type.isascii() else "",
        sha256=sha256 if is_identifier(sha256, _MAX_SHA256_LENGTH) else None,
        caption=_words(content.get("caption")),
        voice=content.get("voice") is True,
        animated=content.get("animated") is True,
        filename=_words(content.get("filename"), _MAX_FILENAME_LENGTH),
    )


def parse_location(raw: Mapping[str, Any]) -> Location | None:
    """A shared place: its coordinates (required, in range), and its name and address when given."""
    content = raw.get("location")
    if not isinstance(content, Mapping):
        return None
    latitude, longitude = _coordinate(content.get("latitude"), 90), _coordinate(content.get("longitude"), 180)
    if latitude is None or longitude is None:
        return None
    return Location(
        latitude=latitude,
        longitude=longitude,
        name=_words(content.get("name"), _MAX_PLACE_TEXT_LENGTH),
        address=_words(content.get("address"), _MAX_PLACE_TEXT_LENGTH),
    )


def _string(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _words(value: object, limit: int | None = None) -> str | None:
    """A customer's (or Meta's) words made storable; None when blank."""
    if not isinstance(value, str):
        return None
    cleaned = storable_text(value).strip()
    if limit is not None:
        cleaned = cleaned[:limit]
    return cleaned or None


def _coordinate(value: object, bound: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int of 400 digits
        return None
    return number if math.isfinite(number) and -bound <= number <= bound else None
