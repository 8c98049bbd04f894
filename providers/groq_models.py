"""Groq's models as of December 2026: the one catalogue the schema default, `wa-admin`, the handler
and the Groq stand-in read.

From Groq's models and deprecations pages (console.groq.com/docs/models, /docs/deprecations).
Retirements of 2026 apply to free and developer plans (enterprise contracts keep some of them);
Groq answers a retired model with 400 `model_decommissioned` (older retirements) or 404
`model_not_found` (2026's), and an unknown one with 404 `model_not_found`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Reasoning(StrEnum):
    """How a model reasons, and so which of Groq's parameters keep reasoning out of the answer."""

    NONE = "none"  # no reasoning: neither parameter may be sent
    GPT_OSS = "gpt_oss"  # `include_reasoning=false`; `reasoning_effort` low/medium/high
    QWEN = "qwen"  # `reasoning_format=hidden`; `reasoning_effort` none/default/low/medium/high


class Kind(StrEnum):
    CHAT = "chat"
    SPEECH_TO_TEXT = "speech_to_text"
    SAFETY = "safety"


@dataclass(frozen=True, slots=True, kw_only=True)
class GroqModel:
    id: str
    kind: Kind = Kind.CHAT
    reasoning: Reasoning = Reasoning.NONE
    vision: bool = False  # takes image parts in chat messages
    preview: bool = False  # Groq: "for evaluation purposes only", may go at short notice


@dataclass(frozen=True, slots=True, kw_only=True)
class RetiredModel:
    id: str
    replaced_by: str | None  # Groq's recommendation (possibly retired itself since); None: none
    retired_on: date | None
    # How Groq refuses it: 400 model_decommissioned before 2026, 404 model_not_found since.
    refused_as_not_found: bool = False


CURRENT_MODELS: tuple[GroqModel, ...] = (
    GroqModel(id="openai/gpt-oss-120b", reasoning=Reasoning.GPT_OSS),
    GroqModel(id="openai/gpt-oss-20b", reasoning=Reasoning.GPT_OSS),
    GroqModel(id="qwen/qwen3.8-27b", reasoning=Reasoning.QWEN, vision=True, preview=True),
    GroqModel(id="openai/gpt-oss-safeguard-20b", kind=Kind.SAFETY, reasoning=Reasoning.GPT_OSS, preview=True),
    GroqModel(id="whisper-large-v3-turbo", kind=Kind.SPEECH_TO_TEXT),
    GroqModel(id="whisper-large-v3", kind=Kind.SPEECH_TO_TEXT),
)

