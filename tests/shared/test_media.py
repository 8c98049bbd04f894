"""Typed media and places in Meta's webhook: what a voice note, an image, a sticker, a document, a
video and a location carry, from Meta's own examples; anything malformed is no media, never an error."""

from __future__ import annotations

from typing import Any

import pytest

from shared.media import Location, Media
from shared.webhook import MessageType, parse_webhook
from standins import meta

JSON = dict[str, Any]


def parsed(item: JSON) -> Any:
    (message,) = parse_webhook(meta.webhook_payload(meta.messages_change(item))).messages
    return message


def test_a_voice_note_as_meta_sends_it() -> None:
    # Meta's audio webhook reference (2026).
    item = meta.message(
        "audio",
        {
            "mime_type": "audio/ogg; codecs=opus",
            "sha256": "wvqXMe6n7n1W0zphvLPoLj+s/NtKqmr3zZ7YzTP7xFI=",
            "id": "1908647269898587",
            "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=133",
            "voice": True,
        },
    )
    message = parsed(item)
    assert message.type is MessageType.AUDIO and message.text is None
    assert message.media == Media(
        kind="audio",
        id="1908647269898587",
        mime_type="audio/ogg; codecs=opus",
        sha256="wvqXMe6n7n1W0zphvLPoLj+s/NtKqmr3zZ7YzTP7xFI=",
        voice=True,
    )
    assert message.media.base_mime_type == "audio/ogg"


def test_an_image_with_its_caption_and_a_document_with_its_name() -> None:
    image = parsed(meta.image_message("Taj Mahal"))
    assert image.media is not None and image.media.kind == "image"
    assert (image.media.caption, image.media.mime_type, image.text) == ("Taj Mahal", "image/jpeg", None)
    document = parsed(meta.document_message("facture.pdf", caption="  "))
    assert document.media is not None
    assert (document.media.filename, document.media.caption) == ("facture.pdf", None)


def test_stickers_say_whether_they_move() -> None:
    still, moving = parsed(meta.sticker_message()), parsed(meta.sticker_message(animated=True))
    assert still.media is not None and moving.media is not None
    assert (still.media.animated, moving.media.animated) == (False, True)


def test_a_location_is_a_place_with_coordinates() -> None:
    message = parsed(meta.location_message())
    assert message.location == Location(
        latitude=48.8584, longitude=2.2945, name="Tour Eiffel", address="Champ de Mars, Paris"
    )
    assert message.media is None and message.text is None


@pytest.mark.parametrize(
    "content",
    [
        None,
        "not an object",
        {},
        {"id": ""},
        {"id": "has space"},
        {"id": "x" * 200},
        {"id": 1908647269898587},
    ],
)
def test_media_without_a_usable_id_is_no_media(content: object) -> None:
    item: JSON = {"id": "wamid.1", "from": "1", "type": "image"}
    if content is not None:
        item["image"] = content
    assert parsed(item).media is None


def test_odd_fields_are_dropped_not_trusted() -> None:
    content = {
        "id": "42",
        "mime_type": "IMAGE/JPEG\u00e9",
        "sha256": "not a hash !",
        "caption": "a\x00b",
        "voice": "yes",
    }
    message = parsed({"id": "wamid.1", "from": "1", "type": "audio", "audio": content})
    assert message.media == Media(kind="audio", id="42", mime_type="", sha256=None, caption="ab")


@pytest.mark.parametrize(
    "location",
    [
        {"latitude": 91, "longitude": 0},
        {"latitude": 0, "longitude": "2.29"},
        {"latitude": True, "longitude": 0},
        {"latitude": float("nan"), "longitude": 0},
        {"latitude": 10**400, "longitude": 0},
        {"name": "Somewhere"},
    ],
)
def test_a_location_without_real_coordinates_is_none(location: JSON) -> None:
    message = parsed({"id": "wamid.1", "from": "1", "type": "location", "location": location})
    assert message.type is MessageType.LOCATION and message.location is None


def test_text_messages_have_neither() -> None:
    message = parsed(meta.text_message("Bonjour"))
    assert (message.media, message.location) == (None, None)
