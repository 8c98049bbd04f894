"""Parsing the fields beside `messages` that concern a conversation: the business's own messages
from the WhatsApp Business app (`smb_message_echoes`), the app's syncs (`history`,
`smb_app_state_sync`) and marketing preferences (`user_preferences`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.webhook import (
    AppSync,
    EchoKind,
    MessageType,
    PreferenceValue,
    parse_webhook,
)
from standins import meta
from tests.meta_samples import meta_sample

BSUID = "US.13491208655302741918"
PNID = "106540352242922"


def test_meta_s_echo_sample_is_the_business_writing_to_the_customer() -> None:
    batch = parse_webhook(meta_sample("smb_message_echoes_text", phone_number_id=PNID))

    [echo] = batch.echoes
    assert (echo.phone_number_id, echo.customer_phone, echo.customer_user_id) == (PNID, "16505551234", None)
    assert (echo.kind, echo.type) == (EchoKind.MESSAGE, MessageType.TEXT)
    assert echo.text == "Here's the info you requested! https://www.meta.com/quest/quest-3/"
    assert echo.timestamp == datetime.fromtimestamp(1739321024, tz=UTC)
    assert echo.id.startswith("wamid.")
    assert batch.messages == () and batch.statuses == () and batch.skipped == ()


def test_an_echo_to_a_customer_known_by_bsuid_only() -> None:
    echo_item = meta.text_echo("Bonjour", to=None, to_user_id=BSUID)
    [echo] = parse_webhook(meta.webhook_payload(meta.echoes_change(echo_item))).echoes
    assert (echo.customer_phone, echo.customer_user_id, echo.customer_id) == (None, BSUID, BSUID)


def test_edits_and_revokes_name_the_message_they_change() -> None:
    payload = meta.webhook_payload(
        meta.echoes_change(
            meta.edit_echo("wamid.original", "Corrected price: 12 €"),
            meta.revoke_echo("wamid.original"),
            meta.echo_message("image", {"id": "1234", "mime_type": "image/jpeg", "caption": "Le menu"}),
        )
    )
    edit, revoke, image = parse_webhook(payload).echoes
    assert (edit.kind, edit.original_id, edit.type, edit.text) == (
        EchoKind.EDIT,
        "wamid.original",
        MessageType.TEXT,
        "Corrected price: 12 €",
    )
    assert (revoke.kind, revoke.original_id, revoke.text) == (EchoKind.REVOKE, "wamid.original", None)
    assert (image.kind, image.type, image.text) == (EchoKind.MESSAGE, MessageType.IMAGE, "Le menu")


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"id": "wamid.1", "type": "text", "text": {"body": "x"}}, "message echo without id or customer"),
        ({"to": "33612345678", "type": "text"}, "message echo without id or customer"),
        (
            {"id": "wamid.1", "to": "336 12\x00", "type": "text"},
            "echo recipient is not a storable WhatsApp id",
        ),
        ({"id": "wamid.1", "to": "33612345678", "type": "revoke", "revoke": {}}, "revoke echo without"),
    ],
)
def test_a_bad_echo_is_skipped_with_a_reason_and_the_rest_kept(item: dict[str, Any], reason: str) -> None:
    good = meta.text_echo("ok")
    batch = parse_webhook(meta.webhook_payload(meta.echoes_change(item, good)))
    assert [echo.text for echo in batch.echoes] == ["ok"]
    [skipped] = batch.skipped
    assert skipped.field == "smb_message_echoes" and skipped.reason.startswith(reason)


def test_an_echo_change_without_a_business_number_is_skipped() -> None:
    change = meta.echoes_change(meta.text_echo("x")).as_dict()
    change["value"]["metadata"] = {}
    batch = parse_webhook(
        {"object": "whatsapp_business_account", "entry": [{"id": "w", "changes": [change]}]}
    )
    assert batch.echoes == ()
    assert [(s.field, s.reason) for s in batch.skipped] == [
        ("smb_message_echoes", "change without metadata.phone_number_id")
    ]


def test_meta_s_user_preferences_example() -> None:
    [preference] = parse_webhook(meta_sample("user_preferences_resume", phone_number_id=PNID)).preferences
    assert (preference.customer_phone, preference.customer_user_id) == ("16505551234", None)
    assert (preference.category, preference.value) == ("marketing_messages", PreferenceValue.RESUME)
    assert preference.detail == "User requested to resume marketing messages"
    assert preference.timestamp == datetime.fromtimestamp(1731705721, tz=UTC)


def test_preferences_of_a_bsuid_customer_and_values_meta_adds_later() -> None:
    payload = meta.webhook_payload(
        meta.user_preferences_change(None, "stop", user_id=BSUID),
        meta.user_preferences_change("33612345678", "snooze"),
    )
    stop, snooze = parse_webhook(payload).preferences
    assert (stop.customer_phone, stop.customer_user_id, stop.value) == (None, BSUID, PreferenceValue.STOP)
    assert snooze.value is PreferenceValue.UNKNOWN


def test_history_and_contact_syncs_are_counted_never_messages() -> None:
    history = parse_webhook(meta_sample("history_chunk", phone_number_id=PNID))
    contacts = parse_webhook(meta_sample("smb_app_state_sync_contact", phone_number_id=PNID))

    assert history.syncs == (
        AppSync(field="history", phone_number_id=PNID, items=2, phase=0, chunk_order=1, progress=100),
    )
    assert contacts.syncs == (AppSync(field="smb_app_state_sync", phone_number_id=PNID, items=1),)
    for batch in (history, contacts):
        assert batch.messages == () and batch.echoes == () and batch.skipped == ()


def test_a_declined_history_share_counts_its_errors() -> None:
    change = meta.history_change().as_dict()
    change["value"]["history"] = [{"errors": [{"code": 2593109, "title": "declined"}]}]
    batch = parse_webhook(
        {"object": "whatsapp_business_account", "entry": [{"id": "w", "changes": [change]}]}
    )
    [sync] = batch.syncs
    assert (sync.items, sync.errors, sync.phase) == (0, 1, None)


def test_the_button_a_customer_tapped_keeps_its_payload() -> None:
    payload = meta.webhook_payload(
        meta.messages_change(
            meta.button_message("Stop promotions", "STOP"),
            meta.button_reply_message("Arrêter", reply_id="opt_out"),
            meta.text_message("STOP"),
        )
    )
    button, reply, typed = parse_webhook(payload).messages
    assert (button.text, button.reply_payload) == ("Stop promotions", "STOP")
    assert (reply.text, reply.reply_payload) == ("Arrêter", "opt_out")
    assert (typed.text, typed.reply_payload) == ("STOP", None)
