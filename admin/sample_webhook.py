"""The sample webhook `wa-admin webhook-test` sends: one text message, in Meta's shape, signed as Meta signs.

Pure: the payload is built from a `SampleMessage`, the body and its `X-Hub-Signature-256` from the
payload and an app secret. The shape is Meta's `messages` change (Graph API v25.0):
`{"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field":
"messages", "value": {"messaging_product", "metadata", "contacts", "messages"}}]}]}`.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any

from admin.secrets_input import Secret
from shared.signature import META_SIGNATURE_HEADER, sign
from shared.webhook import WHATSAPP_OBJECT

# +1 555 is the fictional range: no WhatsApp user has this number, so nobody real is ever written to.
DEFAULT_TEST_CUSTOMER = "15550000000"
DEFAULT_TEST_TEXT = "Hello! This is a test message sent by wa-admin webhook-test."
TEST_CUSTOMER_NAME = "wa-admin webhook-test"
# Neither is stored in our database and the handler reads neither; Meta would send the business
# account's id and the number as customers see it. Zeros say plainly that they are placeholders.
PLACEHOLDER_WABA_ID = "0"
PLACEHOLDER_DISPLAY_NUMBER = "0"


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleMessage:
    """What the sample says: who writes, to which business number, what, and when."""

    phone_number_id: str
    customer: str  # digits, as Meta sends `from` (no plus sign)
    text: str
    wamid: str
    timestamp: int  # epoch seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedWebhook:
    """The exact bytes to POST and the headers that go with them."""

    body: bytes
    signature: str  # `sha256=<hex>`: an HMAC of the body, which tells nothing of the secret
    wamid: str

    @property
    def headers(self) -> dict[str, str]:
        return {
            "content-type": "application/json",
            META_SIGNATURE_HEADER: self.signature,
            "user-agent": "wa-admin webhook-test",
        }


def new_wamid() -> str:
    """A fresh id in Meta's format (`wamid.` + base64), so the handler treats it as a new message."""
    return "wamid." + base64.b64encode(secrets.token_bytes(24)).decode()


def build_payload(sample: SampleMessage) -> dict[str, Any]:
    message = {
        "from": sample.customer,
        "id": sample.wamid,
        "timestamp": str(sample.timestamp),  # a string, as Meta sends it
        "type": "text",
        "text": {"body": sample.text},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": PLACEHOLDER_DISPLAY_NUMBER,
            "phone_number_id": sample.phone_number_id,
        },
        "contacts": [{"profile": {"name": TEST_CUSTOMER_NAME}, "wa_id": sample.customer}],
        "messages": [message],
    }
    return {
        "object": WHATSAPP_OBJECT,
        "entry": [{"id": PLACEHOLDER_WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }


def sign_payload(payload: dict[str, Any], app_secret: Secret, *, wamid: str) -> SignedWebhook:
    """The payload as compact UTF-8 JSON, signed with the app secret (`sha256=<hex HMAC>`)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return SignedWebhook(body=body, signature=sign(app_secret.value, body), wamid=wamid)
