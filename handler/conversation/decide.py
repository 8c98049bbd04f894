"""Every decision about answering a customer, as pure functions: the executor (`answer.py`,
`deliver.py`) does what these say and decides nothing of its own.

The main one is `plan_message`: for a claimed message, what to do (refuse it, resend its recorded
reply, finish it without a reply, stay quiet because a human holds the conversation or the customer
opted out, or confirm an opt-out or opt-in (`decide_handover.py`), or reply with the AI's answer or
the polite notice). The others
decide at the points where an outcome comes back from the outside world: after waiting for the
customer's earlier messages, after Groq failed, after Graph refused a part, and what state the
message ends in.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

# The plans for a message when a human is in the conversation (re-exported: part of AnswerPlan).
from handler.conversation.decide_handover import Confirm as Confirm
from handler.conversation.decide_handover import Quiet as Quiet
from handler.conversation.decide_handover import plan_handover
from handler.conversation.decide_media import (
    MediaStep,
    NotUnderstood,
    location_text,
    media_marker,
    plan_media,
)
from handler.errors import GroqError, GroqRejected, GroqUnavailable, WhatsAppError
from handler.model import (
    Claim,
    ClaimOutcome,
    CustomerControls,
    FallbackKind,
    MediaPolicy,
    MessageStatus,
    Outcome,
    PayloadProof,
    ProofKind,
    ReplyStatus,
    SendResult,
    Tenant,
    Turn,
)
from shared.errors import TransientError
from shared.signature import SignatureCheck, check_signature, secret_key_id
from shared.webhook import (
    BusinessEcho,
    DeliveryStatus,
    EchoKind,
    InboundMessage,
    MessageOrigin,
    MessageType,
    PreferenceUpdate,
    PreferenceValue,
    StatusUpdate,
)

# --- what a message asks for ---------------------------------------------------------------------


class Action(StrEnum):
    ASK_AI = "ask_ai"
    SEND_UNREADABLE_NOTICE = "send_unreadable_notice"
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    action: Action


# Meta's own notices and reactions need no answer; an unknown type is one Meta added after us.
_NOTHING_TO_ANSWER = frozenset(
    {MessageType.REACTION, MessageType.SYSTEM, MessageType.UNSUPPORTED, MessageType.UNKNOWN}
)


def decide(message: InboundMessage) -> Decision:
    """Text, the titles of button and list replies, and shared places go to the AI; other media get
    the notice (voice notes and images are understood first when they can be: `plan_media`)."""
    if message.text is not None or message.location is not None:
        return Decision(action=Action.ASK_AI)
    if message.type in _NOTHING_TO_ANSWER or message.type is MessageType.TEXT:  # (an empty text)
        return Decision(action=Action.IGNORE)
    if message.type is MessageType.INTERACTIVE:
        # Not a button or list choice: a call permission answer, a Flow's form, … nothing to say.
        return Decision(action=Action.IGNORE)
    return Decision(action=Action.SEND_UNREADABLE_NOTICE)


def stored_content(message: InboundMessage) -> str:
    """What the conversation log keeps for a message: its text (a place in words), or a marker
    naming its type, with its caption (a voice note's transcript replaces it once written)."""
    if message.text is not None:
        return message.text
    if message.location is not None:
        return location_text(message.location)
    return media_marker(message)


def readable_text(message: InboundMessage) -> str:
    """What the AI reads of a message: its text, or a shared place in words."""
    if message.text is not None:
        return message.text
    return location_text(message.location) if message.location is not None else ""


# --- the plan for a claimed message --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Refuse:
    """Not proven to come from the tenant's own Meta app: recorded as refused, nothing answered."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Resend:
    """Its reply is recorded and Meta refused part of it for a while: send those parts again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Finish:
    """Nothing to send: the message ends in `status` (with `error_title`), reported as `outcome`."""

    status: MessageStatus
    outcome: Outcome
    error_title: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """Answer the message: with the AI (`ask_ai`, on `text`) or with `notice`.

    `wait_turn`: the customer's earlier messages are being answered, or wait for a retry (or one of
    this payload was answered just now): wait for them first, so that replies keep their order.
    `show_typing`: mark the message read with "typing…" while the answer is made.
    `media`: a voice note or image to understand first (`decide_media`); the notice answers it if
    that fails. `not_understood`: why the notice answers a voice note or image (recorded)."""

    ask_ai: bool
    text: str
    notice: str | None
    wait_turn: bool
    show_typing: bool
    media: MediaStep | None = None
    not_understood: str | None = None


AnswerPlan = Refuse | Resend | Finish | Reply | Quiet | Confirm


def plan_message(
    message: InboundMessage,
    claim: Claim,
    tenant: Tenant,
    proof: PayloadProof,
    *,
    after_answer: bool,
    media_policy: MediaPolicy | None = None,
) -> AnswerPlan:
    """What to do with a message this invocation holds. `after_answer`: a message of the same
    customer earlier in this payload was answered just now (its reply belongs in the history).
    `media_policy`: the deployment's rules for voice notes and images (None: the notice)."""
    if not proof_allows(proof, tenant):
        return Refuse(reason="not signed with the tenant's Meta app secret")
    if claim.outcome is ClaimOutcome.RESEND:
        return Resend()
    action = decide(message).action
    if action is Action.IGNORE:
        return Finish(status=MessageStatus.ANSWERED, outcome=Outcome.IGNORED)
    wait_turn = bool(claim.earlier_pending or claim.earlier_waiting or after_answer)
    handover = plan_handover(message, claim.controls, tenant, wait_turn=wait_turn)
    if handover is not None:
        return handover
    if action is Action.ASK_AI and tenant.groq is None:
        return Finish(status=MessageStatus.FAILED, outcome=Outcome.NO_GROQ, error_title="groq not configured")
    media = None
    if action is Action.SEND_UNREADABLE_NOTICE and media_policy is not None:
        media = plan_media(message, tenant, media_policy)
    return Reply(
        ask_ai=action is Action.ASK_AI,
        text=readable_text(message),
        notice=None if action is Action.ASK_AI else tenant.assistant.unsupported_media_text,
        wait_turn=wait_turn,
        show_typing=shows_typing(message, tenant),
        media=None if isinstance(media, NotUnderstood) else media,
        not_understood=media.reason if isinstance(media, NotUnderstood) else None,
    )


def plan_in_turn(
    message: InboundMessage,
    claim: Claim,
    tenant: Tenant,
    proof: PayloadProof,
    controls: CustomerControls,
    *,
    media_policy: MediaPolicy | None = None,
) -> AnswerPlan:
    """A message that waited for the customer's earlier ones, planned again once its turn came, with
    the conversation's controls as they are now (an earlier message may have opted the customer out
    or back in, the business may have written meanwhile). It waits no more."""
    in_turn = replace(claim, controls=controls, earlier_pending=0, earlier_waiting=0)
    return plan_message(message, in_turn, tenant, proof, after_answer=False, media_policy=media_policy)


# --- the fields beside messages (the planner's half for a human: decide_handover.py) ---------


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordEcho:
    """Keep the business's message in the conversation (`content`), and keep the assistant out of
    it for `pause_seconds` from the message's time (0: the tenant wants no pause)."""

    content: str | None
    pause_seconds: int


def plan_echo(echo: BusinessEcho, tenant: Tenant, proof: PayloadProof) -> RecordEcho | Refuse:
    """The business wrote (or edited, or deleted) a message by hand in the WhatsApp Business app.
    Only a payload proven for the tenant's app may pause its assistant."""
    if not proof_allows(proof, tenant):
        return Refuse(reason="not signed with the tenant's Meta app secret")
    content = None
    if echo.kind is not EchoKind.REVOKE:
        content = echo.text if echo.text is not None else f"[{echo.type.value}]"
    return RecordEcho(content=content, pause_seconds=tenant.handover.human_pause_seconds)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordPreference:
    """Record the customer's marketing choice (listed by `wa-admin opt-outs`; the assistant's
    answers are not affected: they are not marketing)."""

    opted_out: bool


_MARKETING_CHOICES = {
    PreferenceValue.STOP: True,
    PreferenceValue.RESUME: False,
    PreferenceValue.SIGNUP: False,
}


def plan_preference(
    update: PreferenceUpdate, tenant: Tenant, proof: PayloadProof
) -> RecordPreference | Refuse | None:
    """None: nothing to record (a value Meta added after us)."""
    if not proof_allows(proof, tenant):
        return Refuse(reason="not signed with the tenant's Meta app secret")
    opted_out = _MARKETING_CHOICES.get(update.value)
    return None if opted_out is None else RecordPreference(opted_out=opted_out)


def shows_typing(message: InboundMessage, tenant: Tenant) -> bool:
    """Blue ticks and "typing…" for a real WhatsApp message, when the tenant wants them and can
    send (the relay's messages have no Meta id to mark read)."""
    return (
        message.origin is MessageOrigin.WEBHOOK
        and tenant.whatsapp is not None
        and tenant.assistant.typing_indicator
    )


# Claims that leave nothing for this invocation to do, and how each is reported.
_UNCLAIMED = {
    ClaimOutcome.ALREADY_HANDLED: Outcome.DUPLICATE,
    ClaimOutcome.IN_PROGRESS: Outcome.DEFERRED,
    ClaimOutcome.OUTCOME_UNKNOWN: Outcome.OUTCOME_UNKNOWN,
    ClaimOutcome.NO_TENANT: Outcome.NO_TENANT,
}


def unclaimed_outcome(claim: Claim) -> Outcome | None:
    """How a message this invocation did not get is reported; None when it is ours to answer.
    (In progress: its lease holder, or that invocation's own retry, finishes it.)"""
    return _UNCLAIMED.get(claim.outcome)


# --- retries -----------------------------------------------------------------------------------


def retries_remain(attempts: int, attempt_by_time: int, *, retry_attempts: int, may_retry: bool) -> bool:
    """Will this event be tried again if it fails? Lambda tries an event 1 + N times (N: its
    MaximumRetryAttempts). This attempt's number is the later of two estimates (`LambdaEvent`):
    this event's claims of the message (a duplicate in another event never uses them up), and the
    time since the event was first received."""
    return may_retry and max(attempts, attempt_by_time) <= retry_attempts


class WaitVerdict(StrEnum):
    """After waiting for the customer's earlier messages."""

    GO = "go"  # they are answered: answer this one now
    RETRY_LATER = "retry_later"  # give it back: a retry answers it after them
    OUT_OF_TURN = "out_of_turn"  # the last attempt: answering out of turn beats not answering


def after_waiting(in_turn: bool, *, retries_remain: bool) -> WaitVerdict:
    if in_turn:
        return WaitVerdict.GO
    return WaitVerdict.RETRY_LATER if retries_remain else WaitVerdict.OUT_OF_TURN


def holds_back_later_messages(outcome: Outcome) -> bool:
    """Does this message's outcome make the customer's later messages of the payload wait for a
    retry too (so that their replies do not overtake its reply)?"""
    return outcome is Outcome.RETRY_LATER


@dataclass(frozen=True, slots=True, kw_only=True)
class Fallback:
    """Groq could not answer: the customer gets the tenant's fallback text; `reason` is recorded."""

    kind: FallbackKind
    reason: str


def after_groq_failure(error: GroqError, *, retries_remain: bool) -> Fallback | None:
    """None: leave the message for Lambda's retry (Groq may be back by then); the fallback text
    only when no retry remains or the failure is not one that passes."""
    if isinstance(error, GroqUnavailable) and retries_remain:
        return None
    kind = FallbackKind.GROQ_REJECTED if isinstance(error, GroqRejected) else FallbackKind.GROQ_UNAVAILABLE
    return Fallback(kind=kind, reason=f"{kind.description}: {error.reason}")


def substitute_model(refusal: GroqRejected, model: str, default_model: str) -> str | None:
    """The model to answer with when Groq refuses the tenant's (retired, unknown to it): the
    deployment's default, once; never an apology to the customer while a working model exists."""
    if refusal.refuses_the_model and default_model != model:
        return default_model
    return None


# --- sending a reply ---------------------------------------------------------------------------


def refused_part(error: WhatsAppError, *, retries_remain: bool) -> tuple[ReplyStatus, str]:
    """The state and title of a part Meta did not accept: for a retry to send (a passing error, a
    retry left), or failed for good."""
    passing = isinstance(error, TransientError)
    if passing and retries_remain:
        return ReplyStatus.SEND_RETRY, error.title
    return ReplyStatus.FAILED, (f"{error.title} (passing error: no retry left)" if passing else error.title)


def part_after(previous: SendResult) -> ReplyStatus | None:
    """None: send this part. After a part that was not sent, the rest wait with it (a retry sends
    them in order) or are not sent at all: a reply with a hole in the middle reads wrong."""
    if previous.status is ReplyStatus.SENT:
        return None
    return ReplyStatus.SEND_RETRY if previous.status is ReplyStatus.SEND_RETRY else ReplyStatus.NOT_SENT


def message_status(results: Sequence[SendResult]) -> MessageStatus:
    """The customer message's state once its reply's parts were sent (or not)."""
    statuses = {result.status for result in results}
    if statuses <= {ReplyStatus.SENT}:
        return MessageStatus.ANSWERED
    if ReplyStatus.OUTCOME_UNKNOWN in statuses:
        return MessageStatus.OUTCOME_UNKNOWN
    if ReplyStatus.SEND_RETRY in statuses:
        return MessageStatus.SEND_RETRY
    return MessageStatus.FAILED


def send_outcome(status: MessageStatus) -> Outcome:
    if status is MessageStatus.ANSWERED:
        return Outcome.REPLIED
    return Outcome.RETRY_LATER if status is MessageStatus.SEND_RETRY else Outcome.SEND_FAILED


# --- prompts -----------------------------------------------------------------------------------


def build_messages(system_prompt: str, history: Sequence[Turn], text: str) -> list[dict[str, str]]:
    """The chat-completion messages for one reply: system prompt, recent history, the new text."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    for turn in history:
        role = "user" if turn.sender == "user" else "assistant"
        messages.append({"role": role, "content": turn.content})
    messages.append({"role": "user", "content": text})
    return messages


# --- statuses ----------------------------------------------------------------------------------


def is_reportable(status: StatusUpdate) -> bool:
    """Does a delivery status say something a reply's row can record? (Not Meta's unknown kinds,
    nor `deleted`, which concerns the customer's own message.)"""
    return status.status not in (DeliveryStatus.UNKNOWN, DeliveryStatus.DELETED)


# --- the isolation rule ------------------------------------------------------------------------
# A tenant with its own Meta app secret (`user_whatsapp_config.app_secret`) is acted for only when
# the payload is proven to come from that app, by one rule for every path in:
# - the forwarder verified the payload and names the secret it verified with (`verified_by`, a key
#   id from `shared.signature.secret_key_id`, never the secret): that key must be the tenant's. This
#   covers whole envelopes, parts of a split payload (which have no signature of their own) and
#   parked bodies alike;
# - the original bytes and Meta's `X-Hub-Signature-256` reached the handler (`POST /webhook`, or an
#   envelope from a forwarder that named no key): the signature must verify with the tenant's secret;
# - a Meta payload with no signature and no key (a raw payload invoked directly): refused for such a
#   tenant;
# - a seed-format request is not a Meta payload: it is trusted as the deployment's relay (its route
#   needs the deployment's key, a direct invoke needs IAM).
# Tenants without an app secret of their own rely on the `META_APP_SECRET` check alone.


def proof_allows(proof: PayloadProof, tenant: Tenant) -> bool:
    """May this payload drive `tenant`'s number? Never while its app secret cannot be read."""
    if tenant.whatsapp is not None and tenant.whatsapp.app_secret_unreadable:
        return False
    return proof_allows_secret(proof, tenant.whatsapp.app_secret if tenant.whatsapp is not None else None)


def proof_allows_secret(proof: PayloadProof, app_secret: str | None) -> bool:
    """May this payload act for a tenant whose own Meta app secret is `app_secret` (None: none)?"""
    if not app_secret or proof.kind is ProofKind.SEED_RELAY:
        return True
    if proof.verified_by is not None and hmac.compare_digest(proof.verified_by, secret_key_id(app_secret)):
        return True
    if proof.body is None or not proof.signature:
        return False
    return check_signature(proof.body, proof.signature, [app_secret]) is SignatureCheck.VALID