_D = date.fromisoformat
RETIRED_MODELS: tuple[RetiredModel, ...] = (
    RetiredModel(
        id="groq/compound", replaced_by=None, retired_on=_D("2026-09-21"), refused_as_not_found=True
    ),
    RetiredModel(
        id="groq/compound-mini", replaced_by=None, retired_on=_D("2026-09-21"), refused_as_not_found=True
    ),
    RetiredModel(
        id="qwen/qwen3.6-27b",
        replaced_by="qwen/qwen3.8-27b",
        retired_on=_D("2026-09-14"),
        refused_as_not_found=True,
    ),
    RetiredModel(
        id="llama-3.3-70b-versatile",
        replaced_by="openai/gpt-oss-120b",
        retired_on=_D("2026-08-16"),
        refused_as_not_found=True,
    ),
    RetiredModel(
        id="llama-3.1-8b-instant",
        replaced_by="openai/gpt-oss-20b",
        retired_on=_D("2026-08-16"),
        refused_as_not_found=True,
    ),
    RetiredModel(
        id="qwen/qwen3-32b",
        replaced_by="openai/gpt-oss-120b",
        retired_on=_D("2026-07-17"),
        refused_as_not_found=True,
    ),
    RetiredModel(
        id="meta-llama/llama-4-scout-17b-16e-instruct",
        replaced_by="openai/gpt-oss-120b",
        retired_on=_D("2026-07-17"),
        refused_as_not_found=True,
    ),
    RetiredModel(
        id="moonshotai/kimi-k2-instruct-0905",
        replaced_by="openai/gpt-oss-120b",
        retired_on=_D("2026-04-15"),
        refused_as_not_found=True,
    ),
    RetiredModel(
        id="meta-llama/llama-4-maverick-17b-128e-instruct",
        replaced_by="openai/gpt-oss-120b",
        retired_on=_D("2026-03-09"),
        refused_as_not_found=True,
    ),
    RetiredModel(
        id="meta-llama/llama-guard-4-12b",
        replaced_by="openai/gpt-oss-safeguard-20b",
        retired_on=_D("2026-03-05"),
        refused_as_not_found=True,
    ),
    RetiredModel(
        id="moonshotai/kimi-k2-instruct", replaced_by="openai/gpt-oss-120b", retired_on=_D("2025-10-10")
    ),
    RetiredModel(id="gemma2-9b-it", replaced_by="llama-3.1-8b-instant", retired_on=_D("2025-10-08")),
    RetiredModel(
        id="deepseek-r1-distill-llama-70b", replaced_by="openai/gpt-oss-120b", retired_on=_D("2025-10-02")
    ),
    # The seed system's default.
    RetiredModel(id="llama3-70b-8192", replaced_by="llama-3.3-70b-versatile", retired_on=_D("2025-08-30")),
    RetiredModel(id="llama3-8b-8192", replaced_by="llama-3.1-8b-instant", retired_on=_D("2025-08-30")),
    RetiredModel(
        id="distil-whisper-large-v3-en", replaced_by="whisper-large-v3-turbo", retired_on=_D("2025-08-23")
    ),
    RetiredModel(id="mistral-saba-24b", replaced_by="qwen/qwen3-32b", retired_on=_D("2025-07-30")),
    RetiredModel(id="qwen-qwq-32b", replaced_by="qwen/qwen3-32b", retired_on=_D("2025-07-14")),
    RetiredModel(
        id="llama-guard-3-8b", replaced_by="meta-llama/llama-guard-4-12b", retired_on=_D("2025-06-06")
    ),
    RetiredModel(id="llama-3.2-1b-preview", replaced_by="llama-3.1-8b-instant", retired_on=_D("2025-04-14")),
    RetiredModel(id="llama-3.2-3b-preview", replaced_by="llama-3.1-8b-instant", retired_on=_D("2025-04-14")),
    RetiredModel(
        id="llama-3.2-11b-vision-preview",
        replaced_by="meta-llama/llama-4-scout-17b-16e-instruct",
        retired_on=_D("2025-04-14"),
    ),
    RetiredModel(
        id="llama-3.2-90b-vision-preview",
        replaced_by="meta-llama/llama-4-scout-17b-16e-instruct",
        retired_on=_D("2025-04-14"),
    ),
    RetiredModel(id="deepseek-r1-distill-qwen-32b", replaced_by="qwen-qwq-32b", retired_on=_D("2025-04-14")),
    RetiredModel(id="qwen-2.5-32b", replaced_by="qwen-qwq-32b", retired_on=_D("2025-04-14")),
    RetiredModel(id="qwen-2.5-coder-32b", replaced_by="openai/gpt-oss-120b", retired_on=_D("2025-04-14")),
    RetiredModel(
        id="llama-3.3-70b-specdec", replaced_by="llama-3.3-70b-versatile", retired_on=_D("2025-04-14")
    ),
    RetiredModel(id="mixtral-8x7b-32768", replaced_by="llama-3.3-70b-versatile", retired_on=_D("2025-03-20")),
    RetiredModel(
        id="llama-3.1-70b-versatile", replaced_by="llama-3.3-70b-versatile", retired_on=_D("2025-01-24")
    ),
    RetiredModel(
        id="llama-3.1-70b-specdec", replaced_by="llama-3.3-70b-specdec", retired_on=_D("2025-01-24")
    ),
    RetiredModel(
        id="llama3-groq-70b-8192-tool-use-preview",
        replaced_by="llama-3.3-70b-versatile",
        retired_on=_D("2025-01-06"),
    ),
    RetiredModel(
        id="llama3-groq-8b-8192-tool-use-preview",
        replaced_by="llama-3.3-70b-versatile",
        retired_on=_D("2025-01-06"),
    ),
    RetiredModel(id="gemma-7b-it", replaced_by="gemma2-9b-it", retired_on=_D("2024-12-18")),
    RetiredModel(id="llama2-70b-4096", replaced_by="llama-3.3-70b-versatile", retired_on=None),
)

# New tenants' model (the schema default, `wa-admin set-groq`'s) and the handler's stand-in for a
# model Groq refuses (DEFAULT_GROQ_MODEL overrides it per deployment). Groq's replacement for the
# product's former default, llama-3.3-70b-versatile.
DEFAULT_CHAT_MODEL = "openai/gpt-oss-120b"
DEFAULT_TRANSCRIPTION_MODEL = "whisper-large-v3-turbo"
# Images go to this model unless a tenant names another: the only self-serve vision model since
# Groq retired Llama 4 Scout (2026-07-17) and Qwen 3.6 (2026-09-14).
DEFAULT_VISION_MODEL = "qwen/qwen3.8-27b"

