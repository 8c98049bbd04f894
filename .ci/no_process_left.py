"""Run a command and fail when it leaves a process running, such as a Postgres server a test started.

`python3 .ci/no_process_left.py make test`. The command runs under this process made a child subreaper
(Linux): a process that outlives its parent (pg_ctl's postgres does at once) is re-parented here rather
than to init, so what the command left behind is exactly what still runs under us once it has exited,
however many other checkouts run their own servers on the same machine. Standard library only: it
runs before any virtual environment exists.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
# A server told to stop by the suite's last process may still be writing its shutdown checkpoint.
GRACE_SECONDS = 15.0


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed: this check needs Linux")


def parents() -> dict[int, int]:
    """Every live process and its parent (zombies left out)."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue  # gone meanwhile
        if state not in ("Z", "X"):
            found[int(entry.name)] = int(parent)
    return found


def descendants(pid: int) -> list[int]:
    tree = parents()
    found: list[int] = []
    frontier = {pid}
    while frontier:
        children = {child for child, parent in tree.items() if parent in frontier}
        found += sorted(children)
        frontier = children
    return found


def reap_exited_children() -> None:
    """Orphans that exited are our zombies now: collect them so that they leave the process table."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def describe(pid: int) -> str:
    try:
        command = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        command = "(gone)"
    return f"  pid {pid}: {command.strip()}"


def count_postgres_servers() -> int:
    """Postmasters on the whole machine, other checkouts' included: for the record, not the verdict."""
    count = 0
    for pid, parent in parents().items():
        try:
            name = (Path("/proc") / str(pid) / "comm").read_text().strip()
        except OSError:
            continue
        try:
            parent_name = (Path("/proc") / str(parent) / "comm").read_text().strip()
        except OSError:
            parent_name = ""
        count += name == "postgres" and parent_name != "postgres"
    return count


def left_behind(deadline: float) -> list[int]:
    """What still runs under us once the command has exited, after a grace period to stop."""
    while True:
        reap_exited_children()
        remaining = descendants(os.getpid())
        if not remaining or time.monotonic() >= deadline:
            return remaining
        time.sleep(0.2)


def stop(pids: list[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if not left_behind(time.monotonic() + 5.0):
            return


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: no_process_left.py COMMAND [ARG...]\n")
        return 2
    become_subreaper()
    servers_before = count_postgres_servers()
    returncode = subprocess.call(argv)
    leftovers = left_behind(time.monotonic() + GRACE_SECONDS)
    servers_after = count_postgres_servers()
    sys.stderr.write(
        f"no_process_left: postgres servers on this machine {servers_before} before, {servers_after} after"
        f" (other checkouts' included); processes `{' '.join(argv)}` left running: {len(leftovers)}\n"
    )
    if not leftovers:
        return returncode
    sys.stderr.write("".join(describe(pid) + "\n" for pid in leftovers))
    stop(leftovers)
    return returncode or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
