"""A file the chat sends as a customer's voice note or photo: only what WhatsApp itself would send.

The type comes from the file's extension, as a phone labels it; the first bytes must be that format
and the size within WhatsApp's limits, else the chat says why in one line and sends nothing (the
handler's own verdicts on what Meta delivers are what the chat is there to show, not a file that
could never arrive).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePath

from providers.graph_api import WHATSAPP_AUDIO_LIMIT_BYTES, WHATSAPP_IMAGE_LIMIT_BYTES


class MediaKind(StrEnum):
    VOICE = "voice"
    IMAGE = "image"


@dataclass(frozen=True, slots=True)
class _Format:
    mime_type: str  # as WhatsApp's webhook names it
    name: str  # for the person reading the chat
    signatures: tuple[tuple[int, bytes], ...]  # (offset, bytes) the file starts with, any of them


_MP3 = ((0, b"ID3"), (0, b"\xff\xfb"), (0, b"\xff\xf3"), (0, b"\xff\xf2"))
_OGG = _Format("audio/ogg; codecs=opus", "OGG/Opus audio", ((0, b"OggS"),))
_FORMATS: dict[MediaKind, dict[str, _Format]] = {
    MediaKind.VOICE: {
        ".ogg": _OGG,
        ".opus": _OGG,
        ".mp3": _Format("audio/mpeg", "MP3 audio", _MP3),
        ".m4a": _Format("audio/mp4", "MP4 audio", ((4, b"ftyp"),)),
        ".aac": _Format("audio/aac", "AAC audio", ((0, b"\xff\xf1"), (0, b"\xff\xf9"))),
        ".amr": _Format("audio/amr", "AMR audio", ((0, b"#!AMR"),)),
    },
    MediaKind.IMAGE: {
        ".jpg": _Format("image/jpeg", "a JPEG image", ((0, b"\xff\xd8\xff"),)),
        ".jpeg": _Format("image/jpeg", "a JPEG image", ((0, b"\xff\xd8\xff"),)),
        ".png": _Format("image/png", "a PNG image", ((0, b"\x89PNG\r\n\x1a\n"),)),
        ".webp": _Format("image/webp", "a WebP image", ((8, b"WEBP"),)),
    },
}
_LIMITS = {MediaKind.VOICE: WHATSAPP_AUDIO_LIMIT_BYTES, MediaKind.IMAGE: WHATSAPP_IMAGE_LIMIT_BYTES}
_WHAT = {MediaKind.VOICE: "audio", MediaKind.IMAGE: "images"}
_SIGNATURE_BYTES = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaFile:
    path: Path
    mime_type: str
    data: bytes = field(repr=False)


class MediaFileProblem(Exception):
    """Why the file cannot go out: one line for the chat."""


def extensions(kind: MediaKind) -> tuple[str, ...]:
    return tuple(_FORMATS[kind])


def mime_type_for(kind: MediaKind, path: str) -> str | None:
    """The type WhatsApp would send `path` as, from its extension; None: not a `kind` file."""
    found = _FORMATS[kind].get(PurePath(path).suffix.lower())
    return found.mime_type if found is not None else None


def read_media_file(kind: MediaKind, path: Path) -> MediaFile:
    """The file, checked as WhatsApp would (size before reading: a huge file is never loaded);
    MediaFileProblem otherwise."""
    found = _FORMATS[kind].get(path.suffix.lower())
    if found is None:
        raise MediaFileProblem(f"/{kind.value} takes a {', '.join(_FORMATS[kind])} file, got {path.name}")
    size = _size(path)
    limit = _LIMITS[kind]
    if size == 0:
        raise MediaFileProblem(f"{path} is empty: nothing sent")
    if size > limit:
        raise MediaFileProblem(
            f"{path} is {size:,} bytes: WhatsApp sends {_WHAT[kind]} up to {limit // (1024 * 1024)} MB; nothing sent"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MediaFileProblem(
            f"cannot read {path}: {exc.strerror or type(exc).__name__}; nothing sent"
        ) from None
    if not any(data[offset : offset + len(magic)] == magic for offset, magic in found.signatures):
        raise MediaFileProblem(
            f"{path} is not {found.name} (its first bytes are {data[:_SIGNATURE_BYTES]!r}); nothing sent"
        )
    return MediaFile(path=path, mime_type=found.mime_type, data=data)


def _size(path: Path) -> int:
    try:
        status = path.stat()
    except FileNotFoundError:
        raise MediaFileProblem(f"no such file: {path}; nothing sent") from None
    except OSError as exc:
        raise MediaFileProblem(
            f"cannot read {path}: {exc.strerror or type(exc).__name__}; nothing sent"
        ) from None
    if not stat.S_ISREG(status.st_mode):
        raise MediaFileProblem(f"{path} is not a file; nothing sent")
    return status.st_size
