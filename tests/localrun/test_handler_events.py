"""Reading the handler's JSON log lines back into stage times and outcomes."""

from __future__ import annotations

import json

from localrun.handler_events import HandlerEvents, is_finished, parse_line, stage_times


def log(**fields: object) -> str:
    return json.dumps({"ts": "2026-01-01T00:00:00.000Z", "level": "INFO", "logger": "handler", **fields})


def test_a_stage_line_gives_its_time_and_claim() -> None:
    event = parse_line(
        log(message="message claimed", message_id="wamid.A", stage="identify", claim="claimed", ms=3.25)
    )
    assert event is not None
    assert (event.wamid, event.stage, event.claim, event.ms) == ("wamid.A", "identify", "claimed", 3.25)


def test_lines_without_a_message_id_or_not_json_are_ignored() -> None:
    assert parse_line(log(message="webhook received", messages=1)) is None
    assert parse_line("INFO:     Started server process [42]") is None
    assert parse_line("{not json") is None
    assert parse_line(json.dumps(["wamid"])) is None


def test_a_message_is_finished_after_its_send_or_an_unclaimed_lookup() -> None:
    claimed = parse_line(log(message="m", message_id="w", stage="identify", claim="claimed", ms=1))
    groq = parse_line(log(message="m", message_id="w", stage="groq", ms=20))
    send = parse_line(log(message="m", message_id="w", stage="send", ms=5))
    duplicate = parse_line(log(message="m", message_id="w", stage="identify", claim="already_handled", ms=1))
    no_groq = parse_line(log(message="no Groq configuration found for user", message_id="w", level="ERROR"))
    assert claimed and groq and send and duplicate and no_groq
    assert not is_finished([claimed, groq])
    assert is_finished([claimed, groq, send])
    assert is_finished([duplicate])
    assert is_finished([claimed, no_groq])
    assert stage_times([claimed, groq, send]) == {"identify": 1.0, "groq": 20.0, "send": 5.0}


def test_events_are_kept_by_message_id_in_order() -> None:
    events = HandlerEvents()
    events.feed(log(message="a", message_id="w1", stage="identify", claim="claimed", ms=1))
    events.feed(log(message="b", message_id="w2", stage="identify", claim="claimed", ms=2))
    events.feed("not a log line\n")
    events.feed(log(message="c", message_id="w1", stage="identify", claim="already_handled", ms=3))
    assert [e.claim for e in events.for_wamid("w1")] == ["claimed", "already_handled"]
    assert [e.message for e in events.for_wamid("w2")] == ["b"]
    assert events.for_wamid("unknown") == ()
