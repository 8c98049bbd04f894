"""The handler's errors, and the one table that says which Graph errors are worth retrying.

HandlerError
├── UnrecognisedEvent          a Lambda event of no shape we know (names what we expected)
├── InvocationFailed           an unexpected error, re-raised to Lambda with its type only
├── TenantNotConfigured        no active tenant for the number, or no Groq config (HTTP 503)
├── RetryLater                 a passing failure outlasted the invocation: Lambda's retry finishes it
├── UnstorableValue            Postgres refused a value of one message (NUL, surrogate, too long):
│                              that message is refused with the reason, the rest of the batch goes on
├── GroqError                  the tenant's Groq call failed
│   ├── GroqUnavailable        429, 5xx, timeout, network: retried, then the fallback text
│   └── GroqRejected           401 bad key, 404 retired model: not retried, surfaced by `check`
└── WhatsAppError              the Graph API refused or failed a send
    └── WhatsAppRejected(code, title, retryable)
"""

from __future__ import annotations

SERVICE_NOT_CONFIGURED = "Service de messagerie non configuré"


class HandlerError(Exception):
    """Base of every error the handler raises on purpose."""


class UnrecognisedEvent(HandlerError):
    """A Lambda event that is none of the shapes the handler accepts."""


class InvocationFailed(HandlerError):
    """An unexpected failure, named by `describe_failure` (its type), so Lambda's error report and
    the dead-letter queue never carry a library message that quotes a value."""


class TenantNotConfigured(HandlerError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(HandlerError):
    """Messages of the event were left for a retry (Groq or Graph down longer than this invocation
    could wait, or an earlier message of the customer still being answered): raising makes Lambda
    try the event again; what was done stays done, the retry finishes the rest."""


class UnstorableValue(HandlerError):
    """Postgres refused a value (asyncpg's own message quotes the value: this one never does)."""


def scrubbed_for_lambda(error: Exception, keep: tuple[type[BaseException], ...]) -> Exception:
    """The error to raise to Lambda for `error`: its report and the dead-letter queue keep only this.

    `keep` (our own errors, transient infrastructure failures) goes as it is. A Postgres error keeps
    its type (a retry policy may depend on it) but loses its message, DETAIL and HINT, which quote
    row values. Anything else becomes `InvocationFailed` naming its type."""
    if isinstance(error, keep):
        return error
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


class GroqError(HandlerError):
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


class GroqUnavailable(GroqError):
    """Worth another try: rate limit, server error, timeout or network failure."""


class GroqRejected(GroqError):
    """Not worth another try: the key or the model is wrong."""


class WhatsAppError(HandlerError):
    pass


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


class WhatsAppRejected(WhatsAppError):
    def __init__(self, *, code: int | None, title: str, http_status: int | None, retryable: bool) -> None:
        super().__init__(f"Graph API error {code}: {title}")
        self.code = code
        self.title = title
        self.http_status = http_status
        self.retryable = retryable

    @classmethod
    def from_graph(cls, *, code: int | None, title: str, http_status: int | None) -> WhatsAppRejected:
        """Decide retryability from Meta's code, or from the HTTP status when Meta gave none."""
        if code is not None:
            retryable = code in RETRYABLE_GRAPH_CODES
        else:
            retryable = http_status is None or http_status >= 500 or http_status == 429
        return cls(code=code, title=title, http_status=http_status, retryable=retryable)
