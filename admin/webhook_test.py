"""`wa-admin webhook-test`: the signed sample POSTed to a running forwarder, and the verdict on it.

`post_webhook` is the one network call (httpx); `judge` is pure: from what the forwarder answered
and what `admin.message_trace` found in Postgres, it decides the verdict and the hints an operator
needs (what a 401 or a Graph code means here, and what to do next).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

import httpx

from admin.message_trace import MessageTrace, StoredMessage, StoredReply
from admin.sample_webhook import DEFAULT_TEST_CUSTOMER, SignedWebhook

DEFAULT_FORWARDER_URL = "http://127.0.0.1:8002/webhook"  # `make run`'s forwarder
DEFAULT_WAIT_SECONDS = 15
# The local forwarder acknowledges only once the handler has answered (its development transport
# waits up to 30 s); a deployed one acknowledges within seconds.
POST_TIMEOUT_SECONDS = 35.0
_BODY_SHOWN_CHARACTERS = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwarderAnswer:
    """What the forwarder said to the POST: a status and body, or that nothing answered."""

    status: int | None  # None: no HTTP answer at all
    body: str = ""  # the start of the body, printable characters only
    failure: str = ""  # the transport error's type when status is None
    elapsed_ms: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.status == 200


class Verdict(StrEnum):
    ANSWERED = "answered"  # the reply reached Graph (sent, delivered or read)
    NOT_ANSWERED = "not answered"  # stored and finished, without a reply that reached Graph
    IN_PROGRESS = "still in progress"  # stored, not finished when the wait ended
    NOT_FOUND = "not found"  # acknowledged, but no row with its message id in this database
    NOT_ACCEPTED = "not accepted"  # the forwarder answered, but not 200
    UNREACHABLE = "forwarder unreachable"

    @property
    def exit_code(self) -> int:
        return 0 if self is Verdict.ANSWERED else 1


@dataclass(frozen=True, slots=True, kw_only=True)
class HintContext:
    """What the verdict and its hints name: the tenant, where the sample went, how it was signed."""

    tenant_id: UUID
    tenant: str  # as the operator names it: the email, else the id
    customer: str
    url: str
    signed_with: str  # the secret's origin, never the secret
    wait_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Judgement:
    verdict: Verdict
    hints: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookTestReport:
    """Everything `wa-admin webhook-test` prints (no secret: only where the one it used came from)."""

    context: HintContext
    phone_number_id: str
    wamid: str
    text: str
    signing_notes: tuple[str, ...]
    answer: ForwarderAnswer
    trace: MessageTrace | None  # None: not looked for, the forwarder did not accept the webhook
    judgement: Judgement


async def post_webhook(
    url: str, webhook: SignedWebhook, *, transport: httpx.AsyncBaseTransport | None = None
) -> ForwarderAnswer:
    """POST the signed body as Meta does; a connection failure is an answer too (status None)."""
    started = time.perf_counter()
    async with httpx.AsyncClient(transport=transport, timeout=POST_TIMEOUT_SECONDS) as http:
        try:
            response = await http.post(url, content=webhook.body, headers=webhook.headers)
        except httpx.HTTPError as failure:
            return ForwarderAnswer(status=None, failure=type(failure).__name__, elapsed_ms=_ms(started))
    return ForwarderAnswer(status=response.status_code, body=_shown(response.text), elapsed_ms=_ms(started))


# What a Graph error on the reply means here, in the operator's terms.
GRAPH_HINTS: dict[int, str] = {
    131026: "Graph code 131026 (message undeliverable): the customer's number is not on WhatsApp"
    f" (the default test customer {DEFAULT_TEST_CUSTOMER} never is). For a real end-to-end check, write"
    " to the business number from your own WhatsApp, then run again with --customer YOUR_NUMBER",
    131030: "Graph code 131030 (recipient not in allowed list): the Meta app is in development mode and"
    " this number is not one of its test recipients; add it under App Dashboard > WhatsApp > API Setup (To)",
    131047: "Graph code 131047 (re-engagement): more than 24 hours since this customer last wrote to the"
    " business number, and a sample webhook does not open Meta's 24-hour window; write to the number"
    " from that WhatsApp first, then run again within 24 hours",
    190: "Graph code 190: the tenant's WhatsApp access token expired or was revoked (the dashboard's"
    " temporary token lasts 24 hours); store a system-user token with wa-admin set-whatsapp {tenant}"
    " --phone-number-id ID --access-token-stdin",
}


def judge(answer: ForwarderAnswer, trace: MessageTrace | None, context: HintContext) -> Judgement:
    """The verdict on one webhook test, and what the operator should know or do next."""
    if answer.status is None:
        return Judgement(
            verdict=Verdict.UNREACHABLE,
            hints=(
                f"nothing answered at {context.url} ({answer.failure}): start the local system with"
                " make run, or pass --forwarder-url with the stack's WebhookUrl output",
            ),
        )
    if not answer.accepted:
        return Judgement(verdict=Verdict.NOT_ACCEPTED, hints=_forwarder_hints(answer, context))
    if trace is None or trace.message is None:
        return Judgement(
            verdict=Verdict.NOT_FOUND,
            hints=(
                "the forwarder acknowledged it, but no row with this message id appeared in this"
                f" database within {context.wait_seconds:g} s: the handler uses another database than"
                " this DATABASE_URL, or the invoke is still queued (in AWS: aws logs tail"
                " /aws/lambda/whatsapp-assistant/handler --follow)",
            ),
        )
    if trace.message.tenant_id != context.tenant_id:
        return Judgement(
            verdict=Verdict.NOT_ANSWERED,
            hints=(
                "the handler found no active tenant with this phone_number_id in its database"
                f" ({trace.message.error_title or 'stored without a tenant'}): check wa-admin list, and"
                " that the handler and this command use the same database",
            ),
        )
    return _judge_stored(trace.message, trace.replies, context)


def _judge_stored(
    message: StoredMessage, replies: tuple[StoredReply, ...], context: HintContext
) -> Judgement:
    """The tenant's row was found: answered, finished without an answer, or still under way."""
    codes = dict.fromkeys(reply.error_code for reply in replies if reply.error_code is not None)
    hints = _message_hints(message, context) + tuple(
        GRAPH_HINTS[code].format(tenant=context.tenant) for code in codes if code in GRAPH_HINTS
    )
    if not message.finished:
        return Judgement(
            verdict=Verdict.IN_PROGRESS,
            hints=(
                *hints,
                f"the message was still {message.status} after {context.wait_seconds:g} s: a passing"
                " Groq or Graph failure waits for Lambda's retry (1 and 2 minutes later); run"
                " wa-admin stats later, or give --wait more seconds",
            ),
        )
    if message.status == "answered" and replies and all(reply.reached_graph for reply in replies):
        if all(reply.status == "sent" for reply in replies):
            fictional = (
                f"; the fictional {DEFAULT_TEST_CUSTOMER} is on no WhatsApp: expect failed (131026 or similar)"
                if context.customer == DEFAULT_TEST_CUSTOMER
                else ""
            )
            hints += (
                "sent: Graph accepted the reply; Meta reports delivered, read or failed later in"
                f" status webhooks{fictional}",
            )
        return Judgement(verdict=Verdict.ANSWERED, hints=hints)
    if not replies:
        hints += ("no reply was recorded for the message",)
    return Judgement(verdict=Verdict.NOT_ANSWERED, hints=hints)


