"""The sample events stay signed, catalogued and well formed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from infra.sample_events import (
    CATALOG,
    EVENTS_DIR,
    TEST_APP_SECRET,
    current_signature,
    load_event,
    main,
    render_listing,
    sign_events,
    signed_body,
    stale_signatures,
)
from shared.envelope import Envelope
from shared.signature import SignatureCheck, check_signature
from shared.webhook import is_whatsapp_payload

EVENT_FILES = sorted(path.name for path in EVENTS_DIR.glob("*.json"))
SIGNED = [name for name in EVENT_FILES if signed_body(load_event(name)) is not None]


def test_every_event_file_is_catalogued_and_every_catalogued_event_exists() -> None:
    assert sorted(event.file for event in CATALOG) == EVENT_FILES


def test_the_events_the_issue_asks_for_are_signed() -> None:
    assert set(SIGNED) == {
        "envelope-text.json",
        "envelope-batch-two-tenants.json",
        "envelope-status.json",
        "envelope-image.json",
        "function-url-webhook.json",
    }


def test_every_signature_matches_its_body_under_the_test_secret() -> None:
    assert stale_signatures() == []


@pytest.mark.parametrize("name", SIGNED)
def test_signatures_verify_with_the_same_check_the_forwarder_makes(name: str) -> None:
    event = load_event(name)
    body = signed_body(event)
    assert body is not None and is_whatsapp_payload(json.loads(body))
    signature = current_signature(event)
    assert check_signature(body, signature, [TEST_APP_SECRET]) is SignatureCheck.VALID
    assert check_signature(body, signature, ["another-app-secret"]) is SignatureCheck.MISMATCH


@pytest.mark.parametrize("name", [n for n in EVENT_FILES if n.startswith("envelope-")])
def test_envelope_events_are_valid_envelopes(name: str) -> None:
    event = load_event(name)
    envelope = Envelope.from_dict(event)
    assert envelope.body is not None and (envelope.part, envelope.parts) == (0, 1)


def test_an_edited_body_is_caught_and_sign_repairs_it(tmp_path: Path) -> None:
    shutil.copytree(EVENTS_DIR, tmp_path, dirs_exist_ok=True)
    event = load_event("envelope-text.json", tmp_path)
    event["body"] = event["body"].replace("Bonjour", "Bonsoir")
    (tmp_path / "envelope-text.json").write_text(json.dumps(event))

    assert stale_signatures(tmp_path) == ["envelope-text.json"]
    assert "envelope-text.json" in sign_events(tmp_path, tmp_path, TEST_APP_SECRET)
    assert stale_signatures(tmp_path) == []
    assert sign_events(tmp_path, tmp_path, TEST_APP_SECRET) == []


def test_copies_signed_with_another_secret_leave_the_committed_events_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_APP_SECRET", "my-real-secret,an-older-one")
    before = {name: (EVENTS_DIR / name).read_text() for name in EVENT_FILES}

    assert main(["sign", "--secret-env", "MY_APP_SECRET", "--out", str(tmp_path)]) == 0

    assert {name: (EVENTS_DIR / name).read_text() for name in EVENT_FILES} == before
    copy = load_event("function-url-webhook.json", tmp_path)
    body = signed_body(copy)
    assert body is not None
    assert check_signature(body, current_signature(copy), ["my-real-secret"]) is SignatureCheck.VALID
    assert main(["sign", "--secret-env", "MY_APP_SECRET"]) == 1  # never in place with a real secret


def test_the_listing_names_every_event_and_how_to_invoke_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    listing = capsys.readouterr().out
    assert listing == render_listing(CATALOG)
    for event in CATALOG:
        assert f"sam local invoke {event.functions[0]} -e events/{event.file}" in listing
        assert f"make invoke EVENT=infra/events/{event.file}" in listing
        assert f"--event-file infra/events/{event.file}" in listing
    assert "Lambda console" in listing
