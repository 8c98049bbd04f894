"""The Graph stand-in's media: customers' files as Meta keeps them for a business number.

As at Meta (WhatsApp Cloud API, "Media", 2026): `GET /{version}/{media-id}[?phone_number_id=]`
with a Bearer token answers `{"messaging_product", "url", "mime_type", "sha256", "file_size", "id"}`;
the URL is good for 5 minutes and `GET` on it needs the same token (without it the download
fails; an expired or unknown URL is a 404). A media id belongs to the business number it was sent
to: another number's token is refused like any wrong token (401, code 190), and a
`phone_number_id` that is not the media's is refused (400, code 100). `sha256` is given in hex
here (webhooks carry it in base64: clients should take both).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field

from starlette.responses import JSONResponse, Response

from standins.graph_errors import GraphErrorResponse, graph_error, transient_error
from standins.scripting import FaultScript, Recorder

MEDIA_URL_LIFETIME_SECONDS = 300.0
ATTACHMENTS_PATH = "/whatsapp_business/attachments/"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredMedia:
    """A file a customer sent to `phone_number_id`, as Graph holds it."""

    id: str
    phone_number_id: str
    mime_type: str
    data: bytes = field(repr=False)
    token: str | None = field(default=None, repr=False)  # required as it is, when given

    @property
    def sha256_base64(self) -> str:
        """The checksum as Meta's webhooks write it."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode("ascii")

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaRequest:
    """One metadata or download request, and how it was answered."""

    stage: str  # "metadata" or "download"
    media_id: str
    token: str = field(repr=False)
    status: int = 0
    phone_number_id: str | None = None  # the `phone_number_id` query parameter of a metadata call
    generation: int = field(default=0, repr=False, compare=False)  # the library's, when it arrived


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaFault:
    """An HTTP status (a Graph `code` with it, else a transient error), after `delay` seconds."""

    status: int = 503
    code: int | None = None
    delay: float = 0.0
    body: bytes | None = None  # a download answered 200 with these bytes instead of the file


@dataclass(slots=True)
class _Link:
    media_id: str
    issued_at: float


class MediaLibrary:
    """The media of every business number, their download links, and what was asked of them."""

    def __init__(self) -> None:
        self._media: dict[str, StoredMedia] = {}
        self._links: dict[str, _Link] = {}
        self._lock = threading.Lock()
        self._generation = 0  # a request still running across a reset is not recorded after it
        self.recorder: Recorder[MediaRequest] = Recorder()
        self.faults: FaultScript[MediaRequest, MediaFault] = FaultScript()

    def add(
        self, data: bytes, *, mime_type: str, phone_number_id: str, token: str | None = None
    ) -> StoredMedia:
        media = StoredMedia(
            id=str(10**15 + secrets.randbelow(9 * 10**15)),
            phone_number_id=phone_number_id,
            mime_type=mime_type,
            data=data,
            token=token,
        )
        with self._lock:
            self._media[media.id] = media
        return media

    def get(self, media_id: str) -> StoredMedia | None:
        with self._lock:
            return self._media.get(media_id)

    def expire_links(self) -> None:
        """Every download URL handed out so far stops working (as after Meta's 5 minutes)."""
        with self._lock:
            self._links.clear()

    def reset(self) -> None:
        """Forget recorded requests, faults and links (the media stay, as at Meta for 7 days)."""
        with self._lock:
            self._generation += 1
        self.recorder.clear()
        self.faults.clear()
        self.expire_links()

    def request(
        self, stage: str, media_id: str, token: str, phone_number_id: str | None = None
    ) -> MediaRequest:
        with self._lock:
            generation = self._generation
        return MediaRequest(
            stage=stage,
            media_id=media_id,
            token=token,
            phone_number_id=phone_number_id,
            generation=generation,
        )

    def link(self, media: StoredMedia, base_url: str) -> str:
        nonce = secrets.token_urlsafe(16)
        with self._lock:
            self._links[nonce] = _Link(media_id=media.id, issued_at=time.monotonic())
        return f"{base_url}{ATTACHMENTS_PATH}?mid={media.id}&ext={int(time.time())}&hash={nonce}"

    def linked(self, nonce: str, media_id: str) -> StoredMedia | None:
        with self._lock:
            link = self._links.get(nonce)
            if link is None or link.media_id != media_id:
                return None
            if time.monotonic() - link.issued_at > MEDIA_URL_LIFETIME_SECONDS:
                del self._links[nonce]
                return None
            return self._media.get(media_id)

    async def take_fault(self, request: MediaRequest) -> MediaFault | None:
        fault = self.faults.take(request)
        if fault is not None and fault.delay > 0:
            await asyncio.sleep(fault.delay)
        return fault

    def record(self, request: MediaRequest, status: int) -> None:
        with self._lock:
            current = request.generation == self._generation
        if current:
            self.recorder.append(dataclasses.replace(request, status=status))


def metadata_body(media: StoredMedia, url: str) -> dict[str, object]:
    return {
        "messaging_product": "whatsapp",
        "url": url,
        "mime_type": media.mime_type,
        "sha256": media.sha256_hex,
        "file_size": len(media.data),
        "id": media.id,
    }


def wrong_number(media_id: str) -> GraphErrorResponse:
    """Graph's answer when the media was not sent to the `phone_number_id` named."""
    message = (
        f"Unsupported get request. Object with ID '{media_id}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation."
    )
    return graph_error(100, message=message, error_type="GraphMethodException", subcode=33)


def fault_response(fault: MediaFault) -> Response:
    if fault.code is not None:
        return graph_error(fault.code, status=fault.status)
    return transient_error(fault.status)


def download_refusal(status: int) -> JSONResponse:
    """lookaside's refusals: no or a wrong token (401), an expired or unknown URL (404)."""
    if status == 401:
        return graph_error(
            190, message="Invalid OAuth access token - Cannot parse access token", subcode=None
        )
    return JSONResponse(
        {"error": {"message": "URL signature expired or not found", "code": 404}}, status_code=404
    )
