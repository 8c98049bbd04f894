"""The one error hierarchy of the service, by family, and the one table that says what each family
means to whoever called: the HTTP status to answer, and whether a Lambda invocation should fail
(so that Lambda retries the event, then keeps it in the dead-letter queue).

AssistantError
├── ConfigurationError   a setting of the deployment is missing or unusable   503, raise
├── TransientError       a dependency is down or busy for now                 503, raise
├── PermanentError       this will not succeed as it is: recorded, not retried 200, succeed
├── InvalidInput         the request or event is malformed                    400, raise
└── Refused              the caller may not do this                           the subclass's status
    ├── Unauthorized         no or a wrong credential                         401
    ├── Forbidden            a credential that does not allow this            403
    ├── NotFound             no such route here (switched off)                404
    └── Conflict             someone else is doing it right now               409

Each module raises into a family (`MasterKeyUnavailable(TransientError)`,
`GroqRejected(GroqError, PermanentError)`, …): no caller lists library exception types. An error
outside the hierarchy is a bug: 500, and the invocation fails.
"""

from __future__ import annotations

from dataclasses import dataclass


class AssistantError(Exception):
    """Base of every error the service raises on purpose; its message is ours (never a value)."""


class ConfigurationError(AssistantError, ValueError):
    """A required setting is missing or has a value we cannot use (names the setting)."""


class TransientError(AssistantError):
    """A dependency is unavailable for now: trying again later may succeed."""


class PermanentError(AssistantError):
    """Trying again the same way will fail again: record why, do not retry."""


class InvalidInput(AssistantError, ValueError):
    """A request or event we cannot read; the message says what is wrong."""


class Refused(AssistantError):
    """The caller may not do this; `status` says how the refusal is answered."""

    status = 403


class Unauthorized(Refused):
    status = 401


class Forbidden(Refused):
    status = 403


class NotFound(Refused):
    status = 404


class Conflict(Refused):
    status = 409


@dataclass(frozen=True, slots=True, kw_only=True)
class Handling:
    """What an error of a family means: the HTTP status to answer, and whether a Lambda invocation
    should fail (Lambda then retries the event; a retry cannot cure a permanent error, and an
    HTTP caller's own retry follows the status)."""

    http_status: int
    fail_invocation: bool


_TABLE: tuple[tuple[type[AssistantError], Handling], ...] = (
    (ConfigurationError, Handling(http_status=503, fail_invocation=True)),  # retried once it is fixed
    (TransientError, Handling(http_status=503, fail_invocation=True)),
    (PermanentError, Handling(http_status=200, fail_invocation=False)),
    (InvalidInput, Handling(http_status=400, fail_invocation=True)),  # kept in the dead-letter queue
    (Refused, Handling(http_status=403, fail_invocation=False)),
)
_UNEXPECTED = Handling(http_status=500, fail_invocation=True)


def handling_of(error: BaseException) -> Handling:
    """The table's row for `error`'s family (a `Refused` answers its own status)."""
    for family, handling in _TABLE:
        if isinstance(error, family):
            if isinstance(error, Refused):
                return Handling(http_status=error.status, fail_invocation=handling.fail_invocation)
            return handling
    return _UNEXPECTED


def is_transient(error: BaseException) -> bool:
    """Worth trying again later (a dependency's passing failure, or our configuration once fixed)."""
    return isinstance(error, TransientError | ConfigurationError)