# --- what Groq takes (console.groq.com/docs/speech-to-text, /docs/vision) ----------------------
# Speech to text: a file uploaded with the request is refused above 25 MB (413), on every plan.
TRANSCRIPTION_UPLOAD_LIMIT_BYTES = 25 * 1000 * 1000
# Groq reads the format from the file name's extension (".oga" is refused, the same bytes named
# ".ogg" pass): the name each audio type is uploaded under. WhatsApp records voice notes as Opus
# in OGG ("audio/ogg; codecs=opus"); AAC passes as ".m4a". AMR is not a format Groq takes.
TRANSCRIPTION_FILE_NAMES = {
    "audio/ogg": "voice.ogg",
    "audio/opus": "voice.opus",
    "audio/mpeg": "audio.mp3",
    "audio/mp3": "audio.mp3",
    "audio/mp4": "audio.m4a",
    "audio/m4a": "audio.m4a",
    "audio/x-m4a": "audio.m4a",
    "audio/aac": "audio.m4a",
    "audio/wav": "audio.wav",
    "audio/x-wav": "audio.wav",
    "audio/webm": "audio.webm",
    "audio/flac": "audio.flac",
}
# The extensions Groq's transcription endpoint accepts (its own error message lists them).
TRANSCRIPTION_EXTENSIONS = ("flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "opus", "wav", "webm")
# Vision: a request holding a base64 image is refused above 4 MB (413), at most 3 images for
# qwen3.8; images go as data URLs of these types.
VISION_BASE64_REQUEST_LIMIT_BYTES = 4 * 1000 * 1000
VISION_MAX_IMAGES = 3
VISION_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
# The largest image whose base64 (4/3 larger) leaves room in such a request for the prompt.
VISION_IMAGE_LIMIT_BYTES = 2_900_000

_CURRENT = {model.id: model for model in CURRENT_MODELS}
_RETIRED = {model.id: model for model in RETIRED_MODELS}


def current_model(model_id: str) -> GroqModel | None:
    return _CURRENT.get(model_id.strip())


def retired_model(model_id: str) -> RetiredModel | None:
    return _RETIRED.get(model_id.strip())


def replacement_for_retired(model_id: str) -> str | None:
    """The current model to use instead of a retired one (following Groq's recommendations until
    one is current; the default when the chain ends); None when `model_id` is not retired."""
    retired = retired_model(model_id)
    if retired is None:
        return None
    seen = {retired.id}
    while True:
        following = retired.replaced_by
        if following is None:  # retired without a successor (Groq's Compound systems)
            return DEFAULT_CHAT_MODEL
        if following in _CURRENT:
            return following
        nxt = _RETIRED.get(following)
        if nxt is None or nxt.id in seen:
            return DEFAULT_CHAT_MODEL
        seen.add(nxt.id)
        retired = nxt


def reasoning_of(model_id: str) -> Reasoning:
    """How `model_id` reasons; a model outside the catalogue is treated as not reasoning."""
    model = current_model(model_id)
    return model.reasoning if model is not None else Reasoning.NONE


def can_see_images(model_id: str) -> bool:
    model = current_model(model_id)
    return model is not None and model.vision


def transcribes(model_id: str) -> bool:
    """A speech-to-text model of the catalogue (a chat model cannot take audio)."""
    model = current_model(model_id)
    return model is not None and model.kind is Kind.SPEECH_TO_TEXT


def transcription_file_name(mime_type: str) -> str | None:
    """The file name an audio type is uploaded under; None: Groq cannot transcribe that type."""
    return TRANSCRIPTION_FILE_NAMES.get(mime_type.split(";", 1)[0].strip().lower())


__all__ = [
    "CURRENT_MODELS",
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_TRANSCRIPTION_MODEL",
    "DEFAULT_VISION_MODEL",
    "RETIRED_MODELS",
    "TRANSCRIPTION_EXTENSIONS",
    "TRANSCRIPTION_FILE_NAMES",
    "TRANSCRIPTION_UPLOAD_LIMIT_BYTES",
    "VISION_BASE64_REQUEST_LIMIT_BYTES",
    "VISION_IMAGE_LIMIT_BYTES",
    "VISION_IMAGE_TYPES",
    "VISION_MAX_IMAGES",
    "GroqModel",
    "Kind",
    "Reasoning",
    "RetiredModel",
    "can_see_images",
    "current_model",
    "reasoning_of",
    "replacement_for_retired",
    "retired_model",
    "transcribes",
    "transcription_file_name",
]
