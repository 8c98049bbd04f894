"""The development transport: the envelope POSTed to HANDLER_URL, signed with FORWARDER_HANDLER_SECRET."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.envelope import Envelope
from shared.signature import FORWARDER_SIGNATURE_HEADER, SignatureCheck, check_signature
from standins.meta import signed_request, text_webhook
from standins.server import BackgroundServer
from tests.forwarder.conftest import StartForwarder
from tests.forwarder.support import APP_SECRETS

HANDLER_SECRET = "forwarder-to-handler-secret-5a6b"


@dataclass
class Receiver:
    """A tiny handler: checks the forwarder's signature like the real one, answers `status`."""

    status: int = 200
    received: list[tuple[bytes, SignatureCheck]] = field(default_factory=list)

    async def envelope(self, request: Request) -> Response:
        body = await request.body()
        check = check_signature(body, request.headers.get(FORWARDER_SIGNATURE_HEADER), [HANDLER_SECRET])
        self.received.append((body, check))
        if check is not SignatureCheck.VALID:
            return Response(status_code=401)
        return Response(status_code=self.status)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    handler = Receiver()
    app = Starlette(routes=[Route("/internal/envelope", handler.envelope, methods=["POST"])])
    with BackgroundServer(app) as server:
        yield handler, f"{server.base_url}/internal/envelope"


def test_the_envelope_is_posted_with_the_forwarder_signature(
    client: httpx.Client, start_forwarder: StartForwarder, receiver: tuple[Receiver, str]
) -> None:
    handler, url = receiver
    server = start_forwarder(
        handler_function_name="", handler_url=url, forwarder_handler_secret=HANDLER_SECRET
    )
    body, headers = signed_request(text_webhook("Bonjour"), APP_SECRETS[0])

    response = client.post(f"{server.url}/webhook", content=body, headers=headers)

    assert response.status_code == 200
    [(envelope_bytes, check)] = handler.received
    assert check is SignatureCheck.VALID
    envelope = Envelope.from_dict(httpx.Response(200, content=envelope_bytes).json())
    assert envelope.body is not None and envelope.body.encode() == body
    assert envelope.signature == headers["x-hub-signature-256"]


@pytest.mark.parametrize(("status", "secret"), [(500, HANDLER_SECRET), (429, HANDLER_SECRET), (200, "wrong")])
def test_a_handler_that_does_not_accept_means_503(
    client: httpx.Client,
    start_forwarder: StartForwarder,
    receiver: tuple[Receiver, str],
    status: int,
    secret: str,
) -> None:
    handler, url = receiver
    handler.status = status
    server = start_forwarder(handler_function_name="", handler_url=url, forwarder_handler_secret=secret)
    body, headers = signed_request(text_webhook("Bonjour"), APP_SECRETS[0])

    assert client.post(f"{server.url}/webhook", content=body, headers=headers).status_code == 503
    assert len(handler.received) == 1


def test_a_big_payload_goes_whole_over_http(
    client: httpx.Client, start_forwarder: StartForwarder, receiver: tuple[Receiver, str]
) -> None:
    handler, url = receiver
    server = start_forwarder(
        handler_function_name="", handler_url=url, forwarder_handler_secret=HANDLER_SECRET
    )
    body, headers = signed_request(text_webhook("x" * 1_500_000), APP_SECRETS[0])

    assert client.post(f"{server.url}/webhook", content=body, headers=headers).status_code == 200
    [(envelope_bytes, _)] = handler.received
    assert Envelope.from_dict(httpx.Response(200, content=envelope_bytes).json()).body == body.decode()
