"""plan_handoff: whatever the payload, the parts carry all of it, and each fits in one invoke or is parked."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from forwarder.split import OversizedPart, ReadyPart, plan_handoff, split_by_change
from shared.envelope import Envelope, ParkedBody

LIMIT = 4096
KEY_ID = "ks1-0123456789abcdef01234567"
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=600)
changes = st.fixed_dictionaries(
    {
        "field": st.just("messages"),
        "value": st.dictionaries(st.sampled_from(["a", "b", "c"]), texts, max_size=3),
    }
)
entries = st.fixed_dictionaries(
    {"id": st.text(max_size=8), "changes": st.lists(changes, min_size=1, max_size=6)}
)
payloads = st.fixed_dictionaries(
    {"object": st.just("whatsapp_business_account"), "entry": st.lists(entries, min_size=1, max_size=4)}
)


def pairs(payload: Any) -> list[tuple[Any, Any]]:
    return [
        ({k: v for k, v in entry.items() if k != "changes"}, change)
        for entry in payload["entry"]
        for change in entry["changes"]
    ]


@settings(max_examples=150, deadline=None)
@given(payloads)
def test_the_parts_together_are_the_payload(payload: dict[str, Any]) -> None:
    raw = json.dumps(payload, ensure_ascii=False)
    planned = plan_handoff(
        raw, payload, signature="sha256=x", verified_by=KEY_ID, received_at=1.0, invoke_max_bytes=LIMIT
    )

    bodies: list[Any] = []
    for part in planned:
        assert part.parts == len(planned)
        if isinstance(part, ReadyPart):
            assert len(part.payload) <= LIMIT
            envelope = Envelope.from_dict(json.loads(part.payload))
            assert envelope.part == part.part and envelope.received_at == 1.0
            assert envelope.verified_by == KEY_ID  # every part names the key that verified the whole
            bodies.append(json.loads(envelope.body or ""))
        else:
            assert isinstance(part, OversizedPart)
            parked = json.loads(part.envelope(ParkedBody(bucket="b", key="k")))
            assert parked["parked"] == {"bucket": "b", "key": "k"} and "body" not in parked
            assert parked["verified_by"] == KEY_ID
            bodies.append(json.loads(part.body))
    if len(planned) == 1:
        assert bodies == [payload]
    else:
        assert [pair for body in bodies for pair in pairs(body)] == pairs(payload)
        assert all(len(body["entry"]) == 1 and len(body["entry"][0]["changes"]) == 1 for body in bodies)


def test_a_payload_that_fits_goes_as_is_with_its_signature() -> None:
    raw = '{"object": "whatsapp_business_account",   "entry": []}'
    [part] = plan_handoff(
        raw,
        json.loads(raw),
        signature="sha256=s",
        verified_by=KEY_ID,
        received_at=2.0,
        invoke_max_bytes=LIMIT,
    )

    assert isinstance(part, ReadyPart)
    envelope = Envelope.from_dict(json.loads(part.payload))
    assert (envelope.body, envelope.signature) == (raw, "sha256=s")


def test_a_payload_that_cannot_be_split_without_loss_is_parked_whole_and_signed() -> None:
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"v": "x" * 5000}]}]}
    raw = json.dumps(payload)

    [part] = plan_handoff(
        raw, payload, signature="sha256=s", verified_by=KEY_ID, received_at=0.0, invoke_max_bytes=LIMIT
    )

    assert isinstance(part, OversizedPart)
    assert (part.body, part.signature, part.verified_by, part.parts) == (raw.encode(), "sha256=s", KEY_ID, 1)


def test_split_refuses_anything_it_would_lose() -> None:
    change = {"field": "messages"}
    assert split_by_change({"object": "o", "entry": [{"changes": [change]}], "extra": 1}) is None
    assert split_by_change({"object": "o", "entry": [{"changes": []}]}) is None
    assert split_by_change({"object": "o", "entry": [{"changes": [change, 3]}]}) is None
    assert split_by_change({"object": "o", "entry": ["x"]}) is None
    assert (
        split_by_change({"object": "o", "entry": [{"id": 1, "changes": [change, change]}]})
        == ['{"object":"o","entry":[{"id":1,"changes":[{"field":"messages"}]}]}'] * 2
    )


def test_a_lone_surrogate_escape_survives_the_split() -> None:
    raw = '{"object":"o","entry":[{"changes":[{"t":"\\ud800' + "x" * 5000 + '"},{"t":"ok"}]}]}'
    planned = plan_handoff(
        raw, json.loads(raw), signature=None, verified_by=KEY_ID, received_at=0.0, invoke_max_bytes=LIMIT
    )

    assert len(planned) == 2
    oversized = planned[0]
    assert isinstance(oversized, OversizedPart)
    assert json.loads(oversized.body)["entry"][0]["changes"][0]["t"].startswith("\ud800")
