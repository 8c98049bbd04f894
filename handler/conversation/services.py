"""What the conversation's steps share: the adapters they use, created once per container, and
the deployment's retry settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from handler.adapters.graph import WhatsAppMedia, WhatsAppSender
from handler.adapters.groq import GroqReplies
from handler.adapters.metrics import NO_METRICS, MetricsRecorder
from handler.adapters.postgres import ConversationStore
from handler.adapters.retry import RetryPolicy
from handler.model import MediaPolicy
from handler.settings import DEFAULT_MEDIA_MAX_AUDIO_BYTES
from providers.groq_models import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
    DEFAULT_VISION_MODEL,
    VISION_IMAGE_LIMIT_BYTES,
)

DEFAULT_MEDIA_POLICY = MediaPolicy(
    max_audio_bytes=DEFAULT_MEDIA_MAX_AUDIO_BYTES,
    max_image_bytes=VISION_IMAGE_LIMIT_BYTES,
    vision_model=DEFAULT_VISION_MODEL,
    transcription_model=DEFAULT_TRANSCRIPTION_MODEL,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Services:
    """The adapters one answer needs, created once per container."""

    store: ConversationStore
    groq: GroqReplies
    whatsapp: WhatsAppSender
    groq_policy: RetryPolicy
    graph_policy: RetryPolicy
    media: WhatsAppMedia  # customers' voice notes and images, fetched with the tenant's token
    media_policy: MediaPolicy = field(default=DEFAULT_MEDIA_POLICY)
    # Application metrics (EMF lines), written once per invocation by the entry points.
    metrics: MetricsRecorder = NO_METRICS
    default_groq_model: str = DEFAULT_CHAT_MODEL  # answers when Groq refuses a tenant's model
    # Lambda's MaximumRetryAttempts: a failed asynchronous invocation is tried this many times more,
    # after these delays (seconds) one after the other.
    retry_attempts: int = 2
    retry_delays: tuple[float, ...] = (60.0, 120.0)

    @property
    def order_window_seconds(self) -> float:
        """How recent a customer's unfinished earlier message must be to hold a later one back:
        twice Lambda's retry window, so an event still being retried always counts."""
        return 2 * sum(self.retry_delays)

    @property
    def takeover_after_seconds(self) -> float:
        """How long after a message last moved a retry of the event holding its lease may take the
        lease over: half Lambda's shortest retry delay (a retry never comes sooner; a duplicate
        delivery of the event, running alongside the first, does)."""
        return min(self.retry_delays, default=60.0) / 2
