"""The restartable Postgres stops at the end of its `with` block, even after a restart."""

from __future__ import annotations

from pathlib import Path

from standins.postgres import RestartablePostgres
from tests.localrun.driver import is_gone


def postmaster(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def test_a_server_restarted_after_a_crash_is_stopped_when_the_block_ends(postgres_folder: Path) -> None:
    with RestartablePostgres(postgres_folder / "pg") as server:
        first = postmaster(server.pgdata)
        server.stop()
        server.start()
        restarted = postmaster(server.pgdata)
        assert restarted != first and not is_gone(restarted)

    assert is_gone(restarted)
    assert not server.running


def test_a_server_stopped_by_a_crash_at_the_end_is_left_as_it_is(postgres_folder: Path) -> None:
    with RestartablePostgres(postgres_folder / "pg") as server:
        pid = postmaster(server.pgdata)
        server.stop()

    assert is_gone(pid) and not server.running
