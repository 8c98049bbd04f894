"""Meta's WhatsApp webhooks as Meta sends them: payload builders, the signature, and a small sender.

Shapes follow Meta's webhook reference: `{"object": "whatsapp_business_account", "entry": [{"id":
WABA_ID, "changes": [{"field": "messages", "value": {"messaging_product", "metadata", "contacts",
"messages" | "statuses"}}]}]}`. Timestamps are strings of epoch seconds, as Meta sends them.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.signature import META_SIGNATURE_HEADER, sign

JSON = dict[str, Any]
DEFAULT_CUSTOMER = "33612345678"


@dataclass(frozen=True, slots=True, kw_only=True)
class BusinessNumber:
    """A tenant's WhatsApp business number, as it appears in webhook metadata."""

    phone_number_id: str = "106540352242922"
    display_phone_number: str = "15550783881"
    waba_id: str = "102290129340398"


DEFAULT_BUSINESS = BusinessNumber()


def new_wamid() -> str:
    """A WhatsApp message id in Meta's format (`wamid.` + base64), unique per call."""
    return "wamid." + base64.b64encode(b"\x15\x02\x00\x11\x18\x12" + secrets.token_bytes(18)).decode()


def _stamp(timestamp: int | None) -> str:
    return str(int(time.time()) if timestamp is None else timestamp)


def _media_id() -> str:
    return str(10**15 + secrets.randbelow(9 * 10**15))


