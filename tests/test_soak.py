"""The short soak: customers writing several messages each, with duplicates of every kind, through
the real forwarder and handler while Groq, Graph, Lambda and Postgres fail (a Groq outage longer
than one invocation, Graph bursts, a Postgres restart). `make bench` runs the long one."""

from __future__ import annotations

from pathlib import Path

from bench.soak import SoakPlan, soak


def test_short_soak_loses_nothing_doubles_nothing_and_keeps_each_customers_order(
    postgres_folder: Path,
) -> None:
    # Lambda's retry delays (1 and 2 minutes) shortened to 5 s: far above the container queue waits a
    # loaded 2-core machine shows (p95 under 2 s), as Lambda's are above its own; at 2.5 s a busy
    # machine's waits reached the delays and the soak measured the compression, not the handler.
    plan = SoakPlan(customers=25, messages_per_customer=4, groq_outage_seconds=4.0, retry_delay_seconds=5.0)
    report = soak(plan, postgres_folder)

    print(report.table())  # noqa: T201 - the table is the point of a soak run
    assert report.duplicates_concurrent > 0 and report.duplicates_later > 0 and report.duplicates_repacked > 0
    assert report.groq_faults > 0 and report.graph_faults > 0
    assert report.function_errors > 0  # the outages made invocations fail and run again
    assert report.double_replies == 0
    assert report.lost_messages == 0
    assert report.ordering_violations == 0
    assert report.exhausted_with_retries_left == 0
    assert report.dead_letters == 0
    assert report.statuses_sent > 0 and report.statuses_unmatched == 0
    assert report.replies_sent - report.double_replies + report.recorded_failures >= report.unique_messages
