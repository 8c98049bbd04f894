"""The Groq stand-in's speech to text and image parts, driven by the real `groq` SDK: what Groq
takes, and what it refuses (formats named by the file's extension, 25 MB, images for models that
see only, 4 MB of base64)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from typing import Any

import groq
import pytest

from standins.groq import OFFLINE_LABEL, GroqStandIn
from standins.groq_media import parse_multipart
from tests.media_samples import jpeg_image, ogg_voice_note

VISION = "qwen/qwen3.8-27b"
VOICE = ogg_voice_note(6_000)


@pytest.fixture(scope="module")
def shared_standin() -> Iterator[GroqStandIn]:
    with GroqStandIn() as standin:
        yield standin


@pytest.fixture
def standin(shared_standin: GroqStandIn) -> GroqStandIn:
    shared_standin.reset()
    return shared_standin


@pytest.fixture
async def client(standin: GroqStandIn) -> AsyncIterator[groq.AsyncGroq]:
    async with groq.AsyncGroq(api_key="gsk_tenant_a", base_url=standin.base_url, max_retries=0) as sdk:
        yield sdk


def error_of(exc: groq.APIStatusError) -> dict[str, Any]:
    assert isinstance(exc.body, dict) and isinstance(exc.body["error"], dict)
    return exc.body["error"]


async def test_a_voice_note_named_ogg_is_transcribed(standin: GroqStandIn, client: groq.AsyncGroq) -> None:
    standin.transcribe = lambda request: "Bonjour, vous livrez le dimanche ?"

    transcription = await client.audio.transcriptions.create(
        file=("voice.ogg", VOICE, "audio/ogg"), model="whisper-large-v3-turbo", language="fr"
    )

    assert transcription.text == "Bonjour, vous livrez le dimanche ?"
    [call] = standin.transcriptions
    assert (call.api_key, call.model, call.file_name, call.language, call.status) == (
        "gsk_tenant_a",
        "whisper-large-v3-turbo",
        "voice.ogg",
        "fr",
        200,
    )
    assert call.data == VOICE and call.file_type == "audio/ogg"


async def test_the_default_transcript_labels_itself_offline(client: groq.AsyncGroq) -> None:
    transcription = await client.audio.transcriptions.create(
        file=("voice.opus", VOICE), model="whisper-large-v3"
    )
    assert transcription.text.startswith(OFFLINE_LABEL) and "voice.opus" in transcription.text


@pytest.mark.parametrize("name", ["voice.oga", "voice.aac", "voice"])
async def test_a_file_name_groq_does_not_take_is_unsupported_audio_format(
    client: groq.AsyncGroq, name: str
) -> None:
    with pytest.raises(groq.BadRequestError) as raised:
        await client.audio.transcriptions.create(file=(name, VOICE), model="whisper-large-v3-turbo")
    assert error_of(raised.value)["code"] == "unsupported_audio_format"


async def test_bytes_that_are_not_the_format_named_cannot_be_decoded(client: groq.AsyncGroq) -> None:
    with pytest.raises(groq.BadRequestError) as raised:
        await client.audio.transcriptions.create(
            file=("voice.ogg", b"not audio at all"), model="whisper-large-v3"
        )
    assert "valid media file" in error_of(raised.value)["message"]


async def test_over_25_mb_is_413(standin: GroqStandIn, client: groq.AsyncGroq) -> None:
    big = VOICE + b"\x00" * (25 * 1000 * 1000)
    with pytest.raises(groq.APIStatusError) as raised:
        await client.audio.transcriptions.create(file=("voice.ogg", big), model="whisper-large-v3-turbo")
    assert raised.value.status_code == 413 and error_of(raised.value)["code"] == "request_too_large"


@pytest.mark.parametrize(
    ("model", "status", "code"),
    [
        ("distil-whisper-large-v3-en", 400, "model_decommissioned"),
        ("whisper-tiny", 404, "model_not_found"),
        ("openai/gpt-oss-120b", 400, None),
    ],
)
async def test_only_current_speech_models_transcribe(
    client: groq.AsyncGroq, model: str, status: int, code: str | None
) -> None:
    with pytest.raises(groq.APIStatusError) as raised:
        await client.audio.transcriptions.create(file=("voice.ogg", VOICE), model=model)
    assert raised.value.status_code == status
    assert error_of(raised.value).get("code") == code


async def test_a_bad_key_and_scripted_faults(standin: GroqStandIn) -> None:
    async with groq.AsyncGroq(api_key="sk-openai", base_url=standin.base_url, max_retries=0) as wrong:
        with pytest.raises(groq.AuthenticationError):
            await wrong.audio.transcriptions.create(file=("voice.ogg", VOICE), model="whisper-large-v3")
    standin.fail_transcriptions(status=503)
    async with groq.AsyncGroq(api_key="gsk_a", base_url=standin.base_url, max_retries=0) as sdk:
        with pytest.raises(groq.InternalServerError):
            await sdk.audio.transcriptions.create(file=("voice.ogg", VOICE), model="whisper-large-v3")
        assert (
            await sdk.audio.transcriptions.create(file=("voice.ogg", VOICE), model="whisper-large-v3")
        ).text
    assert [call.status for call in standin.transcriptions] == [401, 503, 200]


def image_content(data: bytes, mime: str = "image/jpeg", caption: str = "Est-ce en stock ?") -> list[Any]:
    url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return [{"type": "text", "text": caption}, {"type": "image_url", "image_url": {"url": url}}]


async def test_a_model_that_sees_answers_an_image(standin: GroqStandIn, client: groq.AsyncGroq) -> None:
    completion = await client.chat.completions.create(
        model=VISION,
        messages=[{"role": "user", "content": image_content(jpeg_image(3_000))}],
        reasoning_format="hidden",
        reasoning_effort="none",
    )

    answer = completion.choices[0].message.content or ""
    assert "You wrote: Est-ce en stock ?" in answer and "image/jpeg of 3000 bytes" in answer
    [call] = standin.requests
    assert call.last_user_message == "Est-ce en stock ?"
    assert [(image.mime_type, image.size) for image in call.messages[-1].images] == [("image/jpeg", 3000)]


async def test_a_model_that_cannot_see_refuses_an_image_part(client: groq.AsyncGroq) -> None:
    with pytest.raises(groq.BadRequestError) as raised:
        await client.chat.completions.create(
            model="openai/gpt-oss-120b",
            messages=[
                {"role": "system", "content": "Tu es un assistant."},
                {"role": "user", "content": image_content(jpeg_image())},
            ],
        )
    assert error_of(raised.value)["message"] == "messages[1].content must be a string"


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (image_content(jpeg_image(), mime="image/gif"), 400),
        ([{"type": "image_url", "image_url": {"url": "data:image/png;base64,!!!"}}], 400),
        ([{"type": "image_url", "image_url": {"url": "http://example.com/a.png"}}], 400),
        (image_content(jpeg_image()) * 4, 400),  # four images: qwen3.8 takes three
        (image_content(jpeg_image(3_100_000)), 413),  # over 4 MB once in base64
    ],
)
async def test_what_groq_refuses_of_images(client: groq.AsyncGroq, content: list[Any], status: int) -> None:
    with pytest.raises(groq.APIStatusError) as raised:
        await client.chat.completions.create(
            model=VISION, messages=[{"role": "user", "content": content}], reasoning_format="hidden"
        )
    assert raised.value.status_code == status


def test_multipart_bodies_are_read_exactly() -> None:
    data = bytes(range(256)) * 4 + b"\r\n--not-the-boundary\r\n"
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-large-v3\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="voice.ogg"\r\n'
        b"Content-Type: audio/ogg\r\n\r\n" + data + b"\r\n--XyZ--\r\n"
    )
    parts = parse_multipart("multipart/form-data; boundary=XyZ", body)
    assert parts is not None
    assert parts["model"].text == "whisper-large-v3"
    assert (parts["file"].filename, parts["file"].content_type, parts["file"].data) == (
        "voice.ogg",
        "audio/ogg",
        data,
    )
    assert parse_multipart("application/json", body) is None
    assert parse_multipart("multipart/form-data; boundary=XyZ", b"--XyZ\r\nno end") is None
