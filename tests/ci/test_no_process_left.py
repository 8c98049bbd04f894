"""CI's check that a command (`make test`) leaves no process running behind it."""

from __future__ import annotations

import subprocess
import sys
import time

from ops.database import PROJECT_ROOT
from tests.localrun.driver import is_gone

CHECK = PROJECT_ROOT / ".ci" / "no_process_left.py"


def run_checked(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK), "sh", "-c", script], capture_output=True, text=True, timeout=60
    )


def test_a_process_that_outlives_the_command_fails_the_check_and_is_stopped() -> None:
    # The shell prints the detached child's pid and exits at once: the child is orphaned.
    checked = run_checked("sleep 300 & echo $!")

    assert checked.returncode == 1
    assert "left running: 1" in checked.stderr and "sleep 300" in checked.stderr
    orphan = int(checked.stdout.strip())
    deadline = time.monotonic() + 10
    while not is_gone(orphan) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert is_gone(orphan)


def test_a_command_whose_children_all_ended_passes() -> None:
    checked = run_checked("sleep 0.2 & wait")

    assert checked.returncode == 0
    assert "left running: 0" in checked.stderr


def test_the_commands_own_failure_is_its_exit_code() -> None:
    assert run_checked("exit 3").returncode == 3
