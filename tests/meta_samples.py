"""Meta's sample payloads from tests/data/meta, pointed at a test tenant's business number."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "data" / "meta"


def meta_sample(
    name: str, *, phone_number_id: str, replacements: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """`name`.json with its business number set to `phone_number_id`, and each old -> new of
    `replacements` applied to the text (e.g. a fresh wamid, so a sample can be sent twice)."""
    text = (SAMPLES / f"{name}.json").read_text(encoding="utf-8")
    for old, new in (replacements or {}).items():
        text = text.replace(old, new)
    payload: dict[str, Any] = json.loads(text)
    for entry in payload["entry"]:
        for change in entry["changes"]:
            change["value"]["metadata"]["phone_number_id"] = phone_number_id
    return payload