def _forwarder_hints(answer: ForwarderAnswer, context: HintContext) -> tuple[str, ...]:
    if answer.status == 401:
        return (
            "401: the forwarder's META_APP_SECRET does not hold the secret this was signed with,"
            f" {context.signed_with}. For make run, leave META_APP_SECRET unset here; for a deployed"
            " forwarder, set it to the META_APP_SECRET of the stack's secret",
        )
    if answer.status == 404:
        return ("404: no webhook at that URL; it ends in /webhook (the stack's WebhookUrl output)",)
    if answer.status == 503 and "not configured" in answer.body:
        return (
            "503 not configured: the forwarder lacks VERIFY_TOKEN, META_APP_SECRET or its handler"
            " (GET /health on the forwarder says which)",
        )
    if answer.status == 503:
        return (
            "503: the forwarder could not hand the webhook to the handler (unreachable, throttled or"
            " timed out); Meta would retry it. See the forwarder's log",
        )
    return (f"{answer.status}: the forwarder refused the webhook",)


def _message_hints(message: StoredMessage, context: HintContext) -> tuple[str, ...]:
    title = message.error_title or ""
    if title.startswith("groq rejected"):
        return (
            f"{title}: Groq refused the tenant's key or model; wa-admin test {context.tenant} tries both",
        )
    if title.startswith("groq not configured"):
        return (f"the tenant has no Groq config: wa-admin set-groq {context.tenant} --api-key-stdin",)
    if message.status == "quiet":
        return (
            "stored and not answered on purpose: the tenant's assistant or this customer's conversation"
            " is paused, or the customer opted out; wa-admin conversations"
            f" {context.tenant} {context.customer} shows why, wa-admin resume ends a pause",
        )
    return ()


def _shown(text: str) -> str:
    cleaned = "".join(char if char.isprintable() else " " for char in text).strip()
    return cleaned[:_BODY_SHOWN_CHARACTERS] + ("…" if len(cleaned) > _BODY_SHOWN_CHARACTERS else "")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
