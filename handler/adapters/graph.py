"""The WhatsApp Cloud API with the tenant's own token: text replies, and the read receipt with its
typing indicator."""

from __future__ import annotations

import time
from typing import Any

import httpx

from handler.adapters.metrics import NO_METRICS, MetricsRecorder
from handler.errors import SendOutcomeUnknown, WhatsAppUnavailable, graph_refusal
from handler.model import Recipient, WhatsAppCredentials
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
        error_field = data.get("error")
        error_body: dict[str, Any] = error_field if isinstance(error_field, dict) else {}
        code = error_body.get("code")
        title = error_body.get("error_user_title") or error_body.get("message") or response.reason_phrase
        raise graph_refusal(
            code=code if isinstance(code, int) and -(2**31) <= code < 2**31 else None,
            title=storable_text(str(title))[:200],
            http_status=response.status_code,
        )


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
