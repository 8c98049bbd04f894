"""Meta webhook builders: every shape parses through shared.webhook as the real payload would."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from shared.signature import META_SIGNATURE_HEADER, SignatureCheck, check_signature
from shared.webhook import DeliveryStatus, MessageType, parse_webhook
from standins import meta
from standins.meta import BusinessNumber

EXPECTED: dict[str, tuple[MessageType, str | None]] = {
    "text": (MessageType.TEXT, "Bonjour"),
    "image": (MessageType.IMAGE, None),
    "audio": (MessageType.AUDIO, None),
    "video": (MessageType.VIDEO, None),
    "document": (MessageType.DOCUMENT, None),
    "sticker": (MessageType.STICKER, None),
    "location": (MessageType.LOCATION, None),
    "contacts": (MessageType.CONTACTS, None),
    "button_reply": (MessageType.INTERACTIVE, "Oui"),
    "list_reply": (MessageType.INTERACTIVE, "Livraison"),
    "button": (MessageType.BUTTON, "Se désabonner"),
    "reaction": (MessageType.REACTION, None),
    "order": (MessageType.ORDER, None),
    "system": (MessageType.SYSTEM, None),
    "unsupported": (MessageType.UNSUPPORTED, None),
}


def test_every_sample_kind_has_an_expectation() -> None:
    assert set(meta.SAMPLE_MESSAGES) == set(EXPECTED)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_message_kind_parses_to_its_type_and_text(kind: str) -> None:
    item = meta.SAMPLE_MESSAGES[kind](sender="33700000001", timestamp=1_700_000_000)
    payload = meta.webhook_payload(meta.messages_change(item))

    batch = parse_webhook(json.loads(json.dumps(payload)))

    (parsed,) = batch.messages
    assert (parsed.type, parsed.text) == EXPECTED[kind]
    assert parsed.id == item["id"] and parsed.id.startswith("wamid.")
    assert parsed.customer_phone == "33700000001"
    assert parsed.phone_number_id == meta.DEFAULT_BUSINESS.phone_number_id
    assert parsed.timestamp is not None and int(parsed.timestamp.timestamp()) == 1_700_000_000
    assert batch.skipped == ()


def test_text_payload_has_metas_exact_shape() -> None:
    business = BusinessNumber(phone_number_id="123", display_phone_number="33100000000", waba_id="999")
    payload = meta.text_webhook(
        "Salut", sender="33611111111", business=business, wamid="wamid.X", timestamp=5
    )
    assert payload == {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "999",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "33100000000", "phone_number_id": "123"},
                            "contacts": [{"profile": {"name": "Client 1111"}, "wa_id": "33611111111"}],
                            "messages": [
                                {
                                    "from": "33611111111",
                                    "id": "wamid.X",
                                    "timestamp": "5",
                                    "type": "text",
                                    "text": {"body": "Salut"},
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def test_wamids_are_unique() -> None:
    assert len({meta.new_wamid() for _ in range(1000)}) == 1000


@pytest.mark.parametrize("state", ["sent", "delivered", "read"])
def test_statuses_parse(state: str) -> None:
    payload = meta.webhook_payload(
        meta.statuses_change(meta.status("wamid.A", state, recipient="33622222222"))
    )
    (update,) = parse_webhook(payload).statuses
    assert (update.message_id, update.status, update.recipient, update.errors) == (
        "wamid.A",
        DeliveryStatus(state),
        "33622222222",
        (),
    )


def test_failed_status_carries_its_errors() -> None:
    failed = meta.failed_status("wamid.F", code=131026, title="Message undeliverable")
    (update,) = parse_webhook(meta.webhook_payload(meta.statuses_change(failed))).statuses
    assert update.status is DeliveryStatus.FAILED
    assert [(e.code, e.title) for e in update.errors] == [(131026, "Message undeliverable")]


def test_batched_payload_for_two_tenants_keeps_every_item_in_order() -> None:
    shop = BusinessNumber(phone_number_id="111", waba_id="w1")
    clinic = BusinessNumber(phone_number_id="222", waba_id="w2")
    payload = meta.webhook_payload(
        meta.messages_change(
            meta.text_message("a", sender="1"), meta.text_message("b", sender="2"), business=shop
        ),
        meta.messages_change(meta.text_message("c", sender="1"), business=clinic),
        meta.statuses_change(meta.status("wamid.S", "read"), business=shop),
    )
    assert [entry["id"] for entry in payload["entry"]] == ["w1", "w2"]
    assert len(payload["entry"][0]["changes"]) == 2
    first_contacts = payload["entry"][0]["changes"][0]["value"]["contacts"]
    assert [c["wa_id"] for c in first_contacts] == ["1", "2"]

    batch = parse_webhook(payload)
    assert [(m.phone_number_id, m.customer_phone, m.text) for m in batch.messages] == [
        ("111", "1", "a"),
        ("111", "2", "b"),
        ("222", "1", "c"),
    ]
    assert [(s.phone_number_id, s.message_id) for s in batch.statuses] == [("111", "wamid.S")]


def test_profile_names_can_be_given() -> None:
    change = meta.messages_change(meta.text_message("x", sender="5"), names={"5": "Awa"})
    assert change.value["contacts"] == [{"profile": {"name": "Awa"}, "wa_id": "5"}]


def test_signed_request_verifies_with_the_same_secret_only() -> None:
    body, headers = meta.signed_request(meta.text_webhook("Déjà vu"), "app-secret")
    assert headers["content-type"] == "application/json"
    assert check_signature(body, headers[META_SIGNATURE_HEADER], ["app-secret"]) is SignatureCheck.VALID
    assert check_signature(body, headers[META_SIGNATURE_HEADER], ["other"]) is SignatureCheck.MISMATCH
    assert "Déjà vu" in body.decode()


def test_verification_params() -> None:
    assert meta.verification_params("vt", "42") == {
        "hub.mode": "subscribe",
        "hub.verify_token": "vt",
        "hub.challenge": "42",
    }


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[httpx.AsyncClient, list[tuple[bytes, str | None]]]]:
    received: list[tuple[bytes, str | None]] = []

    async def webhook(request: Request) -> PlainTextResponse:
        received.append((await request.body(), request.headers.get(META_SIGNATURE_HEADER)))
        return PlainTextResponse("EVENT_RECEIVED")

    app = Starlette(routes=[Route("/webhook", webhook, methods=["POST"])])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://forwarder"
    ) as client:
        yield client, received


async def test_post_webhook_sends_signed_bytes(
    receiver: tuple[httpx.AsyncClient, list[tuple[bytes, str | None]]],
) -> None:
    client, received = receiver
    payload: dict[str, Any] = meta.text_webhook("Bonsoir")
    response = await meta.post_webhook(client, "/webhook", payload, "s3cret")
    assert response.text == "EVENT_RECEIVED"
    ((body, header),) = received
    assert json.loads(body) == payload
    assert check_signature(body, header, ["s3cret"]) is SignatureCheck.VALID
