"""The handler's errors, each in its family of `shared/errors.py` (which says what a family means
for an HTTP caller and for Lambda), and the one table of Graph codes worth retrying.

AssistantError (shared/errors.py)
├── InvalidInput
│   └── UnrecognisedEvent          a Lambda event of no shape we know (names what we expected)
├── TransientError
│   ├── RetryLater                 a passing failure outlasted the invocation: Lambda's retry finishes it
│   ├── DatabaseUnavailable        Postgres cannot be reached or refuses connections now
│   ├── GroqUnavailable            Groq 429, 5xx, timeout, network: retried, then the fallback text
│   ├── WhatsAppUnavailable        a Graph error that passes (codes below, 5xx, 429, network)
│   └── MediaUnavailable           a voice note or image could not be fetched or understood for now:
│                                  Lambda's retry tries again, the last attempt sends the notice
├── PermanentError
│   ├── UnstorableValue            Postgres refused a value of one message (NUL, surrogate, too long):
│   │                              that message is refused with the reason, the rest of the batch goes on
│   ├── GroqRejected               401 bad key, 404 retired model: not retried, surfaced by `check`
│   ├── WhatsAppRejected           Meta refused the send for good (its code and title)
│   ├── SendOutcomeUnknown         the request left, no answer came back: never resent
│   └── MediaRejected              media we will not take (too large, a type the next step cannot
│                                  read, a checksum that does not match, no words in a voice note)
└── InvocationFailed               an unexpected error, re-raised to Lambda with its type only
GroqError and WhatsAppError are the two services' bases (a `reason`, a Graph code and title).
"""

from __future__ import annotations

from shared.errors import AssistantError, InvalidInput, PermanentError, TransientError

SERVICE_NOT_CONFIGURED = "Service de messagerie non configuré"


class UnrecognisedEvent(InvalidInput):
    """A Lambda event that is none of the shapes the handler accepts."""


class InvocationFailed(AssistantError):
    """An unexpected failure, named by `describe_failure` (its type), so Lambda's error report and
    the dead-letter queue never carry a library message that quotes a value."""


class RetryLater(TransientError):
    """Messages of the event were left for a retry (Groq or Graph down longer than this invocation
    could wait, or an earlier message of the customer still being answered): raising makes Lambda
    try the event again; what was done stays done, the retry finishes the rest."""


class DatabaseUnavailable(TransientError):
    """Postgres is down, restarting, out of connections or unreachable (names the failure's type)."""


class UnstorableValue(PermanentError):
    """Postgres refused a value (asyncpg's own message quotes the value: this one never does)."""


def scrubbed_for_lambda(error: Exception) -> Exception:
    """The error to raise to Lambda for `error`, one outside our hierarchy: its report and the
    dead-letter queue keep only this. A Postgres error keeps its type (a retry policy may depend on
    it) but loses its message, DETAIL and HINT, which quote row values. Anything else becomes
    `InvocationFailed` naming its type."""
    if isinstance(getattr(error, "sqlstate", None), str):
        error.args = (describe_failure(error),)
        for attribute in ("detail", "hint"):
            if hasattr(error, attribute):
                setattr(error, attribute, None)
        error.__cause__ = None
        error.__suppress_context__ = True
        return error
    return InvocationFailed(describe_failure(error))


def describe_failure(error: BaseException) -> str:
    """What failed, for a log line or an error report: the type and SQLSTATE, never the message,
    which for database and encoding errors quotes the values involved (a customer's text)."""
    sqlstate = getattr(error, "sqlstate", None)
    return type(error).__name__ + (f" (SQLSTATE {sqlstate})" if isinstance(sqlstate, str) else "")


class GroqError(AssistantError):
    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.code = code  # Groq's machine-readable code, e.g. "model_not_found"
        self.retry_after = retry_after

    @property
    def refuses_the_model(self) -> bool:
        """Groq does not serve this model (any more) to this key: retired or unknown."""
        return self.code in ("model_decommissioned", "model_not_found")


class GroqUnavailable(GroqError, TransientError):
    """Worth another try: rate limit, server error, timeout or network failure."""


class GroqRejected(GroqError, PermanentError):
    """Not worth another try: the key or the model is wrong."""


class WhatsAppError(AssistantError):
    """The Graph API did not take a request: Meta's code (None when it gave none) and title."""

    def __init__(self, *, code: int | None, title: str, http_status: int | None) -> None:
        super().__init__(f"Graph API error {code}: {title}")
        self.code = code
        self.title = title
        self.http_status = http_status


class WhatsAppUnavailable(WhatsAppError, TransientError):
    """Meta refused for now (a passing code, 5xx, 429), or the request never reached it."""


class WhatsAppRejected(WhatsAppError, PermanentError):
    """Meta refused for good: the token, the recipient, the payload."""


class SendOutcomeUnknown(WhatsAppError, PermanentError):
    """The request left but no answer came back: Meta may have delivered it, so it is not resent."""

    def __init__(self, what: str) -> None:
        super().__init__(code=None, title=what, http_status=None)


class MediaRejected(PermanentError):
    """A voice note or image we do not pass on; `reason` says why (never a value of the media)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaUnavailable(TransientError):
    """Fetching or understanding a voice note or image failed for now and a retry remains."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Graph error codes whose cause passes with time; every other code is permanent.
# https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
RETRYABLE_GRAPH_CODES = frozenset(
    {
        1,  # API unknown
        2,  # API service
        4,  # application request limit
        80007,  # rate limit
        130429,  # throughput reached
        131000,  # something went wrong
        131016,  # service unavailable
        131056,  # pair rate limit (business, customer)
        133004,  # server temporarily unavailable
    }
)


def graph_refusal(*, code: int | None, title: str, http_status: int | None) -> WhatsAppError:
    """Meta's refusal in its family: by Meta's code, or by the HTTP status when Meta gave none."""
    if code is not None:
        passing = code in RETRYABLE_GRAPH_CODES
    else:
        passing = http_status is None or http_status >= 500 or http_status == 429
    kind = WhatsAppUnavailable if passing else WhatsAppRejected
    return kind(code=code, title=title, http_status=http_status)
