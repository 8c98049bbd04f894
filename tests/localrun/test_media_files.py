"""The files `/voice` and `/image` send: what WhatsApp would send, else one line saying why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from localrun.media_files import MediaFileProblem, MediaKind, mime_type_for, read_media_file
from providers.graph_api import WHATSAPP_AUDIO_LIMIT_BYTES, WHATSAPP_IMAGE_LIMIT_BYTES
from tests.media_samples import jpeg_image, ogg_voice_note

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64
M4A = b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 64


@pytest.mark.parametrize(
    ("kind", "name", "data", "mime_type"),
    [
        (MediaKind.VOICE, "note.ogg", ogg_voice_note(), "audio/ogg; codecs=opus"),
        (MediaKind.VOICE, "NOTE.OPUS", ogg_voice_note(), "audio/ogg; codecs=opus"),
        (MediaKind.VOICE, "memo.m4a", M4A, "audio/mp4"),
        (MediaKind.VOICE, "memo.mp3", b"ID3\x04" + b"\x00" * 64, "audio/mpeg"),
        (MediaKind.IMAGE, "shoe.jpg", jpeg_image(), "image/jpeg"),
        (MediaKind.IMAGE, "shoe.png", PNG, "image/png"),
        (MediaKind.IMAGE, "shoe.webp", WEBP, "image/webp"),
    ],
)
def test_a_file_of_its_kind_is_read_with_the_type_whatsapp_gives_it(
    tmp_path: Path, kind: MediaKind, name: str, data: bytes, mime_type: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    file = read_media_file(kind, path)
    assert (file.mime_type, file.data) == (mime_type, data)
    assert mime_type_for(kind, name) == mime_type


def problem(kind: MediaKind, path: Path) -> str:
    with pytest.raises(MediaFileProblem) as raised:
        read_media_file(kind, path)
    return str(raised.value)


def test_a_missing_file_a_folder_and_an_empty_file_are_named(tmp_path: Path) -> None:
    assert (
        problem(MediaKind.VOICE, tmp_path / "gone.ogg")
        == f"no such file: {tmp_path / 'gone.ogg'}; nothing sent"
    )
    (tmp_path / "folder.jpg").mkdir()
    assert problem(MediaKind.IMAGE, tmp_path / "folder.jpg").endswith(
        "folder.jpg is not a file; nothing sent"
    )
    (tmp_path / "empty.ogg").touch()
    assert problem(MediaKind.VOICE, tmp_path / "empty.ogg").endswith("empty.ogg is empty: nothing sent")


def test_bytes_that_are_not_the_format_named_are_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.ogg").write_text("shopping list: bread, milk")
    assert problem(MediaKind.VOICE, tmp_path / "notes.ogg").endswith(
        "notes.ogg is not OGG/Opus audio (its first bytes are b'shopping list: b'); nothing sent"
    )
    (tmp_path / "photo.png").write_bytes(jpeg_image())  # a JPEG renamed
    assert "photo.png is not a PNG image" in problem(MediaKind.IMAGE, tmp_path / "photo.png")
    (tmp_path / "voice.jpg").write_bytes(ogg_voice_note())
    assert "voice.jpg is not a JPEG image" in problem(MediaKind.IMAGE, tmp_path / "voice.jpg")


def test_an_extension_of_the_other_kind_is_refused(tmp_path: Path) -> None:
    (tmp_path / "note.ogg").write_bytes(ogg_voice_note())
    assert (
        problem(MediaKind.IMAGE, tmp_path / "note.ogg")
        == "/image takes a .jpg, .jpeg, .png, .webp file, got note.ogg"
    )
    assert mime_type_for(MediaKind.IMAGE, "note.ogg") is None


@pytest.mark.parametrize(
    ("kind", "name", "limit", "shown"),
    [
        (
            MediaKind.VOICE,
            "long.ogg",
            WHATSAPP_AUDIO_LIMIT_BYTES,
            "16,777,217 bytes: WhatsApp sends audio up to 16 MB",
        ),
        (
            MediaKind.IMAGE,
            "large.jpg",
            WHATSAPP_IMAGE_LIMIT_BYTES,
            "5,242,881 bytes: WhatsApp sends images up to 5 MB",
        ),
    ],
)
def test_a_file_over_whatsapps_limit_is_refused_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: MediaKind, name: str, limit: int, shown: str
) -> None:
    path = tmp_path / name
    with path.open("wb") as sparse:  # the size without the bytes
        sparse.truncate(limit + 1)

    def never_read(self: Path) -> bytes:
        raise AssertionError("a file over the limit was read")

    monkeypatch.setattr(Path, "read_bytes", never_read)
    assert problem(kind, path) == f"{path} is {shown}; nothing sent"


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "large.jpg"
    path.write_bytes(jpeg_image(WHATSAPP_IMAGE_LIMIT_BYTES))
    assert len(read_media_file(MediaKind.IMAGE, path).data) == WHATSAPP_IMAGE_LIMIT_BYTES


def test_a_file_that_cannot_be_read_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.ogg"
    path.write_bytes(ogg_voice_note())

    def refused(self: Path) -> bytes:  # what chmod 000 gives a user that is not root
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refused)
    assert problem(MediaKind.VOICE, path) == f"cannot read {path}: Permission denied; nothing sent"
