"""A local server speaking the WhatsApp Cloud API, with Meta's errors and faults.

`POST /{version}/{phone_number_id}/messages` validates like Meta (a current Graph API version,
Bearer token, the tenant's token for that number, `messaging_product`, a recipient given as `to`
(phone number) or `recipient` (business-scoped user id), `text.body` ≤ 4096 characters), records
every attempt, and answers with a fresh `wamid`. The same path takes read receipts with a typing
indicator (`status: read`, `message_id`, `typing_indicator: {type: text}`), recorded apart (`reads`)
because they send nothing. `GET /{version}/{phone_number_id}` is the phone number's own object (the
live check reads it); the same path with a media id is that media's metadata and a download URL
that needs the same token (`standins.graph_media`). Tests script Meta's error codes, HTTP 5xx and
delays.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.graph_api import served_on
from standins.graph_errors import GRAPH_ERRORS, GraphErrorResponse, graph_error, transient_error
from standins.graph_media import (
    ATTACHMENTS_PATH,
    MediaFault,
    MediaLibrary,
    MediaRequest,
    StoredMedia,
    download_refusal,
    fault_response,
    metadata_body,
    wrong_number,
)
from standins.scripting import FaultScript, Recorder
from standins.server import BackgroundServer, serve_forever, standalone_arguments

# The current access token of a business number; None when there is no such number.
TokenSource = Callable[[str], Awaitable[str | None]]

MAX_TEXT_LENGTH = 4096
# Meta: a country code, a period, up to 128 alphanumerics (a parent BSUID has ENT. after the code).
_BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")
_LONG_POLL_LIMIT_SECONDS = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadReceipt:
    """A "mark as read" call, with the typing indicator or without."""

    version: str
    phone_number_id: str
    token: str
    message_id: str
    typing: bool
    status: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SentMessage:
    """One send attempt as the stand-in received it, and how it answered."""

    version: str
    phone_number_id: str
    token: str  # from `Authorization: Bearer …`; "" when absent
    to: str  # the phone number; "" when the message went to a business-scoped user id
    type: str
    body: str | None  # `text.body` for text messages
    status: int  # the HTTP status answered
    wamid: str | None = None  # set when accepted
    error_code: int | None = None
    recipient: str = ""  # `recipient`: the business-scoped user id (BSUID), when given
    payload: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def accepted(self) -> bool:
        return self.wamid is not None

    @property
    def addressee(self) -> str:
        """Whom Meta delivers to: `to` wins over `recipient` when both are given (as at Meta)."""
        return self.to or self.recipient


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphFault:
    """Meta's error `code` (with its usual HTTP status unless `status` is given), or a bare delay.

    A fault with neither code nor status only delays the answer; the message is accepted first,
    so a client that times out leaves a message Meta did deliver (the "outcome unknown" case).
    """

    code: int | None = None
    status: int | None = None
    delay: float = 0.0
    details: str | None = None


class GraphStandIn(BackgroundServer):
    """The Graph messages endpoint on 127.0.0.1.

    `tokens` maps each known phone_number_id to its access token: then a wrong token gets 401
    (code 190) and an unknown phone_number_id gets Meta's 400 (code 100, subcode 33). Without
    it, any non-empty token and any number are accepted. `token_source`, when given, is asked for
    the token of a number it does not know, or whose token does not match (a tenant added or
    changed since), as Meta always knows every number's current token.
    """

    def __init__(
        self,
        *,
        tokens: Mapping[str, str] | None = None,
        token_source: TokenSource | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.tokens: dict[str, str] | None = dict(tokens) if tokens is not None else None
        self.token_source = token_source
        self.recorder: Recorder[SentMessage] = Recorder()
        self.read_recorder: Recorder[ReadReceipt] = Recorder()
        self.faults: FaultScript[SentMessage, GraphFault] = FaultScript()
        self.read_faults: FaultScript[ReadReceipt, GraphFault] = FaultScript()
        self.media = MediaLibrary()
        super().__init__(self._build_app(), host=host, port=port)

    def add_media(
        self, data: bytes, *, mime_type: str, phone_number_id: str, token: str | None = None
    ) -> StoredMedia:
        """A file a customer sent to `phone_number_id`: its id and checksum go in the webhook.
        Only that number's token fetches it (`token`, or the registered one; with neither, any)."""
        return self.media.add(data, mime_type=mime_type, phone_number_id=phone_number_id, token=token)

    @property
    def media_requests(self) -> list[MediaRequest]:
        """Every media metadata and download request, in order."""
        return self.media.recorder.snapshot()

    def fail_media(
        self,
        n: int | None = 1,
        *,
        stage: str = "metadata",
        status: int = 503,
        code: int | None = None,
        delay: float = 0.0,
        body: bytes | None = None,
    ) -> None:
        """Answer the next `n` media requests of `stage` ("metadata" or "download") with `status`
        (Meta's `code` with it, else a transient error), or a download with `body` instead."""
        fault = MediaFault(status=status, code=code, delay=delay, body=body)
        self.media.faults.add(fault, times=n, when=lambda request: request.stage == stage)

    @property
    def requests(self) -> list[SentMessage]:
        """Every send attempt, accepted or not, in order."""
        return self.recorder.snapshot()

    @property
    def delivered(self) -> list[SentMessage]:
        """The messages Meta would have delivered (answered 200 with a wamid)."""
        return [m for m in self.recorder.snapshot() if m.accepted]

    def delivered_to(self, to: str) -> list[SentMessage]:
        return [m for m in self.delivered if m.addressee == to]

    @property
    def reads(self) -> list[ReadReceipt]:
        """Every read receipt (with or without typing indicator), in order."""
        return self.read_recorder.snapshot()

    def fail_reads(
        self, n: int | None = 1, *, status: int | None = 503, code: int | None = None, delay: float = 0.0
    ) -> None:
        """Answer the next `n` read receipts with an error (or only late, with neither)."""
        self.read_faults.add(GraphFault(code=code, status=status, delay=delay), times=n)

    def register(self, phone_number_id: str, token: str) -> None:
        """Accept `token` (only) for `phone_number_id` from now on."""
        if self.tokens is None:
            self.tokens = {}
        self.tokens[phone_number_id] = token

    def fail_next(
        self,
        n: int | None = 1,
        *,
        code: int | None = None,
        status: int | None = None,
        delay: float = 0.0,
        details: str | None = None,
        phone_number_id: str | None = None,
        to: str | None = None,
        token: str | None = None,
    ) -> None:
        """Answer the next `n` matching sends (every one when `n` is None) with Meta's error.

        Give a Meta `code` (e.g. 131047), an HTTP `status` (e.g. 503: a transient Graph error),
        or both. Filters restrict the rule to one number, recipient or token.
        """
        if code is None and status is None:
            raise ValueError("give a Meta error code, an HTTP status, or both")
        if code is not None and code not in GRAPH_ERRORS:
            raise ValueError(f"unknown Graph error code {code}; known: {sorted(GRAPH_ERRORS)}")
        fault = GraphFault(code=code, status=status, delay=delay, details=details)
        self.faults.add(fault, times=n, when=_matcher(phone_number_id, to, token))

    def slow(
        self,
        seconds: float,
        *,
        n: int | None = None,
        phone_number_id: str | None = None,
        to: str | None = None,
    ) -> None:
        """Accept the next `n` matching sends, then wait `seconds` before answering."""
        self.faults.add(GraphFault(delay=seconds), times=n, when=_matcher(phone_number_id, to, None))

    def reset(self) -> None:
        """Forget recorded sends and scripted faults (registered tokens are kept)."""
        self.recorder.clear()
        self.read_recorder.clear()
        self.faults.clear()
        self.read_faults.clear()
        self.media.reset()

    def _build_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/_standin/messages", self._list_delivered, methods=["GET"]),
                Route("/_standin/media", self._upload_media, methods=["POST"]),
                Route(ATTACHMENTS_PATH, self._download_media, methods=["GET"]),
                Route("/{version}/{phone_number_id}/messages", self._messages, methods=["POST"]),
                Route("/{version}/{phone_number_id}", self._phone_number, methods=["GET"]),
            ]
        )

    async def _messages(self, request: Request) -> JSONResponse:
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict) and "status" in payload:
            return await self._mark_read(request, payload)
        return await self._send(request, payload)

    async def _mark_read(self, request: Request, payload: dict[str, Any]) -> JSONResponse:
        epoch = self.read_recorder.epoch
        typing = payload.get("typing_indicator")
        receipt = ReadReceipt(
            version=request.path_params["version"],
            phone_number_id=request.path_params["phone_number_id"],
            token=_bearer(request),
            message_id=str(payload.get("message_id") or ""),
            typing=typing is not None,
            status=0,
        )
        fault = self.read_faults.take(receipt)
        if fault is not None:
            await self.pause(fault.delay)
        refusal: GraphErrorResponse | None
        if fault is not None and (fault.code is not None or fault.status is not None):
            refusal = (
                graph_error(fault.code, status=fault.status)
                if fault.code is not None
                else transient_error(fault.status or 503)
            )
        else:
            await self._refresh_token(receipt.phone_number_id, receipt.token)
            refusal = (
                _version_refusal(receipt.version)
                or self._token_refusal(receipt.phone_number_id, receipt.token)
                or _read_refusal(payload)
            )
        status = refusal.status_code if refusal is not None else 200
        self.read_recorder.append(dataclasses.replace(receipt, status=status), epoch=epoch)
        return refusal if refusal is not None else JSONResponse({"success": True})

    async def _phone_number(self, request: Request) -> Response:
        """The business phone number's object, as the live check reads it (token checked); a
        media id names that media instead."""
        phone_number_id = request.path_params["phone_number_id"]
        media = self.media.get(phone_number_id)
        if media is not None:
            return await self._media_metadata(request, media)
        await self._refresh_token(phone_number_id, _bearer(request))
        refusal = _version_refusal(request.path_params["version"]) or self._token_refusal(
            phone_number_id, _bearer(request)
        )
        if refusal is not None:
            return refusal
        return JSONResponse(
            {
                "verified_name": "Stand-in Business",
                "display_phone_number": "+1 555-000-" + phone_number_id[-4:],
                "quality_rating": "GREEN",
                "id": phone_number_id,
            }
        )

    async def _media_metadata(self, request: Request, media: StoredMedia) -> Response:
        asked = self.media.request(
            "metadata", media.id, _bearer(request), request.query_params.get("phone_number_id")
        )
        fault = await self.media.take_fault(asked)
        response: Response
        if fault is not None:
            response = fault_response(fault)
        else:
            refusal = _version_refusal(request.path_params["version"]) or await self._media_token_refusal(
                media, asked.token
            )
            if refusal is None and asked.phone_number_id not in (None, media.phone_number_id):
                refusal = wrong_number(media.id)
            base_url = str(request.base_url).rstrip("/")
            response = refusal or JSONResponse(metadata_body(media, self.media.link(media, base_url)))
        self.media.record(asked, response.status_code)
        return response

    async def _download_media(self, request: Request) -> Response:
        """lookaside's download: the bytes, for the token of the media's number, while the link lives."""
        media_id = request.query_params.get("mid", "")
        asked = self.media.request("download", media_id, _bearer(request))
        fault = await self.media.take_fault(asked)
        media = self.media.linked(request.query_params.get("hash", ""), media_id)
        response: Response
        if fault is not None and fault.body is not None and media is not None:
            response = Response(fault.body, media_type=media.mime_type)
        elif fault is not None:
            response = fault_response(fault)
        elif media is None:
            response = download_refusal(404)
        elif not asked.token or await self._media_token_refusal(media, asked.token) is not None:
            response = download_refusal(401)
        else:
            response = Response(media.data, media_type=media.mime_type)
        self.media.record(asked, response.status_code)
        return response

    async def _media_token_refusal(self, media: StoredMedia, token: str) -> GraphErrorResponse | None:
        """A media belongs to its number: that number's token, the one it was added with if any."""
        if media.token is not None:
            if not token:
                return graph_error(104, message="An access token is required to request this resource.")
            if not secrets.compare_digest(media.token, token):
                return graph_error(
                    190, message="Invalid OAuth access token - Cannot parse access token", subcode=None
                )
            return None
        await self._refresh_token(media.phone_number_id, token)
        return self._token_refusal(media.phone_number_id, token)

    async def _upload_media(self, request: Request) -> JSONResponse:
        """`POST /_standin/media?phone_number_id=…&mime_type=…` with the file as the body: what a
        customer's phone does before Meta's webhook names the media (for make run and the bench)."""
        phone_number_id = request.query_params.get("phone_number_id", "")
        mime_type = request.query_params.get("mime_type", "")
        data = await request.body()
        if not phone_number_id or not mime_type or not data:
            return JSONResponse({"error": "give phone_number_id, mime_type and the file"}, status_code=400)
        media = self.add_media(data, mime_type=mime_type, phone_number_id=phone_number_id)
        return JSONResponse({"id": media.id, "sha256": media.sha256_base64, "file_size": len(data)})

    async def _send(self, request: Request, payload: object) -> JSONResponse:
        epoch = self.recorder.epoch
        attempt, problem = _read_attempt(request, payload)
        fault = self.faults.take(attempt)
        if fault is not None and (fault.code is not None or fault.status is not None):
            await self.pause(fault.delay)
            if fault.code is not None:
                return self._refuse(
                    attempt, graph_error(fault.code, status=fault.status, details=fault.details), epoch
                )
            return self._refuse(attempt, transient_error(fault.status or 503), epoch)
        await self._refresh_token(attempt.phone_number_id, attempt.token)
        refusal = self._check_credentials(attempt) or problem
        if refusal is not None:
            return self._refuse(attempt, refusal, epoch)
        wamid = "wamid." + uuid.uuid4().hex.upper()
        self.recorder.append(dataclasses.replace(attempt, status=200, wamid=wamid), epoch=epoch)
        if fault is not None:
            await self.pause(fault.delay)
        # Meta: to a phone number, `wa_id`; to a BSUID only, `user_id` and no `wa_id`.
        contact = (
            {"input": attempt.to, "wa_id": re.sub(r"\D", "", attempt.to)}
            if attempt.to
            else {"input": attempt.recipient, "user_id": attempt.recipient}
        )
        return JSONResponse(
            {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]}
        )

    def _check_credentials(self, attempt: SentMessage) -> GraphErrorResponse | None:
        return self._token_refusal(attempt.phone_number_id, attempt.token)

    async def _refresh_token(self, phone_number_id: str, token: str) -> None:
        if self.tokens is None or self.token_source is None or self.tokens.get(phone_number_id) == token:
            return
        current = await self.token_source(phone_number_id)
        if current is not None:
            self.tokens[phone_number_id] = current

    def _token_refusal(self, phone_number_id: str, token: str) -> GraphErrorResponse | None:
        if not token:
            return graph_error(104, message="An access token is required to request this resource.")
        if self.tokens is None:
            return None
        expected = self.tokens.get(phone_number_id)
        if expected is None:
            message = (
                f"Unsupported post request. Object with ID '{phone_number_id}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this operation."
            )
            return graph_error(100, message=message, error_type="GraphMethodException", subcode=33)
        if not secrets.compare_digest(expected, token):
            return graph_error(
                190, message="Invalid OAuth access token - Cannot parse access token", subcode=None
            )
        return None

    def _refuse(
        self, attempt: SentMessage, response: GraphErrorResponse, epoch: int | None = None
    ) -> JSONResponse:
        self.recorder.append(
            dataclasses.replace(attempt, status=response.status_code, error_code=response.code), epoch=epoch
        )
        return response

    async def _list_delivered(self, request: Request) -> JSONResponse:
        """`GET /_standin/messages?after=N&wait=S`: delivered messages past index N (no tokens).

        Waits up to S seconds for one to arrive, so a separate process (make run's chat) can follow.
        """
        after = _number(request.query_params.get("after"), -1.0)
        wait = min(_number(request.query_params.get("wait"), 0.0), _LONG_POLL_LIMIT_SECONDS)
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            items = [(i, m) for i, m in enumerate(self.recorder.snapshot()) if m.accepted and i > after]
            if items or self.stopping or asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(0.02)
        messages = [
            {
                "index": i,
                "phone_number_id": m.phone_number_id,
                "to": m.addressee,
                "type": m.type,
                "body": m.body,
                "id": m.wamid,
            }
            for i, m in items
        ]
        return JSONResponse({"messages": messages})


