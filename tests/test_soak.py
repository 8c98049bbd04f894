"""The short soak: signed webhooks with duplicates through the real forwarder and handler while
Groq, Graph, Lambda and Postgres fail now and then. No customer gets two replies, none is lost.
(`make bench` runs the long one.)"""

from __future__ import annotations

from pathlib import Path

from bench.soak import soak


def test_short_soak_has_no_double_reply_and_no_loss(tmp_path: Path) -> None:
    report = soak(150, tmp_path)

    print(report.table())  # noqa: T201 - the table is the point of a soak run
    assert report.duplicates_sent > 0 and report.groq_faults > 0 and report.graph_faults > 0
    assert report.handler_retries > 0  # the Postgres outage made invocations fail and run again
    assert report.double_replies == 0
    assert report.lost_messages == 0
    assert report.replies_sent + report.recorded_failures == report.unique_messages
