"""Voice notes and images understood and answered, end to end: Meta's signed webhook through the
forwarder and `lambda_handler`, the media fetched from the Graph stand-in with the tenant's token,
transcribed or seen by the Groq stand-in with the tenant's key; and every way it can fail ending
in the tenant's notice with the reason recorded."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator

import asyncpg
import pytest

from handler.errors import RetryLater
from shared.logs import JsonFormatter
from standins import meta
from standins.graph import GraphStandIn
from standins.graph_media import StoredMedia
from standins.groq import OFFLINE_LABEL, GroqStandIn
from standins.lambda_invoke import LambdaInvokeStandin
from tests.factories import SeededTenant, add_tenant
from tests.handler.conftest import LambdaContainer, LambdaTestContext
from tests.handler.events import business_of, envelope_event
from tests.handler.system import System, running_system
from tests.media_samples import image_message, jpeg_image, ogg_voice_note, voice_note_message

CUSTOMER = "242066582610"
TRANSCRIPT = "Bonjour, est-ce que vous livrez à Pointe-Noire ce samedi ?"
VISION = "qwen/qwen3.8-27b"


@pytest.fixture
def system(lambdas: LambdaInvokeStandin) -> Iterator[System]:
    with running_system(lambdas) as running:
        yield running


def voice_note_of(graph: GraphStandIn, tenant: SeededTenant, size: int = 6_000) -> StoredMedia:
    """A voice note the customer sent to the tenant's number: only that tenant's token fetches it."""
    return graph.add_media(
        ogg_voice_note(size),
        mime_type="audio/ogg; codecs=opus",
        phone_number_id=tenant.phone_number_id,
        token=tenant.access_token,
    )


def photo_of(graph: GraphStandIn, tenant: SeededTenant, size: int = 3_000) -> StoredMedia:
    return graph.add_media(
        jpeg_image(size),
        mime_type="image/jpeg",
        phone_number_id=tenant.phone_number_id,
        token=tenant.access_token,
    )


def webhook(tenant: SeededTenant, *items: dict[str, object]) -> dict[str, object]:
    return meta.webhook_payload(meta.messages_change(*items, business=business_of(tenant)))


async def customer_row(db: asyncpg.Connection) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT content, message_type, status, media_outcome, error_title FROM customer_conversations"
        " WHERE sender = 'user'"
    )
    assert row is not None
    return row


async def notice_of(db: asyncpg.Connection, tenant: SeededTenant) -> str:
    notice: str = await db.fetchval(
        "SELECT unsupported_media_text FROM user_groq_config WHERE user_id = $1", tenant.user_id
    )
    return notice


# --- understood ---------------------------------------------------------------------------------


async def test_a_voice_note_is_transcribed_answered_like_a_text_and_stored_as_its_transcript(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    media = voice_note_of(graph, tenant)
    groq.transcribe = lambda request: TRANSCRIPT

    response = system.post_and_settle(webhook(tenant, voice_note_message(media, sender=CUSTOMER)))

    assert response.status_code == 200
    assert [(r.stage, r.media_id, r.status) for r in graph.media_requests] == [
        ("metadata", media.id, 200),
        ("download", media.id, 200),
    ]
    [transcription] = groq.transcriptions
    assert (transcription.api_key, transcription.model, transcription.file_name) == (
        tenant.groq_key,
        "whisper-large-v3-turbo",
        "voice.ogg",  # Opus in OGG, named so that Groq reads it
    )
    assert transcription.data == media.data and transcription.language is None
    [chat] = groq.requests
    assert (chat.api_key, chat.model, chat.last_user_message) == (tenant.groq_key, tenant.model, TRANSCRIPT)
    [sent] = graph.delivered
    assert sent.to == CUSTOMER and sent.token == tenant.access_token
    assert sent.body is not None and sent.body.endswith(f"You wrote: {TRANSCRIPT}")
    row = await customer_row(db)
    assert (row["content"], row["message_type"], row["status"], row["media_outcome"]) == (
        TRANSCRIPT,
        "audio",
        "answered",
        "transcribed",
    )
    assert row["error_title"] is None


async def test_the_transcript_is_history_for_the_next_message(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    groq.transcribe = lambda request: TRANSCRIPT
    await container.invoke(envelope_event(webhook(tenant, voice_note_message(voice_note_of(graph, tenant)))))

    await container.invoke(envelope_event(webhook(tenant, meta.text_message("Et le dimanche ?"))))

    assert [(turn.role, turn.content) for turn in groq.requests[-1].history][0] == ("user", TRANSCRIPT)


@pytest.mark.parametrize("caption", ["Est-ce que vous avez ce modèle en stock ?", None])
async def test_an_image_is_seen_by_a_vision_model_and_only_its_caption_is_stored(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn, caption: str | None
) -> None:
    tenant = await add_tenant(db, 1)
    media = photo_of(graph, tenant)

    system.post_and_settle(webhook(tenant, image_message(media, caption, sender=CUSTOMER)))

    [chat] = groq.requests
    assert (chat.api_key, chat.model, chat.status) == (tenant.groq_key, VISION, 200)
    assert (chat.include_reasoning, chat.reasoning_format) == (None, "hidden")
    [image] = chat.messages[-1].images
    assert (image.mime_type, image.size) == ("image/jpeg", len(media.data))
    if caption is not None:
        assert chat.last_user_message == caption
    else:
        assert "without a caption" in chat.last_user_message
    assert groq.transcriptions == []
    [sent] = graph.delivered
    assert sent.body is not None and "I see 1 image: image/jpeg" in sent.body
    row = await customer_row(db)
    assert row["content"] == (f"[image] {caption}" if caption else "[image]")
    assert (row["status"], row["media_outcome"], row["error_title"]) == ("answered", "seen", None)


async def test_a_still_sticker_is_seen_and_an_animated_one_gets_the_notice(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    still = graph.add_media(
        b"RIFF\x00\x00WEBPVP8 ", mime_type="image/webp", phone_number_id=tenant.phone_number_id
    )
    item = meta.media_message(
        "sticker", media_id=still.id, mime_type="image/webp", sha256=still.sha256_base64
    )
    animated = meta.sticker_message(animated=True, sender="33700000000")

    await container.invoke(envelope_event(webhook(tenant, item, animated)))

    [chat] = groq.requests
    assert chat.model == VISION and "sticker" in chat.last_user_message
    outcomes = await db.fetch(
        "SELECT media_outcome, error_title FROM customer_conversations WHERE sender = 'user' ORDER BY phone_number"
    )
    assert [(r["media_outcome"], r["error_title"]) for r in outcomes] == [
        ("seen", None),
        ("fell_back", "sticker not understood: animated"),
    ]
    assert len(graph.delivered) == 2


async def test_the_tenants_own_models_and_language_hint(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    await db.execute(
        "UPDATE user_groq_config SET transcription_model = 'whisper-large-v3', transcription_language = 'fr'"
    )

    await container.invoke(envelope_event(webhook(tenant, voice_note_message(voice_note_of(graph, tenant)))))

    [transcription] = groq.transcriptions
    assert (transcription.model, transcription.language, transcription.status) == (
        "whisper-large-v3",
        "fr",
        200,
    )
    assert groq.requests[0].last_user_message.startswith(OFFLINE_LABEL + " transcript of voice.ogg")


async def test_a_location_is_answered_from_its_name_and_address(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn
) -> None:
    tenant = await add_tenant(db, 1)

    await container.invoke(envelope_event(webhook(tenant, meta.location_message())))

    words = "[location] Tour Eiffel, Champ de Mars, Paris (48.8584, 2.2945)"
    assert groq.requests[0].last_user_message == words
    assert (await customer_row(db))["content"] == words


# --- not understood: the notice, with the reason ------------------------------------------------


async def test_an_oversize_voice_note_is_refused_before_it_is_downloaded(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    media = voice_note_of(graph, tenant, size=16 * 1024 * 1024 + 1)  # over WhatsApp's (and our) 16 MB

    system.post_and_settle(webhook(tenant, voice_note_message(media, sender=CUSTOMER)))

    assert [r.stage for r in graph.media_requests] == ["metadata"]  # never downloaded
    assert groq.transcriptions == [] and groq.requests == []
    assert [sent.body for sent in graph.delivered] == [await notice_of(db, tenant)]
    row = await customer_row(db)
    assert (row["content"], row["status"], row["media_outcome"]) == ("[audio]", "answered", "fell_back")
    assert (
        row["error_title"]
        == f"voice note not understood: {len(media.data)} bytes, over the limit of 16777216"
    )


async def test_a_refused_download_ends_in_the_notice_with_its_reason(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    media = photo_of(graph, tenant)
    graph.fail_media(None, stage="download", status=403, code=10)  # permission denied: not retried

    system.post_and_settle(webhook(tenant, image_message(media, "Le menu", sender=CUSTOMER)))

    assert [(r.stage, r.status) for r in graph.media_requests] == [("metadata", 200), ("download", 403)]
    assert groq.requests == []
    assert [sent.body for sent in graph.delivered] == [await notice_of(db, tenant)]
    row = await customer_row(db)
    assert row["media_outcome"] == "fell_back"
    assert row["error_title"].startswith("image not understood: graph 10: ")
    [completion] = system.lambdas.completions
    assert completion.attempts == 1 and system.lambdas.dead_letters == []  # no retry, no crash loop


async def test_a_download_that_keeps_failing_waits_for_lambdas_retries_then_sends_the_notice(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    graph.fail_media(None, stage="download", status=500)
    event = envelope_event(webhook(tenant, voice_note_message(voice_note_of(graph, tenant), sender=CUSTOMER)))

    attempts, result = await container.invoke_as_lambda_would(event)

    assert attempts == 3 and result["messages"] == {"replied": 1}
    assert [sent.body for sent in graph.delivered] == [await notice_of(db, tenant)]
    row = await customer_row(db)
    assert row["media_outcome"] == "fell_back" and row["error_title"].startswith(
        "voice note not understood: graph"
    )
    assert groq.transcriptions == []


async def test_media_that_does_not_match_metas_checksum_is_not_passed_on(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    graph.fail_media(None, stage="download", status=200, body=ogg_voice_note(500))  # not the file Meta hashed

    await container.invoke(envelope_event(webhook(tenant, voice_note_message(voice_note_of(graph, tenant)))))

    assert groq.transcriptions == [] and groq.requests == []
    row = await customer_row(db)
    assert row["error_title"] == "voice note not understood: the file does not match Meta's sha256"


async def test_a_failed_transcription_ends_in_the_notice(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    groq.fail_transcriptions(None, status=401)

    await container.invoke(envelope_event(webhook(tenant, voice_note_message(voice_note_of(graph, tenant)))))

    assert [call.status for call in groq.transcriptions] == [401] and groq.requests == []
    assert [sent.body for sent in graph.delivered] == [await notice_of(db, tenant)]
    row = await customer_row(db)
    assert row["error_title"] == "voice note not understood: groq rejected: http 401 invalid_api_key"


async def test_a_voice_note_without_words_gets_the_notice(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    groq.transcribe = lambda request: "  "

    await container.invoke(envelope_event(webhook(tenant, voice_note_message(voice_note_of(graph, tenant)))))

    assert groq.requests == []
    assert (await customer_row(db))["error_title"] == "voice note not understood: no words in it"


async def test_a_tenant_whose_model_cannot_see_gets_the_notice_without_a_download(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    await db.execute("UPDATE user_groq_config SET vision_model = 'openai/gpt-oss-120b'")

    await container.invoke(envelope_event(webhook(tenant, image_message(photo_of(graph, tenant), "Le menu"))))

    assert graph.media_requests == [] and groq.requests == []
    assert [sent.body for sent in graph.delivered] == [await notice_of(db, tenant)]
    row = await customer_row(db)
    assert (row["content"], row["media_outcome"]) == ("[image] Le menu", "fell_back")
    assert row["error_title"] == "image not understood: model openai/gpt-oss-120b cannot see images"


async def test_audio_groq_cannot_read_and_documents_keep_the_notice(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    amr = meta.media_message("audio", media_id="1234", mime_type="audio/amr", sha256="x", sender="1111111")
    document = meta.document_message("facture.pdf", caption="Ma facture", sender="2222222")

    await container.invoke(envelope_event(webhook(tenant, amr, document)))

    assert graph.media_requests == [] and groq.requests == [] and groq.transcriptions == []
    rows = await db.fetch(
        "SELECT content, media_outcome, error_title FROM customer_conversations"
        " WHERE sender = 'user' ORDER BY phone_number"
    )
    assert [tuple(row) for row in rows] == [
        ("[audio]", "fell_back", "audio not understood: audio/amr is not a format Groq transcribes"),
        ("[document] Ma facture", None, None),  # as before: the notice, nothing to record
    ]
    notice = await notice_of(db, tenant)
    assert [sent.body for sent in graph.delivered] == [notice, notice]


async def test_every_media_call_is_bounded_by_the_invocations_deadline(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    tenant = await add_tenant(db, 1)
    graph.fail_media(None, stage="download", status=503, delay=0.6)
    event = envelope_event(webhook(tenant, voice_note_message(voice_note_of(graph, tenant))))
    started = time.monotonic()

    with pytest.raises(RetryLater):  # a retry remains: the message waits for it
        await container.invoke(event, LambdaTestContext(remaining_ms=5_000))

    assert time.monotonic() - started < 5.0
    assert (await customer_row(db))["status"] == "received"  # given back for the retry, at once


async def test_media_is_never_logged_and_only_its_words_are_stored(
    db: asyncpg.Connection,
    container: LambdaContainer,
    groq: GroqStandIn,
    graph: GraphStandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant = await add_tenant(db, 1)
    note, photo = voice_note_of(graph, tenant), photo_of(graph, tenant)
    groq.transcribe = lambda request: TRANSCRIPT
    caption = "Vous l'avez en 42 ?"

    with caplog.at_level(logging.DEBUG):
        await container.invoke(envelope_event(webhook(tenant, voice_note_message(note, sender=CUSTOMER))))
        await container.invoke(
            envelope_event(webhook(tenant, image_message(photo, caption, sender=CUSTOMER)))
        )

    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert "voice note transcribed" in logged and len(graph.delivered) == 2  # both went the whole way
    stored = "\n".join(await db.fetchval("SELECT array_agg(c::text) FROM customer_conversations AS c"))
    for media in (note, photo):
        for form in (
            base64.b64encode(media.data).decode()[:24],
            media.data.hex()[:24],
            repr(media.data[:12])[2:-1],
        ):
            assert form not in logged
            assert form not in stored
    for words in (TRANSCRIPT, caption, tenant.access_token, tenant.groq_key):
        assert words not in logged
    assert TRANSCRIPT in stored and f"[image] {caption}" in stored


@pytest.mark.parametrize("stage", ["transcription", "vision"])
async def test_a_slow_failing_groq_on_media_is_bounded_by_the_invocations_deadline(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn, stage: str
) -> None:
    tenant = await add_tenant(db, 1)
    if stage == "transcription":
        groq.fail_transcriptions(None, status=503, delay=0.6)
        item = voice_note_message(voice_note_of(graph, tenant))
    else:
        groq.fail_next(None, status=503, retry_after=None, delay=0.6, model=VISION)
        item = image_message(photo_of(graph, tenant), "Prix ?")
    started = time.monotonic()

    with pytest.raises(RetryLater):  # a retry remains: the message waits for it
        await container.invoke(envelope_event(webhook(tenant, item)), LambdaTestContext(remaining_ms=5_000))

    assert time.monotonic() - started < 5.0
    calls = groq.transcriptions if stage == "transcription" else groq.requests
    assert calls and all(call.status == 503 for call in calls)  # it reached Groq, and waited no longer
    assert graph.delivered == [] and (await customer_row(db))["status"] == "received"


# --- tenants ----------------------------------------------------------------------------------


async def test_two_tenants_never_mix_tokens_or_keys(
    db: asyncpg.Connection, system: System, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    first, second = await add_tenant(db, 1), await add_tenant(db, 2)
    first_note, second_photo = voice_note_of(graph, first), photo_of(graph, second)
    payload = meta.webhook_payload(
        meta.messages_change(voice_note_message(first_note, sender=CUSTOMER), business=business_of(first)),
        meta.messages_change(
            image_message(second_photo, "Prix ?", sender=CUSTOMER), business=business_of(second)
        ),
    )

    system.post_and_settle(payload)

    tokens = {(r.media_id, r.token) for r in graph.media_requests}
    assert tokens == {(first_note.id, first.access_token), (second_photo.id, second.access_token)}
    assert all(r.status == 200 for r in graph.media_requests)
    assert [call.api_key for call in groq.transcriptions] == [first.groq_key]
    assert {(call.api_key, call.model) for call in groq.requests} == {
        (first.groq_key, first.model),
        (second.groq_key, VISION),
    }
    assert {(sent.phone_number_id, sent.token) for sent in graph.delivered} == {
        (first.phone_number_id, first.access_token),
        (second.phone_number_id, second.access_token),
    }


async def test_a_media_id_of_another_tenants_number_is_not_fetched_with_this_tenants_token(
    db: asyncpg.Connection, container: LambdaContainer, groq: GroqStandIn, graph: GraphStandIn
) -> None:
    first, second = await add_tenant(db, 1), await add_tenant(db, 2)
    theirs = voice_note_of(graph, second)  # sent to the second tenant's number

    await container.invoke(envelope_event(webhook(first, voice_note_message(theirs))))

    [asked] = graph.media_requests
    assert (asked.token, asked.phone_number_id, asked.status) == (
        first.access_token,
        first.phone_number_id,
        401,
    )
    assert groq.transcriptions == []
    assert (await customer_row(db))["error_title"].startswith("voice note not understood: graph 190")