def message(
    message_type: str,
    content: object = None,
    *,
    sender: str | None = DEFAULT_CUSTOMER,
    user_id: str | None = None,
    wamid: str | None = None,
    timestamp: int | None = None,
    context: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSON:
    """One item of `value.messages`: `content` goes under the key named by the type.

    `user_id` is the sender's business-scoped user id (`from_user_id`, sent since April 2026);
    `sender=None` leaves `from` out, as Meta does when it may not share the phone number."""
    item: JSON = {"id": wamid or new_wamid(), "timestamp": _stamp(timestamp), "type": message_type}
    if sender is not None:
        item["from"] = sender
    if user_id is not None:
        item["from_user_id"] = user_id
    if context is not None:
        item["context"] = dict(context)
    if content is not None:
        item[message_type] = content
    return item | extra


def text_message(body: str, **common: Any) -> JSON:
    return message("text", {"body": body}, **common)


def _media(mime_type: str, **fields: Any) -> JSON:
    return {key: value for key, value in fields.items() if value is not None} | {
        "mime_type": mime_type,
        "sha256": base64.b64encode(secrets.token_bytes(32)).decode(),
        "id": _media_id(),
    }


def image_message(caption: str | None = None, **common: Any) -> JSON:
    return message("image", _media("image/jpeg", caption=caption), **common)


def audio_message(*, voice: bool = True, **common: Any) -> JSON:
    return message("audio", _media("audio/ogg; codecs=opus", voice=voice), **common)


def video_message(caption: str | None = None, **common: Any) -> JSON:
    return message("video", _media("video/mp4", caption=caption), **common)


def document_message(filename: str = "facture.pdf", caption: str | None = None, **common: Any) -> JSON:
    content = _media("application/pdf", caption=caption, filename=filename)
    return message("document", content, **common)


def sticker_message(*, animated: bool = False, **common: Any) -> JSON:
    return message("sticker", _media("image/webp", animated=animated), **common)


def media_message(
    kind: str,
    *,
    media_id: str,
    mime_type: str,
    sha256: str,
    caption: str | None = None,
    voice: bool | None = None,
    **common: Any,
) -> JSON:
    """A media message naming a file Graph holds (`GraphStandIn.add_media`): its id and checksum."""
    fields = {"caption": caption, "voice": voice}
    content = {key: value for key, value in fields.items() if value is not None}
    return message(kind, content | {"mime_type": mime_type, "sha256": sha256, "id": media_id}, **common)


def location_message(
    latitude: float = 48.8584, longitude: float = 2.2945, name: str = "Tour Eiffel", **common: Any
) -> JSON:
    content = {"latitude": latitude, "longitude": longitude, "name": name, "address": "Champ de Mars, Paris"}
    return message("location", content, **common)


def contacts_message(
    formatted_name: str = "Marie Curie", phone: str = "+33 6 00 00 00 00", **common: Any
) -> JSON:
    first, _, last = formatted_name.partition(" ")
    card = {
        "name": {"formatted_name": formatted_name, "first_name": first, "last_name": last},
        "phones": [{"phone": phone, "wa_id": "".join(c for c in phone if c.isdigit()), "type": "CELL"}],
    }
    return message("contacts", [card], **common)


def _reply_context(business: BusinessNumber, replied_to: str | None) -> JSON:
    return {"from": business.display_phone_number, "id": replied_to or new_wamid()}


def button_reply_message(
    title: str,
    reply_id: str = "btn_1",
    *,
    business: BusinessNumber = DEFAULT_BUSINESS,
    replied_to: str | None = None,
    **common: Any,
) -> JSON:
    """The customer tapped a reply button of an interactive message."""
    content = {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}
    return message("interactive", content, context=_reply_context(business, replied_to), **common)


def list_reply_message(
    title: str,
    row_id: str = "row_1",
    description: str = "",
    *,
    business: BusinessNumber = DEFAULT_BUSINESS,
    replied_to: str | None = None,
    **common: Any,
) -> JSON:
    """The customer picked a row of an interactive list."""
    content = {"type": "list_reply", "list_reply": {"id": row_id, "title": title, "description": description}}
    return message("interactive", content, context=_reply_context(business, replied_to), **common)


def button_message(
    text: str,
    payload: str | None = None,
    *,
    business: BusinessNumber = DEFAULT_BUSINESS,
    replied_to: str | None = None,
    **common: Any,
) -> JSON:
    """The customer tapped a quick-reply button of a template message."""
    content = {"payload": payload or text, "text": text}
    return message("button", content, context=_reply_context(business, replied_to), **common)


def call_permission_reply_message(response: str = "accept", **common: Any) -> JSON:
    """The customer answered a call permission request (Cloud API calling)."""
    reply: JSON = {"response": response, "response_source": "user_action"}
    if response == "accept":
        reply["expiration_timestamp"] = int(time.time()) + 7 * 86400
    content = {"type": "call_permission_reply", "call_permission_reply": reply}
    return message("interactive", content, **common)


def flow_reply_message(**common: Any) -> JSON:
    """A WhatsApp Flow's form sent back (`nfm_reply`)."""
    content = {
        "type": "nfm_reply",
        "nfm_reply": {"name": "flow", "body": "Sent", "response_json": '{"flow_token": "unused"}'},
    }
    return message("interactive", content, **common)


def request_welcome_message(**common: Any) -> JSON:
    """Sent when a customer opens the chat for the first time (welcome messages enabled)."""
    return message("request_welcome", **common)


def calls_change(caller: str = DEFAULT_CUSTOMER, *, business: BusinessNumber = DEFAULT_BUSINESS) -> Change:
    """The `calls` field: a customer calling the business number (no message to answer)."""
    call = {
        "id": "wacid." + secrets.token_hex(16),
        "from": caller,
        "to": business.display_phone_number,
        "event": "connect",
        "timestamp": _stamp(None),
        "direction": "USER_INITIATED",
        "session": {"sdp_type": "offer", "sdp": "v=0"},
    }
    return field_change("calls", {"contacts": [{"wa_id": caller}], "calls": [call]}, business=business)


def user_preferences_change(
    customer: str | None = DEFAULT_CUSTOMER,
    value: str = "stop",
    *,
    user_id: str | None = None,
    timestamp: int | None = None,
    business: BusinessNumber = DEFAULT_BUSINESS,
) -> Change:
    """The `user_preferences` field: the customer stopped (or resumed) marketing messages. As Meta's
    example: `timestamp` an integer here; with BSUIDs `wa_id` may be left out (`customer=None`) and
    `user_id` is added to the contact and the preference."""
    ids: JSON = {}
    if customer is not None:
        ids["wa_id"] = customer
    if user_id is not None:
        ids["user_id"] = user_id
    preference = ids | {
        "detail": f"User requested to {value} marketing messages",
        "category": "marketing_messages",
        "value": value,
        "timestamp": int(time.time()) if timestamp is None else timestamp,
    }
    return field_change(
        "user_preferences", {"contacts": [dict(ids)], "user_preferences": [preference]}, business=business
    )


def echo_message(
    message_type: str,
    content: object = None,
    *,
    to: str | None = DEFAULT_CUSTOMER,
    to_user_id: str | None = None,
    business: BusinessNumber = DEFAULT_BUSINESS,
    wamid: str | None = None,
    timestamp: int | None = None,
) -> JSON:
    """One item of `value.message_echoes`: a message the business sent from the WhatsApp Business
    app (coexistence). `from` is the business, `to` the customer (Meta may leave it out: `to=None`),
    `to_user_id` their BSUID; `content` goes under the key named by the type."""
    item: JSON = {"from": business.display_phone_number}
    if to is not None:
        item["to"] = to
    if to_user_id is not None:
        item["to_user_id"] = to_user_id
    item |= {"id": wamid or new_wamid(), "timestamp": _stamp(timestamp), "type": message_type}
    if content is not None:
        item[message_type] = content
    return item


def text_echo(body: str, **common: Any) -> JSON:
    return echo_message("text", {"body": body}, **common)


def edit_echo(original_id: str, body: str, **common: Any) -> JSON:
    """The business edited a message it sent from the app (pywa's fixture shape)."""
    content = {"original_message_id": original_id, "message": {"type": "text", "text": {"body": body}}}
    return echo_message("edit", content, **common)


def revoke_echo(original_id: str, **common: Any) -> JSON:
    """The business deleted a message it sent from the app."""
    return echo_message("revoke", {"original_message_id": original_id}, **common)


def echoes_change(*echoes: JSON, business: BusinessNumber = DEFAULT_BUSINESS) -> Change:
    """The `smb_message_echoes` field, as Meta's reference shows it (no `contacts` array)."""
    return field_change("smb_message_echoes", {"message_echoes": list(echoes)}, business=business)


def history_change(
    *messages: JSON,
    thread: str = DEFAULT_CUSTOMER,
    phase: int = 0,
    chunk_order: int = 1,
    progress: int = 100,
    business: BusinessNumber = DEFAULT_BUSINESS,
) -> Change:
    """The `history` field: one chunk of past conversations synced from the WhatsApp Business app
    at onboarding (each message with `history_context.status`)."""
    chunk = {
        "metadata": {"phase": phase, "chunk_order": chunk_order, "progress": progress},
        "threads": [{"id": thread, "messages": list(messages)}],
    }
    return field_change("history", {"history": [chunk]}, business=business)


def history_message(body: str, *, sender: str = DEFAULT_CUSTOMER, status: str = "read") -> JSON:
    """A past text message as the `history` field lists it."""
    return text_message(body, sender=sender) | {"history_context": {"status": status}}


def state_sync_change(
    phone_number: str = DEFAULT_CUSTOMER,
    action: str = "add",
    full_name: str | None = "Marie Curie",
    *,
    business: BusinessNumber = DEFAULT_BUSINESS,
) -> Change:
    """The `smb_app_state_sync` field: a contact of the WhatsApp Business app added, edited or
    removed (no names on a removal)."""
    contact: JSON = {"phone_number": phone_number}
    if full_name is not None and action != "remove":
        contact |= {"full_name": full_name, "first_name": full_name.split(" ")[0]}
    item = {"type": "contact", "contact": contact, "action": action, "metadata": {"timestamp": _stamp(None)}}
    return field_change("smb_app_state_sync", {"state_sync": [item]}, business=business)


def reaction_message(emoji: str = "\N{THUMBS UP SIGN}", reacted_to: str | None = None, **common: Any) -> JSON:
    """An emoji reaction (an empty `emoji` removes one)."""
    return message("reaction", {"message_id": reacted_to or new_wamid(), "emoji": emoji}, **common)


def order_message(product_retailer_id: str = "sku-1", quantity: int = 1, **common: Any) -> JSON:
    item = {
        "product_retailer_id": product_retailer_id,
        "quantity": quantity,
        "item_price": 10,
        "currency": "EUR",
    }
    return message("order", {"catalog_id": "1234567890", "text": "", "product_items": [item]}, **common)


def system_message(new_wa_id: str = "33698765432", **common: Any) -> JSON:
    """Meta's notice that the customer changed number."""
    sender = common.get("sender", DEFAULT_CUSTOMER)
    content = {
        "body": f"User {sender} changed from {sender} to {new_wa_id}",
        "new_wa_id": new_wa_id,
        "type": "user_changed_number",
    }
    return message("system", content, **common)


def unsupported_message(**common: Any) -> JSON:
    """A message type the Cloud API does not support (e.g. a poll): Meta sends only an error."""
    error = {
        "code": 131051,
        "title": "Message type unknown",
        "message": "Message type unknown",
        "error_data": {"details": "Message type is currently not supported."},
    }
    return message("unsupported", errors=[error], **common)


# One sample builder per message kind, for tests parametrised over every kind Meta sends.
SAMPLE_MESSAGES: dict[str, Callable[..., JSON]] = {
    "text": lambda **c: text_message("Bonjour", **c),
    "image": lambda **c: image_message("Une photo", **c),
    "audio": audio_message,
    "video": video_message,
    "document": document_message,
    "sticker": sticker_message,
    "location": location_message,
    "contacts": contacts_message,
    "button_reply": lambda **c: button_reply_message("Oui", **c),
    "list_reply": lambda **c: list_reply_message("Livraison", **c),
    "button": lambda **c: button_message("Se désabonner", **c),
    "reaction": reaction_message,
    "order": order_message,
    "system": system_message,
    "unsupported": unsupported_message,
}


def status(
    wamid: str,
    state: str,
    *,
    recipient: str | None = DEFAULT_CUSTOMER,
    recipient_user_id: str | None = None,
    timestamp: int | None = None,
    errors: Iterable[Mapping[str, Any]] = (),
) -> JSON:
    """One item of `value.statuses`: sent, delivered, read, or failed (give `errors`).

    `recipient=None` leaves `recipient_id` out (a reply sent to a BSUID whose phone number Meta
    does not share); `recipient_user_id` is the BSUID Meta adds since 2026."""
    item: JSON = {"id": wamid, "status": state, "timestamp": _stamp(timestamp)}
    if recipient is not None:
        item["recipient_id"] = recipient
    if recipient_user_id is not None:
        item["recipient_user_id"] = recipient_user_id
    if state in ("sent", "delivered"):
        item["conversation"] = {"id": secrets.token_hex(16), "origin": {"type": "service"}}
        item["pricing"] = {
            "billable": False,
            "pricing_model": "PMP",
            "category": "service",
            "type": "free_customer_service",
        }
    if errors:
        item["errors"] = [dict(error) for error in errors]
    return item


def status_error(code: int, title: str, details: str = "") -> JSON:
    """An item of a failed status's `errors`, as Meta writes it."""
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or title},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }


