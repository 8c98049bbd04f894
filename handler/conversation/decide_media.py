"""Every decision about a customer's voice note, image or shared place, as pure functions (the
planner's media half: `decide.plan_message` asks `plan_media`; `understand.py` carries it out).

A voice note (or any audio) is transcribed by Groq's speech to text and answered like a text; an
image (or a still sticker) goes, with its caption, to a model that sees. Before anything is
fetched, and again once Graph has said what the file is, a file that the next step cannot take is
refused here: a type Groq does not read, a size over the deployment's limit (Groq's own limits
bound it). After the download the bytes must match Meta's checksum. Whatever fails, the customer
gets the tenant's notice and the reason is recorded; a passing failure waits for Lambda's retry
while one remains. A shared place is answered as the words of its name, address and coordinates.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from handler.errors import GroqError, MediaRejected, WhatsAppError
from handler.model import MediaMetadata, MediaPolicy, Tenant, Turn
from providers.groq_models import (
    VISION_IMAGE_TYPES,
    Kind,
    can_see_images,
    current_model,
    transcription_file_name,
)
from shared.errors import TransientError
from shared.media import Location, Media
from shared.webhook import InboundMessage

# --- what to do with a media message --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcribe:
    """Fetch the recording, have Groq write its words down, answer them like a text."""

    media: Media
    model: str
    language: str | None
    max_bytes: int
    check_sha256: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class LookAt:
    """Fetch the image and send it, with its caption, to `model` (one that sees), which answers."""

    media: Media
    model: str
    max_bytes: int
    check_sha256: bool = True


MediaStep = Transcribe | LookAt


@dataclass(frozen=True, slots=True, kw_only=True)
class NotUnderstood:
    """The notice answers it; `reason` is recorded (the message's error_title)."""

    reason: str


_UNDERSTOOD_KINDS = ("audio", "image", "sticker")


def label(media: Media) -> str:
    """How a reason names the media: "voice note", "audio", "image", "sticker"."""
    if media.kind == "audio":
        return "voice note" if media.voice else "audio"
    return media.kind


def plan_media(
    message: InboundMessage, tenant: Tenant, policy: MediaPolicy
) -> MediaStep | NotUnderstood | None:
    """A voice note or image's step; None for other media (documents, videos: the notice, as
    before, with nothing to record)."""
    media = message.media
    if media is None or media.kind not in _UNDERSTOOD_KINDS:
        return None
    name = label(media)
    if tenant.groq is None:
        return NotUnderstood(reason=f"{name} not understood: groq not configured")
    if tenant.whatsapp is None:
        return NotUnderstood(reason=f"{name} not understood: no WhatsApp token to fetch it with")
    if media.kind == "audio":
        model = tenant.groq.transcription_model or policy.transcription_model
        known = current_model(model)
        if known is not None and known.kind is not Kind.SPEECH_TO_TEXT:
            return NotUnderstood(reason=f"{name} not understood: {model} is not a speech-to-text model")
        refusal = _type_refusal(media.kind, media.base_mime_type) if media.mime_type else None
        if refusal is not None:
            return NotUnderstood(reason=f"{name} not understood: {refusal}")
        language = tenant.groq.transcription_language
        return Transcribe(
            media=media,
            model=model,
            language=language,
            max_bytes=policy.max_audio_bytes,
            check_sha256=policy.check_sha256,
        )
    if media.animated:
        return NotUnderstood(reason=f"{name} not understood: animated")
    model = tenant.groq.vision_model or policy.vision_model
    if not can_see_images(model):
        return NotUnderstood(reason=f"{name} not understood: model {model} cannot see images")
    refusal = _type_refusal(media.kind, media.base_mime_type) if media.mime_type else None
    if refusal is not None:
        return NotUnderstood(reason=f"{name} not understood: {refusal}")
    return LookAt(
        media=media, model=model, max_bytes=policy.max_image_bytes, check_sha256=policy.check_sha256
    )


def _type_refusal(kind: str, mime_type: str) -> str | None:
    if kind == "audio":
        if transcription_file_name(mime_type) is None:
            return f"{mime_type or 'no type'} is not a format Groq transcribes"
        return None
    if mime_type not in VISION_IMAGE_TYPES:
        return f"{mime_type or 'no type'} is not an image type the model takes"
    return None


# --- verdicts on what Graph says and what it gives ---------------------------------------------------


def media_type(step: MediaStep, metadata: MediaMetadata) -> str:
    """The file's type without parameters: Graph's word, else the webhook's."""
    return metadata.mime_type.split(";", 1)[0].strip() or step.media.base_mime_type


def refusal_before_download(step: MediaStep, metadata: MediaMetadata) -> str | None:
    """Why the file is not fetched at all (its type, its size), or None: fetch it."""
    refusal = _type_refusal(step.media.kind, media_type(step, metadata))
    if refusal is not None:
        return refusal
    if metadata.file_size is not None and metadata.file_size > step.max_bytes:
        return f"{metadata.file_size} bytes, over the limit of {step.max_bytes}"
    return None


def refusal_after_download(step: MediaStep, metadata: MediaMetadata, data: bytes) -> str | None:
    """Why the bytes are not passed on: empty, too large, or not what Meta's checksum says."""
    if not data:
        return "empty file"
    if len(data) > step.max_bytes:
        return f"{len(data)} bytes, over the limit of {step.max_bytes}"
    if not step.check_sha256:
        return None
    digest = hashlib.sha256(data).digest()
    for announced in (metadata.sha256, step.media.sha256):
        if announced is not None and not _matches(announced, digest):
            return "the file does not match Meta's sha256"
    return None


def _matches(announced: str, digest: bytes) -> bool:
    """Meta's checksum, in hex (64 digits) or base64 (its webhooks' form)."""
    text = announced.strip()
    try:
        expected = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(expected, digest)


def upload_name(step: Transcribe, metadata: MediaMetadata) -> str:
    """The file name Groq reads the format from (checked before the download: it has one)."""
    return transcription_file_name(media_type(step, metadata)) or "audio.ogg"


def after_media_failure(step: MediaStep, error: Exception, *, retries_remain: bool) -> NotUnderstood | None:
    """None: leave the message for Lambda's retry (Graph or Groq may be back by then); else the
    notice, with the reason recorded."""
    if isinstance(error, TransientError) and retries_remain:
        return None
    if isinstance(error, MediaRejected):
        why = error.reason
    elif isinstance(error, GroqError):
        kind = "groq rejected" if not isinstance(error, TransientError) else "groq unavailable"
        why = f"{kind}: {error.reason}"
    elif isinstance(error, WhatsAppError):
        code = f" {error.code}" if error.code is not None else ""
        why = f"graph{code}: {error.title}"
    else:
        why = type(error).__name__
    return NotUnderstood(reason=f"{label(step.media)} not understood: {why}")


# --- prompts -------------------------------------------------------------------------------------

_NO_CAPTION = {
    "image": "(The customer sent this image without a caption.)",
    "sticker": "(The customer sent this sticker.)",
}


def build_image_messages(
    system_prompt: str, history: Sequence[Turn], step: LookAt, mime_type: str, data: bytes
) -> list[dict[str, Any]]:
    """The chat-completion messages for an image: system prompt, recent history, then one user
    message of a text part (the caption) and the image as a base64 data URL."""
    messages: list[dict[str, Any]] = (
        [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    )
    for turn in history:
        messages.append({"role": "user" if turn.sender == "user" else "assistant", "content": turn.content})
    caption = step.media.caption or _NO_CAPTION.get(step.media.kind, _NO_CAPTION["image"])
    image_url = f"data:{mime_type};base64,{base64.b64encode(data).decode('ascii')}"
    messages.append(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": caption},
                {"type": "image_url", "image_url": {"url": image_url}},
            ],
        }
    )
    return messages


# --- what the conversation log keeps ------------------------------------------------------------------


def location_text(location: Location) -> str:
    """A shared place in words, as the AI reads it and the log keeps it."""
    place = ", ".join(part for part in (location.name, location.address) if part)
    coordinates = f"({location.latitude:.6g}, {location.longitude:.6g})"
    return f"[location] {place} {coordinates}" if place else f"[location] {coordinates}"


def media_marker(message: InboundMessage) -> str:
    """What the log keeps for a message without words: its type, and the caption when it has one
    (the media itself is never stored)."""
    marker = f"[{message.type.value}]"
    caption = message.media.caption if message.media is not None else None
    return f"{marker} {caption}" if caption else marker
