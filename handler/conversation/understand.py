"""Understanding a voice note or an image before answering it: fetch it from Graph with the
tenant's token, then have Groq (the tenant's key) transcribe it or look at it. What to do at each
turn is `decide_media`'s call; this module only does it and records the outcome.

The media stays in memory for the length of this call: it is never logged and never stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from handler.adapters.graph import is_retryable as graph_is_retryable
from handler.adapters.groq import is_retryable as groq_is_retryable
from handler.adapters.groq import retry_after as groq_retry_after
from handler.adapters.retry import with_retries
from handler.conversation import decide_media
from handler.conversation.decide import Reply
from handler.conversation.decide_media import LookAt, MediaStep, Transcribe
from handler.conversation.deliver import ReplyText, generate_reply
from handler.conversation.services import Services
from handler.errors import GroqError, MediaRejected, MediaUnavailable, WhatsAppError
from handler.model import Deadline, MediaMetadata, MediaOutcome, Tenant, Turn, WhatsAppCredentials
from shared.logs import ms_since

logger = logging.getLogger("handler")

# Time kept back from fetching and understanding for the answer and its send.
_ANSWER_RESERVE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class _Fetched:
    metadata: MediaMetadata
    data: bytes  # never logged, never stored


async def answer_media(
    tenant: Tenant,
    inbound_id: UUID,
    history: Sequence[Turn],
    plan: Reply,
    services: Services,
    deadline: Deadline,
    *,
    retries_remain: bool,
) -> ReplyText:
    """The reply to a voice note or an image: its transcript answered like a text, or what a model
    that sees says of it; the notice, with the reason recorded, when it cannot be understood.
    `MediaUnavailable` when a passing failure should wait for Lambda's retry."""
    step = plan.media
    assert step is not None and tenant.groq is not None and tenant.whatsapp is not None
    started = time.perf_counter()
    try:
        fetched = await _fetch(tenant.whatsapp, step, services, deadline)
        match step:
            case Transcribe():
                transcript = await _transcribe(tenant, step, fetched, services, deadline)
            case LookAt():
                answer = await _look(tenant, history, step, fetched, services, deadline)
    except (WhatsAppError, GroqError, MediaRejected) as error:
        verdict = decide_media.after_media_failure(step, error, retries_remain=retries_remain)
        if verdict is None:
            raise MediaUnavailable(f"{decide_media.label(step.media)}: {error}") from None
        logger.warning(
            "media not understood, sending the notice",
            extra={"stage": "media", "reason": verdict.reason, "ms": ms_since(started)},
        )
        await _record(inbound_id, step.media.kind, MediaOutcome.FELL_BACK, services, reason=verdict.reason)
        return ReplyText(text=plan.notice or "", failure=verdict.reason)
    if isinstance(step, LookAt):
        await _record(inbound_id, step.media.kind, MediaOutcome.SEEN, services)
        return ReplyText(text=answer)
    # The transcript is the customer's message from now on: history, /history and the seed's
    # queries read it. Its answer follows the rules of a text (the fallback text if Groq fails).
    await _record(inbound_id, step.media.kind, MediaOutcome.TRANSCRIBED, services, content=transcript)
    return await generate_reply(
        tenant, history, transcript, services, deadline, retries_remain=retries_remain
    )


async def record_not_understood(inbound_id: UUID, kind: str, reason: str, services: Services) -> None:
    """A voice note or image (`kind`: its message type) the plan already knows it cannot understand
    (its type, the model)."""
    logger.warning("media not understood, sending the notice", extra={"stage": "media", "reason": reason})
    await _record(inbound_id, kind, MediaOutcome.FELL_BACK, services, reason=reason)


async def _record(
    inbound_id: UUID,
    kind: str,
    outcome: MediaOutcome,
    services: Services,
    *,
    reason: str | None = None,
    content: str | None = None,
) -> None:
    """The outcome in the message's row (`wa-admin stats` counts those) and in the metrics."""
    await services.store.record_media_outcome(inbound_id, outcome, reason=reason, content=content)
    services.metrics.media(kind, outcome)


async def _fetch(
    credentials: WhatsAppCredentials, step: MediaStep, services: Services, deadline: Deadline
) -> _Fetched:
    """Graph's metadata, then the bytes, each attempt asking for a fresh URL (they last 5 minutes).
    Refused before the download when its type or size will not do, after it when the bytes are
    not what Meta's checksum says."""

    async def attempt() -> _Fetched:
        metadata = await services.media.metadata(credentials, step.media.id, time_left=_time_left(deadline))
        refusal = decide_media.refusal_before_download(step, metadata)
        if refusal is not None:
            raise MediaRejected(refusal)
        data = await services.media.download(
            credentials, metadata, max_bytes=step.max_bytes, time_left=_time_left(deadline)
        )
        refusal = decide_media.refusal_after_download(step, metadata, data)
        if refusal is not None:
            raise MediaRejected(refusal)
        return _Fetched(metadata=metadata, data=data)

    started = time.perf_counter()
    fetched = await with_retries(
        attempt, policy=services.graph_policy, deadline=deadline, is_retryable=graph_is_retryable
    )
    logger.info(
        "media fetched",
        extra={"stage": "media_fetch", "bytes": len(fetched.data), "ms": ms_since(started)},
    )
    return fetched


async def _transcribe(
    tenant: Tenant, step: Transcribe, fetched: _Fetched, services: Services, deadline: Deadline
) -> str:
    assert tenant.groq is not None
    config = tenant.groq
    started = time.perf_counter()
    transcript = await with_retries(
        lambda: services.groq.transcribe(
            config,
            fetched.data,
            file_name=decide_media.upload_name(step, fetched.metadata),
            mime_type=decide_media.media_type(step, fetched.metadata),
            model=step.model,
            language=step.language,
            time_left=_time_left(deadline),
        ),
        policy=services.groq_policy,
        deadline=deadline,
        is_retryable=groq_is_retryable,
        retry_after=groq_retry_after,
    )
    if not transcript:
        raise MediaRejected("no words in it")
    logger.info(
        "voice note transcribed",
        extra={"stage": "transcribe", "model": step.model, "chars": len(transcript), "ms": ms_since(started)},
    )
    return transcript


async def _look(
    tenant: Tenant,
    history: Sequence[Turn],
    step: LookAt,
    fetched: _Fetched,
    services: Services,
    deadline: Deadline,
) -> str:
    assert tenant.groq is not None
    config = tenant.groq
    messages = decide_media.build_image_messages(
        tenant.assistant.system_prompt,
        history,
        step,
        decide_media.media_type(step, fetched.metadata),
        fetched.data,
    )
    started = time.perf_counter()
    answer = await with_retries(
        lambda: services.groq.complete(config, messages, model=step.model, time_left=_time_left(deadline)),
        policy=services.groq_policy,
        deadline=deadline,
        is_retryable=groq_is_retryable,
        retry_after=groq_retry_after,
    )
    logger.info(
        "AI response to an image generated",
        extra={"stage": "vision", "model": step.model, "history": len(history), "ms": ms_since(started)},
    )
    return answer


def _time_left(deadline: Deadline) -> float:
    remaining = deadline.remaining()
    return remaining - min(_ANSWER_RESERVE_SECONDS, remaining / 2)
