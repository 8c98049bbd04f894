"""Whether the assistant keeps out of a customer's message, as pure functions (the planner's half
for a human in the conversation: `decide.plan_message` asks `plan_handover`; `handover.py` carries
it out).

The assistant never talks over a human: while the business writes by hand, the operator paused
the conversation or the tenant's assistant is off, nothing is sent (not even a confirmation), and
what the customer asks for (a stop or start word) is recorded all the same. A customer who opts
out gets one confirmation, then nothing until they write a start word (confirmed too).
"""

from __future__ import annotations

from dataclasses import dataclass

from handler.conversation import opt_out_words
from handler.model import CustomerControls, OptChange, PauseReason, QuietReason, Tenant
from shared.webhook import InboundMessage


@dataclass(frozen=True, slots=True, kw_only=True)
class Quiet:
    """Store the message and answer nothing (`reason` on its row: the status is `quiet`). A stop or
    start word written meanwhile (`change`) is recorded all the same: the customer's choice stands."""

    reason: QuietReason
    change: OptChange | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Confirm:
    """The customer opted out of the assistant's answers (or back in): record it, then send `text`
    instead of the AI's answer, once (`reason` STOP_WORD or START_WORD on the message's row)."""

    change: OptChange
    reason: QuietReason
    text: str
    wait_turn: bool


def plan_handover(
    message: InboundMessage, controls: CustomerControls, tenant: Tenant, *, wait_turn: bool
) -> Quiet | Confirm | None:
    """Whether the assistant keeps out of this message (and why), or confirms an opt-out or opt-in
    instead of answering; None: answer as usual."""
    confirm = choice_in(message, controls, tenant, wait_turn=wait_turn)
    held_by = kept_out_by(tenant, controls)
    if held_by is not None:
        return Quiet(reason=held_by, change=confirm.change if confirm else None)
    if confirm is not None:
        return confirm
    return Quiet(reason=QuietReason.OPTED_OUT) if controls.opted_out else None


def choice_in(
    message: InboundMessage, controls: CustomerControls, tenant: Tenant, *, wait_turn: bool
) -> Confirm | None:
    """The customer's choice this message makes, if any: a stop word while they are in, a start
    word while they are out (a second stop word changes nothing), with its confirmation."""
    settings = tenant.handover
    candidates = (message.text, message.reply_payload)
    if controls.opted_out:
        start = opt_out_words.match_word(
            candidates, opt_out_words.start_words(settings), settings, stop=False
        )
        if start is None:
            return None
        return Confirm(
            change=OptChange(opted_out=False, source="start_word", word=start.word),
            reason=QuietReason.START_WORD,
            text=opt_out_words.opted_in_text(settings, start.language),
            wait_turn=wait_turn,
        )
    stop = opt_out_words.match_word(candidates, opt_out_words.stop_words(settings), settings, stop=True)
    if stop is None:
        return None
    return Confirm(
        change=OptChange(opted_out=True, source="stop_word", word=stop.word),
        reason=QuietReason.STOP_WORD,
        text=opt_out_words.opted_out_text(settings, stop.language),
        wait_turn=wait_turn,
    )


def kept_out_by(tenant: Tenant, controls: CustomerControls) -> QuietReason | None:
    """Who holds the conversation instead of the assistant right now, if anyone."""
    if tenant.handover.bot_paused:
        return QuietReason.BOT_OFF
    if controls.pause_reason is PauseReason.OPERATOR:
        return QuietReason.PAUSED_BY_OPERATOR
    if controls.pause_reason is PauseReason.HUMAN_REPLY:
        return QuietReason.PAUSED_BY_HUMAN
    return None