def failed_status(
    wamid: str, code: int = 131047, title: str = "Re-engagement message", **common: Any
) -> JSON:
    return status(wamid, "failed", errors=[status_error(code, title)], **common)


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One `changes[]` item, and the business account whose entry it belongs in."""

    business: BusinessNumber
    value: JSON = field(default_factory=dict)
    field_name: str = "messages"

    def as_dict(self) -> JSON:
        return {"value": self.value, "field": self.field_name}


def messages_change(
    *messages: JSON, business: BusinessNumber = DEFAULT_BUSINESS, names: Mapping[str, str] | None = None
) -> Change:
    """A change carrying customer messages; `contacts` lists each sender once, with a profile name,
    its `wa_id` when the message has `from` and its `user_id` (BSUID) when it has `from_user_id`."""
    contacts: dict[tuple[str, str], JSON] = {}
    for item in messages:
        phone, user_id = str(item.get("from", "")), str(item.get("from_user_id", ""))
        if item.get("type") == "system" or (phone, user_id) in contacts:
            continue  # Meta: system messages have no contacts array entry
        key = phone or user_id
        contact: JSON = {"profile": {"name": (names or {}).get(key, f"Client {key[-4:]}")}}
        if phone:
            contact["wa_id"] = phone
        if user_id:
            contact["user_id"] = user_id
        contacts[(phone, user_id)] = contact
    return Change(
        business=business,
        value=_value(business) | {"contacts": list(contacts.values()), "messages": list(messages)},
    )


def field_change(field_name: str, value: JSON, *, business: BusinessNumber = DEFAULT_BUSINESS) -> Change:
    """A change of another webhook field (`calls`, `user_preferences`, `smb_message_echoes`, …)."""
    return Change(business=business, value=_value(business) | value, field_name=field_name)


def statuses_change(*statuses: JSON, business: BusinessNumber = DEFAULT_BUSINESS) -> Change:
    return Change(business=business, value=_value(business) | {"statuses": list(statuses)})


def _value(business: BusinessNumber) -> JSON:
    metadata = {
        "display_phone_number": business.display_phone_number,
        "phone_number_id": business.phone_number_id,
    }
    return {"messaging_product": "whatsapp", "metadata": metadata}


def webhook_payload(*changes: Change) -> JSON:
    """The whole payload: one entry per business account, its changes in the order given."""
    entries: dict[str, list[JSON]] = {}
    for change in changes:
        entries.setdefault(change.business.waba_id, []).append(change.as_dict())
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": items} for waba_id, items in entries.items()],
    }


def text_webhook(
    body: str, *, sender: str = DEFAULT_CUSTOMER, business: BusinessNumber = DEFAULT_BUSINESS, **common: Any
) -> JSON:
    """The most common payload: one customer text to one business number."""
    return webhook_payload(messages_change(text_message(body, sender=sender, **common), business=business))


def signed_request(payload: object, app_secret: str) -> tuple[bytes, dict[str, str]]:
    """The body bytes and headers Meta would POST: JSON and `X-Hub-Signature-256`."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return body, {"content-type": "application/json", META_SIGNATURE_HEADER: sign(app_secret, body)}


def verification_params(verify_token: str, challenge: str = "1158201444") -> dict[str, str]:
    """The query string of Meta's subscription check (`GET` on the webhook URL)."""
    return {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge}


async def post_webhook(
    client: httpx.AsyncClient, url: str, payload: object, app_secret: str
) -> httpx.Response:
    """POST `payload` to `url` signed as Meta does; the caller owns `client` (one per run)."""
    body, headers = signed_request(payload, app_secret)
    return await client.post(url, content=body, headers=headers)
