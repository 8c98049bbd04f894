"""The seed's request body is accepted unchanged, and a wrong one is refused by field."""

from __future__ import annotations

import uuid

import pytest

from handler.conversation.seed_request import InvalidRequest, parse_seed_request


def test_seed_whatsapp_request() -> None:
    request = parse_seed_request(
        {
            "phoneNumber": "+242066582610",
            "phoneNumberId": "123456789",
            "text": "Hello",
            "source": "whatsapp",
            "timestamp": "2025-12-15T10:00:00Z",
        }
    )
    assert (request.source, request.phone_number, request.phone_number_id) == (
        "whatsapp",
        "+242066582610",
        "123456789",
    )
    assert request.timestamp is not None and request.timestamp.year == 2025


def test_same_request_twice_has_the_same_message_id() -> None:
    body = {"phoneNumber": "1", "phoneNumberId": "2", "text": "Hi", "timestamp": 1700000000}
    assert parse_seed_request(body).message_id == parse_seed_request(dict(body)).message_id
    assert parse_seed_request(body).message_id != parse_seed_request({**body, "text": "Ho"}).message_id


def test_web_request_is_keyed_by_session() -> None:
    tenant = str(uuid.uuid4())
    request = parse_seed_request({"webUserId": tenant, "text": "Hi", "source": "web", "sessionId": "abc"})
    assert request.source == "web" and request.conversation_key == "web:abc"


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ([], "JSON object"),
        ({"phoneNumber": "1"}, "`text`"),
        ({"phoneNumber": "1", "text": " "}, "`text`"),
        ({"phoneNumber": "1", "text": "x" * 5000}, "longer"),
        ({"phoneNumber": "1", "text": "Hi", "source": "sms"}, "`source`"),
        ({"text": "Hi", "source": "whatsapp"}, "`phoneNumber`"),
        ({"phoneNumber": "1", "phoneNumberId": "abc", "text": "Hi"}, "`phoneNumberId`"),
        ({"webUserId": "not-a-uuid", "text": "Hi"}, "UUID"),
        ({"text": "Hi", "source": "web"}, "`webUserId`"),
    ],
)
def test_bad_requests_name_the_field(body: object, complaint: str) -> None:
    with pytest.raises(InvalidRequest, match=complaint):
        parse_seed_request(body)
