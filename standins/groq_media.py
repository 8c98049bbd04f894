"""What the Groq stand-in checks of audio and images, as strictly as Groq (December 2026).

Speech to text (`POST /openai/v1/audio/transcriptions`, multipart/form-data; docs/speech-to-text):
`model` must be a speech-to-text model Groq serves (a retired one is refused like any retired
model), `file` (or `url`) is required, the format is read from the file name's extension (flac mp3
mp4 mpeg mpga m4a ogg opus wav webm: anything else is 400 `unsupported_audio_format`, ".oga"
included), bytes that are not that format cannot be decoded (400), and an upload over 25 MB is 413.

Images in chat completions (docs/vision): `{"type": "image_url", "image_url": {"url": "data:…"}}`
parts in a user message, for a model that sees only (another model answers 400
`messages[i].content must be a string`), at most 3 of them, as a base64 data URL of JPEG, PNG or
WebP (or an https URL); a request carrying a base64 image is refused above 4 MB (413).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from providers.groq_models import (
    TRANSCRIPTION_EXTENSIONS,
    TRANSCRIPTION_UPLOAD_LIMIT_BYTES,
    VISION_BASE64_REQUEST_LIMIT_BYTES,
    VISION_IMAGE_TYPES,
    VISION_MAX_IMAGES,
    Kind,
    can_see_images,
    current_model,
)

RESPONSE_FORMATS = ("json", "text", "verbose_json")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_DATA_URL = re.compile(r"^data:(?P<mime>[a-z]+/[a-z0-9.+-]+);base64,(?P<data>.*)$", re.DOTALL)
_PARAM = re.compile(r'(\w+)="([^"]*)"')
# What each container starts with: bytes that are not the format named cannot be decoded.
_MAGIC: dict[str, tuple[tuple[int, bytes], ...]] = {
    "ogg": ((0, b"OggS"),),
    "opus": ((0, b"OggS"),),
    "wav": ((0, b"RIFF"),),
    "flac": ((0, b"fLaC"),),
    "webm": ((0, b"\x1a\x45\xdf\xa3"),),
    "mp3": ((0, b"ID3"), (0, b"\xff\xfb"), (0, b"\xff\xf3"), (0, b"\xff\xf2")),
    "mpeg": ((0, b"ID3"), (0, b"\xff\xfb"), (0, b"\xff\xf3"), (0, b"\xff\xf2")),
    "mpga": ((0, b"ID3"), (0, b"\xff\xfb"), (0, b"\xff\xf3"), (0, b"\xff\xf2")),
    "m4a": ((4, b"ftyp"), (0, b"\xff\xf1"), (0, b"\xff\xf9")),  # MP4, or AAC in ADTS
    "mp4": ((4, b"ftyp"),),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class FormPart:
    name: str
    data: bytes = field(repr=False)
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptionRequest:
    """One transcription call as the stand-in received it, and the status it answered."""

    api_key: str
    model: str
    file_name: str | None
    file_type: str | None  # the file part's Content-Type
    data: bytes = field(repr=False)
    language: str | None = None
    prompt: str | None = None
    response_format: str = "json"
    status: int = 200

    @property
    def extension(self) -> str:
        name = self.file_name or ""
        return name.rsplit(".", 1)[-1].lower() if "." in name else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ImagePart:
    """An image a chat message carried: its type and decoded size (or its https URL)."""

    mime_type: str
    size: int
    url: str | None = None


# --- multipart ------------------------------------------------------------------------------------


def parse_multipart(content_type: str, body: bytes) -> dict[str, FormPart] | None:
    """The fields of a multipart/form-data body (None when it is not one), exactly as sent."""
    media_type, _, parameters = content_type.partition(";")
    if media_type.strip().lower() != "multipart/form-data":
        return None
    boundary = next(
        (value.strip().strip('"') for key, value in _parameters(parameters) if key == "boundary"), ""
    )
    if not boundary:
        return None
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    sections = (b"\r\n" + body).split(delimiter)
    if len(sections) < 2 or not sections[-1].startswith(b"--"):
        return None
    parts: dict[str, FormPart] = {}
    for section in sections[1:-1]:
        head, separator, data = section.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            return None
        headers = _headers(head)
        disposition = dict(_PARAM.findall(headers.get("content-disposition", "")))
        name = disposition.get("name")
        if name is None:
            return None
        parts[name] = FormPart(
            name=name,
            data=data,
            filename=disposition.get("filename"),
            content_type=headers.get("content-type"),
        )
    return parts


def _parameters(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in text.split(";"):
        key, _, value = item.partition("=")
        if key.strip():
            pairs.append((key.strip().lower(), value))
    return pairs


def _headers(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", errors="replace").split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip():
            headers[key.strip().lower()] = value.strip()
    return headers


# --- transcription --------------------------------------------------------------------------------


def transcription_request(api_key: str, parts: Mapping[str, FormPart]) -> TranscriptionRequest:
    upload = parts.get("file")
    language, prompt = parts.get("language"), parts.get("prompt")
    response_format = parts.get("response_format")
    return TranscriptionRequest(
        api_key=api_key,
        model=parts["model"].text if "model" in parts else "",
        file_name=upload.filename if upload is not None else None,
        file_type=upload.content_type if upload is not None else None,
        data=upload.data if upload is not None else b"",
        language=language.text if language is not None else None,
        prompt=prompt.text if prompt is not None else None,
        response_format=response_format.text if response_format is not None else "json",
    )


@dataclass(frozen=True, slots=True)
class Refusal:
    """A Groq error to answer: status, message, and the code when Groq gives one."""

    status: int
    message: str
    code: str | None = None
    param: str | None = None


def transcription_refusal(request: TranscriptionRequest, has_url: bool) -> Refusal | None:
    """What Groq refuses in a transcription request whose model it serves."""
    known = current_model(request.model)
    if known is not None and known.kind is not Kind.SPEECH_TO_TEXT:
        return Refusal(400, f"model `{request.model}` does not support audio transcription", param="model")
    if request.file_name is None and not has_url:
        return Refusal(400, "either file or url must be provided", param="file")
    if request.file_name is not None:
        if request.extension not in TRANSCRIPTION_EXTENSIONS:
            allowed = " ".join(TRANSCRIPTION_EXTENSIONS)
            return Refusal(
                400, f"file must be one of the following types: [{allowed}]", code="unsupported_audio_format"
            )
        if len(request.data) > TRANSCRIPTION_UPLOAD_LIMIT_BYTES:
            return Refusal(413, "Request Entity Too Large", code="request_too_large")
        if not _looks_like(request.extension, request.data):
            return Refusal(400, "could not process file - is it a valid media file?", param="file")
    if request.language is not None and not _LANGUAGE.match(request.language):
        return Refusal(
            400, f"invalid language: {request.language!r} is not an ISO-639-1 code", param="language"
        )
    if request.response_format not in RESPONSE_FORMATS:
        return Refusal(
            400, "response_format must be one of json, text, verbose_json", param="response_format"
        )
    return None


def _looks_like(extension: str, data: bytes) -> bool:
    return any(data[offset : offset + len(magic)] == magic for offset, magic in _MAGIC.get(extension, ()))


# --- images in chat completions -------------------------------------------------------------------


def message_parts(content: object) -> tuple[str, tuple[ImagePart, ...], str | None]:
    """A chat message's text, its images, and what is wrong with its content parts (if anything)."""
    if isinstance(content, str):
        return content, (), None
    if not isinstance(content, list):
        return "", (), None
    texts: list[str] = []
    images: list[ImagePart] = []
    for part in content:
        fields: dict[str, Any] = part if isinstance(part, dict) else {}
        kind = fields.get("type")
        if kind == "text" and isinstance(fields.get("text"), str):
            texts.append(fields["text"])
        elif kind == "image_url":
            image, problem = _image(fields.get("image_url"))
            if problem is not None:
                return "", (), problem
            assert image is not None
            images.append(image)
        else:
            return "", (), "each content part must be a text or an image_url part"
    return "\n".join(texts), tuple(images), None


