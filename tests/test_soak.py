"""The short soak: customers writing several messages each, with duplicates of every kind, through
the real forwarder and handler while Groq, Graph, Lambda and Postgres fail (a Groq outage longer
than one invocation, Graph bursts, a Postgres restart). `make bench` runs the long one."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.soak import SoakPlan, soak


@pytest.fixture
def soak_dir() -> Iterator[Path]:
    """Outside pytest's tmp_path: Postgres runs as the `pgserver` user and must traverse the path,
    while every pytest start (another engineer's too, on this machine) resets /tmp/pytest-of-root
    to mode 0700."""
    path = Path(tempfile.mkdtemp(prefix="soak-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_short_soak_loses_nothing_doubles_nothing_and_keeps_each_customers_order(soak_dir: Path) -> None:
    report = soak(SoakPlan(customers=25, messages_per_customer=4, groq_outage_seconds=4.0), soak_dir)

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
