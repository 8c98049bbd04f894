"""The local secrets: generated once, kept private, reused, and never shown in a repr."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from localrun.errors import BadLocalSecrets
from localrun.local_secrets import load_or_create


def test_secrets_are_generated_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "local-secrets.json"
    first = load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create(path) == first
    values = json.loads(path.read_text())
    assert len(set(values.values())) == len(values)  # all different
    for value in values.values():
        assert value not in repr(first)


def test_a_missing_entry_is_added_and_the_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "local-secrets.json"
    first = load_or_create(path)
    values = json.loads(path.read_text())
    del values["demo_groq_api_key"]
    path.write_text(json.dumps(values))
    second = load_or_create(path)
    assert second.meta_app_secret == first.meta_app_secret
    assert second.demo_groq_api_key and second.demo_groq_api_key != first.demo_groq_api_key
    assert "demo_groq_api_key" in json.loads(path.read_text())


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "local-secrets.json"
    path.write_text("[1, 2]")
    with pytest.raises(BadLocalSecrets, match="delete it to generate new local secrets"):
        load_or_create(path)
