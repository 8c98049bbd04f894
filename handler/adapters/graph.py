"""The WhatsApp Cloud API with the tenant's own token: text replies, the read receipt with its
typing indicator, and customers' media (metadata, then the bytes)."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from handler.adapters.metrics import NO_METRICS, MetricsRecorder
from handler.errors import (
    MediaRejected,
    SendOutcomeUnknown,
    WhatsAppError,
    WhatsAppUnavailable,
    graph_refusal,
)
from handler.model import MediaMetadata, Recipient, WhatsAppCredentials
from providers.graph_api import MEDIA_HOST_SUFFIXES
from shared.logs import ms_since
from shared.text import storable_text


class WhatsAppSender:
    """`/{version}/{phone_number_id}/messages`, one shared HTTP client, the tenant's token per call."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        version: str,
        timeout: float,
        metrics: MetricsRecorder = NO_METRICS,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._version = version
        self._timeout = timeout
        self._metrics = metrics  # each accepted message's send latency

    async def send_text(
        self, credentials: WhatsAppCredentials, to: Recipient, body: str, *, time_left: float | None = None
    ) -> str:
        """Send one message, never waiting longer than `time_left`; return its id (`wamid.…`)."""
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            **to.payload_fields(),
            "type": "text",
            "text": {"preview_url": False, "body": body},
        }
        started = time.perf_counter()
        data = await self._post_messages(credentials, payload, time_left)
        message_id = _message_id(data)
        if message_id:
            self._metrics.graph_sent(ms_since(started))
            return message_id
        raise SendOutcomeUnknown("success without a message id")

    async def show_typing(
        self, credentials: WhatsAppCredentials, message_id: str, *, time_left: float | None = None
    ) -> None:
        """Mark the customer's message read (blue ticks) and show "typing…" until the reply arrives
        or 25 s pass: one call, `status: read` with a typing indicator."""
        payload = {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": message_id,
            "typing_indicator": {"type": "text"},
        }
        await self._post_messages(credentials, payload, time_left)

    async def _post_messages(
        self, credentials: WhatsAppCredentials, payload: dict[str, Any], time_left: float | None
    ) -> dict[str, Any]:
        timeout = self._timeout if time_left is None else max(min(self._timeout, time_left), 0.05)
        version = credentials.graph_api_version or self._version
        url = f"{self._base_url}/{version}/{credentials.phone_number_id}/messages"
        try:
            response = await self._http.post(
                url,
                json=payload,
                headers={"Authorization": f"Bearer {credentials.access_token}"},
                timeout=timeout,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            # Never reached Meta: safe to try again.
            raise WhatsAppUnavailable(
                code=None, title=f"network: {type(error).__name__}", http_status=None
            ) from None
        except httpx.TransportError as error:
            raise SendOutcomeUnknown(type(error).__name__) from None
        data = _json(response)
        if response.is_success:
            return data
        raise _refusal(response, data)


class WhatsAppMedia:
    """A customer's media with the tenant's own token: `GET /{version}/{media-id}` gives its type,
    size, checksum and a URL valid for 5 minutes; `GET` that URL with the same token gives the bytes.
    The bytes stay in memory: never logged, never stored."""

    def __init__(self, http: httpx.AsyncClient, *, base_url: str, version: str, timeout: float) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._version = version
        self._timeout = timeout
        base = urlsplit(self._base_url)
        self._graph_origin = (base.scheme, base.netloc)

    async def metadata(
        self, credentials: WhatsAppCredentials, media_id: str, *, time_left: float | None = None
    ) -> MediaMetadata:
        """What Graph says about the media; `phone_number_id` makes Graph refuse a media id that
        was not sent to this tenant's number."""
        version = credentials.graph_api_version or self._version
        try:
            response = await self._http.get(
                f"{self._base_url}/{version}/{media_id}",
                params={"phone_number_id": credentials.phone_number_id},
                headers=_bearer(credentials),
                timeout=self._timeout_for(time_left),
            )
        except httpx.TransportError as error:  # a GET changes nothing: always safe to repeat
            raise _network(error) from None
        data = _json(response)
        if not response.is_success:
            raise _refusal(response, data)
        url, mime_type = data.get("url"), data.get("mime_type")
        if not isinstance(url, str) or not url:
            raise MediaRejected("Graph gave no download URL")
        sha256 = data.get("sha256")
        return MediaMetadata(
            url=url,
            mime_type=mime_type.strip().lower() if isinstance(mime_type, str) else "",
            sha256=sha256 if isinstance(sha256, str) and sha256 else None,
            file_size=_size(data.get("file_size")),
        )

    async def download(
        self,
        credentials: WhatsAppCredentials,
        metadata: MediaMetadata,
        *,
        max_bytes: int,
        time_left: float | None = None,
    ) -> bytes:
        """The bytes behind `metadata.url`, never more than `max_bytes` (a larger body is cut off
        and refused) and never longer than `time_left`. A URL outside Meta's hosts (or the
        configured Graph's) is never sent the token."""
        if not self._may_receive_token(metadata.url):
            raise MediaRejected("the download URL is not on a Meta host")
        timeout = self._timeout_for(time_left)
        try:
            async with asyncio.timeout(timeout):
                return await self._read(credentials, metadata.url, max_bytes, timeout)
        except TimeoutError:
            raise WhatsAppUnavailable(code=None, title="media download: timeout", http_status=None) from None
        except httpx.TransportError as error:
            raise _network(error) from None

    async def _read(
        self, credentials: WhatsAppCredentials, url: str, max_bytes: int, timeout: float
    ) -> bytes:
        async with self._http.stream("GET", url, headers=_bearer(credentials), timeout=timeout) as response:
            if not response.is_success:
                await response.aread()
                # Meta: 404 once the URL expired; a new `GET /{media-id}` gives a fresh one.
                if response.status_code == 404:
                    raise WhatsAppUnavailable(code=None, title="media URL expired", http_status=404)
                raise _refusal(response, _json(response))
            announced = _size(response.headers.get("content-length"))
            if announced is not None and announced > max_bytes:
                raise MediaRejected(f"{announced} bytes, over the limit of {max_bytes}")
            chunks: list[bytes] = []
            received = 0
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > max_bytes:
                    raise MediaRejected(f"over {max_bytes} bytes, the limit")
                chunks.append(chunk)
            return b"".join(chunks)

    def _may_receive_token(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        host = (parts.hostname or "").lower()
        if (parts.scheme, parts.netloc) == self._graph_origin:
            return True
        return parts.scheme == "https" and any(
            host == suffix or host.endswith("." + suffix) for suffix in MEDIA_HOST_SUFFIXES
        )

    def _timeout_for(self, time_left: float | None) -> float:
        return self._timeout if time_left is None else max(min(self._timeout, time_left), 0.05)


def _bearer(credentials: WhatsAppCredentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials.access_token}"}


def _network(error: httpx.TransportError) -> WhatsAppUnavailable:
    return WhatsAppUnavailable(code=None, title=f"network: {type(error).__name__}", http_status=None)


def _refusal(response: httpx.Response, data: dict[str, Any]) -> WhatsAppError:
    """Meta's error (its code and title) in its family."""
    error_field = data.get("error")
    error_body: dict[str, Any] = error_field if isinstance(error_field, dict) else {}
    code = error_body.get("code")
    title = error_body.get("error_user_title") or error_body.get("message") or response.reason_phrase
    return graph_refusal(
        code=code if isinstance(code, int) and -(2**31) <= code < 2**31 else None,
        title=storable_text(str(title))[:200],
        http_status=response.status_code,
    )


def _size(value: object) -> int | None:
    """Meta writes `file_size` as a number or as a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    digits = value.strip() if isinstance(value, str) else ""
    if digits.isascii() and digits.isdigit():
        return int(digits) if len(digits) <= 18 else 10**18  # (int() of 5,000 digits raises)
    return None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _message_id(data: dict[str, Any]) -> str | None:
    messages = data.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        message_id = messages[0].get("id")
        return message_id if isinstance(message_id, str) else None
    return None


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, WhatsAppUnavailable)