def _matcher(phone_number_id: str | None, to: str | None, token: str | None) -> Callable[[SentMessage], bool]:
    def matches(attempt: SentMessage) -> bool:
        return (
            (phone_number_id is None or attempt.phone_number_id == phone_number_id)
            and (to is None or attempt.to == to)
            and (token is None or attempt.token == token)
        )

    return matches


def _number(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _bearer(request: Request) -> str:
    authorization = request.headers.get("authorization", "")
    return authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""


def _read_attempt(request: Request, payload: object) -> tuple[SentMessage, GraphErrorResponse | None]:
    """The send as far as it can be read, and the error Meta would give for its body."""
    body = payload if isinstance(payload, dict) else {}
    text = body.get("text")
    attempt = SentMessage(
        version=request.path_params["version"],
        phone_number_id=request.path_params["phone_number_id"],
        token=_bearer(request),
        to=str(body.get("to") or ""),
        recipient=str(body.get("recipient") or ""),
        type=str(body.get("type") or "text"),
        body=text.get("body") if isinstance(text, dict) and isinstance(text.get("body"), str) else None,
        status=0,
        payload=body,
    )
    return attempt, _version_refusal(attempt.version) or _validate(attempt, payload)


def _version_refusal(version: str) -> GraphErrorResponse | None:
    """Meta serves the versions `providers.graph_api` lists (v21.0 to v27.0 on 2026-12-01)."""
    if not served_on(version, date.today()):
        return graph_error(
            2635,
            status=400,
            message=f"(#2635) You are calling a deprecated or unknown version of the Graph API: {version}.",
        )
    return None


def _read_refusal(payload: dict[str, Any]) -> GraphErrorResponse | None:
    """Meta's checks of a "mark as read" body (typing indicators: only `{"type": "text"}`)."""
    if payload.get("messaging_product") != "whatsapp":
        return graph_error(100, message="(#100) The parameter messaging_product is required.")
    if payload.get("status") != "read":
        return graph_error(100, details="Param status must be one of {read}.")
    message_id = payload.get("message_id")
    if not isinstance(message_id, str) or not message_id.startswith("wamid."):
        return graph_error(131009, details="Param message_id is not a valid WhatsApp message id.")
    typing = payload.get("typing_indicator")
    if typing is not None and typing != {"type": "text"}:
        return graph_error(131009, details="Param typing_indicator['type'] must be one of {text}.")
    return None


def _validate(attempt: SentMessage, payload: object) -> GraphErrorResponse | None:
    if not isinstance(payload, dict):
        return graph_error(100, details="The request body must be a JSON object.")
    if payload.get("messaging_product") != "whatsapp":
        return graph_error(100, message="(#100) The parameter messaging_product is required.")
    if not attempt.to and not attempt.recipient:
        return graph_error(100, message="(#100) The parameter to is required.")
    if attempt.recipient and not attempt.to and not _BSUID.match(attempt.recipient):
        return graph_error(100, details="Param recipient must be a valid business-scoped user id.")
    if attempt.type == "text":
        if attempt.body is None or not attempt.body.strip():
            return graph_error(100, message="(#100) The parameter text['body'] is required.")
        if len(attempt.body) > MAX_TEXT_LENGTH:
            details = f"Param text['body'] must be at most {MAX_TEXT_LENGTH} characters long."
            return graph_error(100, details=details)
    elif not isinstance(payload.get(attempt.type), dict):
        return graph_error(
            100, details=f"Param {attempt.type} is required for messages of type {attempt.type}."
        )
    return None


def main(argv: list[str] | None = None) -> int:
    """`python -m standins.graph --port N [--token PHONE_NUMBER_ID=TOKEN ...]`: serve until stopped."""
    parser = standalone_arguments("Offline stand-in for the WhatsApp Cloud API messages endpoint.")
    parser.add_argument("--token", action="append", default=[], help="PHONE_NUMBER_ID=TOKEN (repeatable)")
    args = parser.parse_args(argv)
    pairs = [item.split("=", 1) for item in args.token if "=" in item]
    standin = GraphStandIn(tokens=dict(pairs) if pairs else None)
    return serve_forever("graph", standin.app, args.host, args.port)


if __name__ == "__main__":
    raise SystemExit(main())
