"""The local master key: made once under the data folder, unless the environment names one."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from localrun.master_key import use_local_master_key


def test_a_key_file_is_made_once_and_named_in_the_environment(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    path = use_local_master_key(tmp_path, env)
    assert path == tmp_path / "local-master-key"
    assert env == {"LOCAL_MASTER_KEY_FILE": str(path)}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text()
    assert use_local_master_key(tmp_path, {}) == path
    assert path.read_text() == key


@pytest.mark.parametrize("variable", ["KMS_KEY_ID", "LOCAL_MASTER_KEY", "LOCAL_MASTER_KEY_FILE"])
def test_a_configured_master_key_is_left_alone(tmp_path: Path, variable: str) -> None:
    env = {variable: "configured"}
    assert use_local_master_key(tmp_path, env) is None
    assert env == {variable: "configured"}
    assert not (tmp_path / "local-master-key").exists()