def _image(value: object) -> tuple[ImagePart | None, str | None]:
    url = value.get("url") if isinstance(value, dict) else None
    if not isinstance(url, str):
        return None, "image_url.url is required"
    if url.startswith("https://"):
        return ImagePart(mime_type="", size=0, url=url), None
    match = _DATA_URL.match(url)
    if match is None:
        return None, "image_url.url must be an https URL or a base64 data URL"
    if match["mime"] not in VISION_IMAGE_TYPES:
        return None, f"unsupported image type {match['mime']}: use one of {', '.join(VISION_IMAGE_TYPES)}"
    try:
        data = base64.b64decode(match["data"], validate=True)
    except (ValueError, binascii.Error):
        return None, "invalid base64 image data"
    return ImagePart(mime_type=match["mime"], size=len(data)), None


def image_refusal(
    model: str, messages: Sequence[tuple[str, tuple[ImagePart, ...]]], body_size: int
) -> Refusal | None:
    """What Groq refuses about a request's images; `messages`: each message's role and images."""
    carrying = [index for index, (_, images) in enumerate(messages) if images]
    if not carrying:
        return None
    if not can_see_images(model):
        index = carrying[0]
        return Refusal(400, f"messages[{index}].content must be a string", param=f"messages[{index}].content")
    for index in carrying:
        if messages[index][0] != "user":
            return Refusal(400, f"messages[{index}]: only user messages may carry images")
    if sum(len(images) for _, images in messages) > VISION_MAX_IMAGES:
        return Refusal(400, f"Too many images provided. This model supports up to {VISION_MAX_IMAGES} images")
    inline = any(image.url is None for _, images in messages for image in images)
    if inline and body_size > VISION_BASE64_REQUEST_LIMIT_BYTES:
        return Refusal(413, "Request Entity Too Large", code="request_too_large")
    return None
