"""Meta's Graph API error responses for the WhatsApp Cloud API: the codes, titles and HTTP statuses.

Shapes follow Meta's documentation: `{"error": {"message", "type", "code", "error_data":
{"messaging_product", "details"}, "error_subcode"?, "fbtrace_id"}}`; the HTTP status is the one
Meta documents for each code (most are 400, even the throughput limits; callers should decide by
`code`, as Meta advises).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse


@dataclass(frozen=True, slots=True)
class GraphErrorKind:
    status: int
    title: str
    details: str


GRAPH_ERRORS: dict[int, GraphErrorKind] = {
    1: GraphErrorKind(400, "API Unknown", "Invalid request or possible server error."),
    2: GraphErrorKind(503, "API Service", "Temporary due to downtime or due to being overloaded."),
    4: GraphErrorKind(400, "API Too Many Calls", "The app has reached its API call rate limit."),
    10: GraphErrorKind(403, "Permission Denied", "Permission is either not granted or has been removed."),
    100: GraphErrorKind(
        400, "Invalid parameter", "The request included unsupported or misspelled parameters."
    ),
    104: GraphErrorKind(
        400, "Access token required", "An access token is required to request this resource."
    ),
    190: GraphErrorKind(401, "Access token has expired", "Your access token has expired."),
    2635: GraphErrorKind(
        400, "Deprecated API version", "The Graph API version called is no longer available."
    ),
    368: GraphErrorKind(
        403, "Temporarily blocked for policies violations", "The account has been restricted."
    ),
    80007: GraphErrorKind(
        400, "Rate limit issues", "The WhatsApp Business Account has reached its rate limit."
    ),
    130429: GraphErrorKind(400, "Rate limit hit", "Cloud API message throughput has been reached."),
    131000: GraphErrorKind(500, "Something went wrong", "Message failed to send due to an unknown error."),
    131008: GraphErrorKind(
        400, "Required parameter is missing", "The request is missing a required parameter."
    ),
    131009: GraphErrorKind(400, "Parameter value is not valid", "One or more parameter values are invalid."),
    131016: GraphErrorKind(503, "Service unavailable", "A service is temporarily unavailable."),
    131026: GraphErrorKind(
        400, "Message undeliverable", "Unable to deliver message: the recipient may not be a WhatsApp user."
    ),
    131031: GraphErrorKind(
        400, "Account has been locked", "The business account was restricted or disabled."
    ),
    131047: GraphErrorKind(
        400,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    ),
    131048: GraphErrorKind(
        400, "Spam rate limit hit", "Message failed to send because of restrictions on this number."
    ),
    131051: GraphErrorKind(400, "Unsupported message type", "Unsupported message type."),
    131056: GraphErrorKind(
        400,
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number "
        "to the same phone number in a short period of time.",
    ),
    133010: GraphErrorKind(
        400, "Phone number not registered", "The phone number is not registered on the Cloud API."
    ),
}

_SUBCODES = {190: 463}  # 463: "session has expired"


class GraphErrorResponse(JSONResponse):
    """A Graph error as an HTTP response, keeping its code for the stand-in's records."""

    def __init__(self, code: int, status: int, error: dict[str, Any]) -> None:
        super().__init__({"error": error}, status_code=status)
        self.code = code


def fbtrace_id() -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return "A" + "".join(secrets.choice(alphabet) for _ in range(22))


def graph_error(
    code: int,
    *,
    status: int | None = None,
    message: str | None = None,
    details: str | None = None,
    error_type: str = "OAuthException",
    subcode: int | None = -1,
) -> GraphErrorResponse:
    """Meta's error body for `code`; `subcode=-1` means "Meta's usual one for this code, if any"."""
    kind = GRAPH_ERRORS.get(code, GRAPH_ERRORS[1])
    error: dict[str, Any] = {
        "message": message or f"(#{code}) {kind.title}",
        "type": error_type,
        "code": code,
    }
    if code == 190 and message is None:
        error["message"] = "Error validating access token: Session has expired."
    if code not in (104, 190):
        error["error_data"] = {"messaging_product": "whatsapp", "details": details or kind.details}
    chosen_subcode = _SUBCODES.get(code) if subcode == -1 else subcode
    if chosen_subcode is not None:
        error["error_subcode"] = chosen_subcode
    error["fbtrace_id"] = fbtrace_id()
    return GraphErrorResponse(code, status or kind.status, error)


def transient_error(status: int) -> GraphErrorResponse:
    """What Graph answers when it is down or overloaded (code 2, `is_transient`), with `status`."""
    error = {
        "message": "An unexpected error has occurred. Please retry your request later.",
        "type": "OAuthException",
        "is_transient": True,
        "code": 2,
        "fbtrace_id": fbtrace_id(),
    }
    return GraphErrorResponse(2, status, error)
