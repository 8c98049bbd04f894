"""What the handler's steps share: the adapters they use and the outcomes they report."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from handler.adapters.graph import WhatsAppSender
from handler.adapters.groq import GroqReplies
from handler.adapters.postgres import ConversationStore
from handler.adapters.retry import RetryPolicy
from shared.groq_models import DEFAULT_CHAT_MODEL


class Outcome(StrEnum):
    REPLIED = "replied"  # every part of the reply was accepted by Meta
    SEND_FAILED = "send_failed"  # Meta refused the reply (recorded with code and title)
    NOT_SENT = "not_sent"  # saved, but the tenant has no WhatsApp credentials
    IGNORED = "ignored"  # nothing to answer (reaction, system notice)
    DUPLICATE = "duplicate"  # answered before
    DEFERRED = "deferred"  # another invocation holds it now and finishes it (or its own retry does)
    RETRY_LATER = "retry_later"  # a passing failure outlasted this invocation: a retry finishes it
    OUTCOME_UNKNOWN = "outcome_unknown"  # an earlier attempt died during the send
    NO_TENANT = "no_tenant"  # no active tenant for the business number
    NO_GROQ = "no_groq"  # the tenant has no Groq configuration
    REFUSED = "refused"  # not signed with the tenant's own Meta app secret (handler/payload_proof.py)
    INVALID = "invalid"  # a value Postgres cannot store: refused with the reason, the batch goes on


@dataclass(frozen=True, slots=True, kw_only=True)
class Services:
    """The adapters one answer needs, created once per container."""

    store: ConversationStore
    groq: GroqReplies
    whatsapp: WhatsAppSender
    groq_policy: RetryPolicy
    graph_policy: RetryPolicy
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


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageResult:
    outcome: Outcome
    reply: str | None = None
    wa_message_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class BatchSummary:
    outcomes: dict[str, int] = field(default_factory=dict)
    statuses_applied: int = 0
    statuses_stale: int = 0  # for a known reply, not moving it forward (repeated, out of order)
    statuses_unmatched: int = 0
    skipped: int = 0

    def count(self, outcome: Outcome) -> None:
        self.outcomes[outcome.value] = self.outcomes.get(outcome.value, 0) + 1

    @property
    def retry_later(self) -> int:
        """Messages a retry of this invocation must finish."""
        return self.outcomes.get(Outcome.RETRY_LATER.value, 0)

    def as_dict(self) -> dict[str, object]:
        return {
            "messages": dict(self.outcomes),
            "statuses_applied": self.statuses_applied,
            "statuses_stale": self.statuses_stale,
            "statuses_unmatched": self.statuses_unmatched,
            "skipped": self.skipped,
        }
