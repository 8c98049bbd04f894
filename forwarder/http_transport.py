"""The development transport: the envelope POSTed to the handler's HTTP server (`HANDLER_URL`).

Only local runs use it, so only they need httpx: the Lambda package leaves it out, and
`forwarder.runtime` imports this module only when the settings name an HTTP target.
"""

from __future__ import annotations

import httpx

from forwarder.errors import HandoffRejected, HandoffThrottled, HandoffTimedOut, HandoffUnreachable
from shared.signature import FORWARDER_SIGNATURE_HEADER, sign


def http_transport(url: str, secret: str, *, timeout: float, concurrency: int) -> HttpTransport:
    """A transport with its own connection pool of `concurrency` connections."""
    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency))
    return HttpTransport(url, secret, client, timeout)


class HttpTransport:
    """POST to the development handler, authenticated by `x-forwarder-signature-256`; any 2xx accepts."""

    name = "http"

    def __init__(self, url: str, secret: str, client: httpx.AsyncClient, timeout: float) -> None:
        self._url = url
        self._secret = secret
        self._client = client
        self._timeout = timeout

    async def deliver(self, envelope: bytes) -> None:
        headers = {
            "content-type": "application/json",
            FORWARDER_SIGNATURE_HEADER: sign(self._secret, envelope),
        }
        try:
            response = await self._client.post(
                self._url, content=envelope, headers=headers, timeout=self._timeout
            )
        except httpx.TimeoutException as exc:
            raise HandoffTimedOut(type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise HandoffUnreachable(type(exc).__name__) from exc
        if response.status_code == 429:
            raise HandoffThrottled("429")
        if not response.is_success:
            raise HandoffRejected(f"status {response.status_code}")

    async def aclose(self) -> None:
        await self._client.aclose()
