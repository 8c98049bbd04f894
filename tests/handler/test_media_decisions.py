"""The media half of the planner, pure: which voice notes and images are understood and how,
what is refused before and after the download, and what a failure leads to."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from uuid import UUID

import pytest

from handler.conversation import decide_media
from handler.conversation.decide import stored_content
from handler.conversation.decide_media import LookAt, NotUnderstood, Transcribe, plan_media
from handler.errors import GroqRejected, GroqUnavailable, MediaRejected, WhatsAppRejected, WhatsAppUnavailable
from handler.model import (
    AssistantSettings,
    GroqConfig,
    MediaMetadata,
    MediaPolicy,
    Tenant,
    WhatsAppCredentials,
)
from shared.media import Location, Media
from shared.webhook import InboundMessage, MessageType

POLICY = MediaPolicy(
    max_audio_bytes=1_000,
    max_image_bytes=500,
    vision_model="qwen/qwen3.8-27b",
    transcription_model="whisper-large-v3-turbo",
)
TENANT = Tenant(
    user_id=UUID(int=1),
    whatsapp=WhatsAppCredentials(phone_number_id="1", access_token="EAA-1"),
    groq=GroqConfig(api_key="gsk_1", model="openai/gpt-oss-120b", temperature=0.7),
    assistant=AssistantSettings(
        system_prompt="", history_length=10, fallback_text="f", unsupported_media_text="n"
    ),
)
VOICE = Media(kind="audio", id="9", mime_type="audio/ogg; codecs=opus", voice=True)
PHOTO = Media(kind="image", id="8", mime_type="image/jpeg", caption="Le menu")


def message_with(media: Media | None = None, location: Location | None = None) -> InboundMessage:
    kind = MessageType(media.kind) if media else MessageType.LOCATION
    return InboundMessage(
        id="wamid.1",
        phone_number_id="1",
        customer_phone="2",
        type=kind,
        timestamp=None,
        text=None,
        raw={},
        media=media,
        location=location,
    )


def metadata(
    mime_type: str = "audio/ogg", file_size: int | None = 100, sha256: str | None = None
) -> MediaMetadata:
    return MediaMetadata(
        url="https://lookaside.fbsbx.com/x", mime_type=mime_type, sha256=sha256, file_size=file_size
    )


def test_a_voice_note_is_transcribed_with_the_tenants_model_and_language() -> None:
    assert plan_media(message_with(VOICE), TENANT, POLICY) == Transcribe(
        media=VOICE, model="whisper-large-v3-turbo", language=None, max_bytes=1_000
    )
    assert TENANT.groq is not None
    groq = replace(TENANT.groq, transcription_model="whisper-large-v3", transcription_language="fr")
    step = plan_media(message_with(VOICE), replace(TENANT, groq=groq), POLICY)
    assert isinstance(step, Transcribe) and (step.model, step.language) == ("whisper-large-v3", "fr")


def test_an_image_goes_to_the_tenants_vision_model_or_the_default() -> None:
    assert plan_media(message_with(PHOTO), TENANT, POLICY) == LookAt(
        media=PHOTO, model="qwen/qwen3.8-27b", max_bytes=500
    )


@pytest.mark.parametrize(
    ("media", "tenant", "reason"),
    [
        (VOICE, replace(TENANT, groq=None), "voice note not understood: groq not configured"),
        (
            VOICE,
            replace(TENANT, whatsapp=None),
            "voice note not understood: no WhatsApp token to fetch it with",
        ),
        (
            replace(VOICE, mime_type="audio/amr", voice=False),
            TENANT,
            "audio not understood: audio/amr is not a format Groq transcribes",
        ),
        (
            replace(PHOTO, mime_type="image/gif"),
            TENANT,
            "image not understood: image/gif is not an image type the model takes",
        ),
        (
            Media(kind="sticker", id="7", mime_type="image/webp", animated=True),
            TENANT,
            "sticker not understood: animated",
        ),
    ],
)
def test_what_cannot_be_understood_is_known_before_any_call(
    media: Media, tenant: Tenant, reason: str
) -> None:
    assert plan_media(message_with(media), tenant, POLICY) == NotUnderstood(reason=reason)


def test_a_model_that_cannot_see_or_cannot_hear() -> None:
    assert TENANT.groq is not None
    blind = replace(TENANT, groq=replace(TENANT.groq, vision_model="openai/gpt-oss-20b"))
    assert plan_media(message_with(PHOTO), blind, POLICY) == NotUnderstood(
        reason="image not understood: model openai/gpt-oss-20b cannot see images"
    )
    deaf = replace(TENANT, groq=replace(TENANT.groq, transcription_model="openai/gpt-oss-20b"))
    assert plan_media(message_with(VOICE), deaf, POLICY) == NotUnderstood(
        reason="voice note not understood: openai/gpt-oss-20b is not a speech-to-text model"
    )


def test_documents_videos_and_places_are_no_media_step() -> None:
    for media in (
        Media(kind="document", id="1", mime_type="application/pdf"),
        Media(kind="video", id="2", mime_type="video/mp4"),
    ):
        assert plan_media(message_with(media), TENANT, POLICY) is None
    assert plan_media(message_with(location=Location(latitude=1, longitude=2)), TENANT, POLICY) is None


def test_graphs_type_and_size_decide_before_the_download() -> None:
    step = Transcribe(media=VOICE, model="whisper-large-v3", language=None, max_bytes=1_000)
    assert decide_media.refusal_before_download(step, metadata()) is None
    assert (
        decide_media.refusal_before_download(step, metadata(file_size=None)) is None
    )  # the download enforces it
    assert (
        decide_media.refusal_before_download(step, metadata(file_size=1_001))
        == "1001 bytes, over the limit of 1000"
    )
    assert (
        decide_media.refusal_before_download(step, metadata("audio/amr"))
        == "audio/amr is not a format Groq transcribes"
    )
    assert decide_media.upload_name(step, metadata("audio/mpeg")) == "audio.mp3"
    assert decide_media.upload_name(step, metadata("")) == "voice.ogg"  # the webhook's type


def test_the_bytes_must_match_metas_checksum_in_hex_or_base64() -> None:
    data = b"OggS voice"
    digest = hashlib.sha256(data).digest()
    step = Transcribe(
        media=replace(VOICE, sha256=base64.b64encode(digest).decode()),
        model="m",
        language=None,
        max_bytes=1_000,
    )
    assert decide_media.refusal_after_download(step, metadata(sha256=digest.hex()), data) is None
    assert decide_media.refusal_after_download(step, metadata(sha256="ab" * 32), data) == (
        "the file does not match Meta's sha256"
    )
    assert (
        decide_media.refusal_after_download(step, metadata(), b"tampered")
        == "the file does not match Meta's sha256"
    )
    assert (
        decide_media.refusal_after_download(replace(step, check_sha256=False), metadata(), b"tampered")
        is None
    )
    assert decide_media.refusal_after_download(step, metadata(), b"") == "empty file"


def test_after_a_failure_the_notice_unless_a_retry_may_cure_it() -> None:
    step = LookAt(media=PHOTO, model="qwen/qwen3.8-27b", max_bytes=500)
    passing = WhatsAppUnavailable(code=None, title="network: ConnectError", http_status=None)
    assert decide_media.after_media_failure(step, passing, retries_remain=True) is None
    assert decide_media.after_media_failure(step, passing, retries_remain=False) == NotUnderstood(
        reason="image not understood: graph: network: ConnectError"
    )
    assert decide_media.after_media_failure(step, GroqUnavailable("http 503"), retries_remain=True) is None
    refused = WhatsAppRejected(code=190, title="Session has expired", http_status=401)
    assert decide_media.after_media_failure(step, refused, retries_remain=True) == NotUnderstood(
        reason="image not understood: graph 190: Session has expired"
    )
    assert decide_media.after_media_failure(
        step, GroqRejected("http 413 request_too_large"), retries_remain=True
    ) == (NotUnderstood(reason="image not understood: groq rejected: http 413 request_too_large"))
    assert decide_media.after_media_failure(
        step, MediaRejected("empty file"), retries_remain=True
    ) == NotUnderstood(reason="image not understood: empty file")


def test_what_the_log_keeps() -> None:
    assert stored_content(message_with(PHOTO)) == "[image] Le menu"
    assert stored_content(message_with(VOICE)) == "[audio]"
    place = Location(latitude=-4.2634, longitude=15.2429, name="Marché Total", address=None)
    assert stored_content(message_with(location=place)) == "[location] Marché Total (-4.2634, 15.2429)"
    assert stored_content(message_with(location=Location(latitude=0, longitude=0))) == "[location] (0, 0)"


def test_an_image_prompt_is_the_caption_and_a_data_url() -> None:
    step = LookAt(media=PHOTO, model="qwen/qwen3.8-27b", max_bytes=500)
    messages = decide_media.build_image_messages("Tu es le boulanger.", (), step, "image/jpeg", b"\xff\xd8")
    assert messages[0] == {"role": "system", "content": "Tu es le boulanger."}
    assert messages[1]["content"] == [
        {"type": "text", "text": "Le menu"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9g="}},
    ]
