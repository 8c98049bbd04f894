"""The seed edge function's request body, accepted unchanged so existing webhooks keep working.

`{"phoneNumber", "phoneNumberId", "text", "source", "timestamp", "webUserId"}`; the web chat
sends the same shape with `source: "web"` (plus an optional `sessionId`, and the tenant's web
chat key as `Authorization: Bearer KEY`, or as `webChatKey` when the Lambda is invoked directly).
A web conversation is keyed by its session only: a web chat never reads a WhatsApp customer's
conversation, whatever `phoneNumber` it names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared.errors import InvalidInput
from shared.text import storable_text

MAX_TEXT_LENGTH = 4096
SOURCES = ("whatsapp", "web")
# A customer's WhatsApp number as the seed sent it: digits, maybe a leading plus (E.164: ≤ 15 digits).
_PHONE_NUMBER = re.compile(r"\+?[0-9]{1,20}")
# A web chat session id becomes part of a stored, indexed key: short and printable.
_SESSION_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")


class InvalidRequest(InvalidInput):
    """The body is not a usable seed request; the message says which field is wrong."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedRequest:
    text: str
    source: str
    phone_number: str | None
    phone_number_id: str | None
    web_user_id: UUID | None
    session_id: str | None
    timestamp: datetime | None
    # Web chat: the tenant's key (`Authorization: Bearer`, or `webChatKey` in a direct invoke).
    web_chat_key: str | None = field(default=None, repr=False)

    @property
    def message_id(self) -> str:
        """The seed sent no WhatsApp id; a digest of what it did send makes redeliveries collide."""
        material = "|".join(
            [
                self.phone_number_id or "",
                self.phone_number or "",
                self.timestamp.isoformat() if self.timestamp else "",
                self.text,
            ]
        )
        return "seed:" + hashlib.sha256(material.encode()).hexdigest()[:40]

    @property
    def conversation_key(self) -> str:
        """Whom a web conversation is with: its chat session, in a namespace no WhatsApp id shares."""
        return f"web:{self.session_id or 'anonymous'}"


def looks_like_seed_request(event: object) -> bool:
    return isinstance(event, Mapping) and "text" in event and ("phoneNumber" in event or "webUserId" in event)


def parse_seed_request(data: object, *, web_only: bool = False) -> SeedRequest:
    """The request, or `InvalidRequest` naming the field. `web_only` (the `/chat` route): the web
    chat, whose `source` defaults to and must be `web`; it never relays to WhatsApp."""
    if not isinstance(data, Mapping):
        raise InvalidRequest("the body must be a JSON object")
    raw_text = data.get("text")
    if not isinstance(raw_text, str) or not raw_text.strip():
        raise InvalidRequest("`text` must be a non-empty string")
    if len(raw_text) > MAX_TEXT_LENGTH:
        raise InvalidRequest(f"`text` is longer than {MAX_TEXT_LENGTH} characters")
    text = storable_text(raw_text)
    phone_number = _optional_str(data, "phoneNumber")
    phone_number_id = _optional_str(data, "phoneNumberId")
    web_user_id = _optional_uuid(data, "webUserId")
    source = _optional_str(data, "source") or (
        "web" if web_only or (web_user_id and not phone_number_id) else "whatsapp"
    )
    if source not in SOURCES:
        raise InvalidRequest(f"`source` must be one of {', '.join(SOURCES)}")
    if web_only and source != "web":
        raise InvalidRequest(
            "this is the web chat: `source` must be `web` (it never sends WhatsApp messages)"
        )
    if source == "whatsapp" and not phone_number:
        raise InvalidRequest("`phoneNumber` is required for WhatsApp messages")
    if source == "whatsapp" and phone_number is not None and not _PHONE_NUMBER.fullmatch(phone_number):
        raise InvalidRequest("`phoneNumber` must be a WhatsApp number: digits, with an optional leading +")
    if phone_number_id is not None and not (phone_number_id.isascii() and phone_number_id.isdigit()):
        raise InvalidRequest("`phoneNumberId` must be digits")
    if phone_number_id is not None and len(phone_number_id) > 32:
        raise InvalidRequest("`phoneNumberId` is longer than 32 digits")
    if source == "web" and web_user_id is None:
        raise InvalidRequest("`webUserId` is required for web messages")
    session_id = _optional_str(data, "sessionId")
    if session_id is not None and not _SESSION_ID.fullmatch(session_id):
        raise InvalidRequest("`sessionId` must be 1 to 128 letters, digits or . _ : @ -")
    return SeedRequest(
        text=text,
        source=source,
        phone_number=phone_number if source == "whatsapp" else None,
        phone_number_id=phone_number_id,
        web_user_id=web_user_id,
        session_id=session_id,
        timestamp=_timestamp(data.get("timestamp")),
        web_chat_key=_optional_str(data, "webChatKey"),
    )


def _optional_str(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidRequest(f"`{name}` must be a string")
    return str(value).strip() or None


def _optional_uuid(data: Mapping[str, Any], name: str) -> UUID | None:
    value = _optional_str(data, name)
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise InvalidRequest(f"`{name}` must be a UUID") from None


def _timestamp(value: object) -> datetime | None:
    """The seed sent ISO strings or epoch seconds; anything else is treated as absent."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 10**11:
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return _timestamp(int(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None
