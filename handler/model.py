"""The handler's vocabulary: the states a customer message and a reply go through (the SQL in
migrations/ mirrors these values)."""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    """A customer's message (`sender = 'user'`)."""

    RECEIVED = "received"  # recorded, nobody answering it (given back after a failure)
    ANSWERING = "answering"  # claimed under a lease: the reply is being made
    SENDING = "sending"  # the reply is recorded and being sent (a lease that runs out: outcome unknown)
    SEND_RETRY = "send_retry"  # the reply is recorded; Meta refused a part for now: a retry resends it
    RESENDING = "resending"  # a retry is sending the recorded reply (never asks Groq again)
    ANSWERED = "answered"  # done: replied, noticed, or nothing to answer
    FAILED = "failed"  # done without a reply: a permanent error, or a passing one with no retry left
    OUTCOME_UNKNOWN = "outcome_unknown"  # a crash during a send: it may have reached the customer


# A message in one of these is someone's to finish: never answered from scratch by another.
CLAIMABLE = (
    MessageStatus.RECEIVED,
    MessageStatus.ANSWERING,
    MessageStatus.SENDING,
    MessageStatus.SEND_RETRY,
    MessageStatus.RESENDING,
)


class ReplyStatus(StrEnum):
    """One WhatsApp message of a reply (`sender = 'bot'`), up to what Meta's statuses report."""

    SENDING = "sending"  # recorded, being sent
    SEND_RETRY = "send_retry"  # not accepted by Meta yet (a passing error): the next attempt sends it
    SENT = "sent"
    DELIVERED = "delivered"  # also: a web chat reply, handed back in the response
    READ = "read"
    FAILED = "failed"
    NOT_SENT = "not_sent"  # never sent: no credentials, or an earlier part failed for good
    OUTCOME_UNKNOWN = "outcome_unknown"  # the request left, no answer came back: never resent
