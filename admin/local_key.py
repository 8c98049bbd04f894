"""Locally, the admin command uses the master key `make run` made, so both read the same secrets."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path

from ops.database import data_dir
from tenant_secrets.master_keys import LOCAL_KEY_FILE_NAME, configures_master_key


def adopt_local_master_key(env: MutableMapping[str, str]) -> Path | None:
    """When no master key is configured and the data folder holds `make run`'s key file, point
    `LOCAL_MASTER_KEY_FILE` at it (for this process) and return its path; None otherwise. Never
    creates a key: a key made here would encrypt secrets nothing else can read."""
    if configures_master_key(env):
        return None
    path = data_dir(env) / LOCAL_KEY_FILE_NAME
    if not path.is_file():
        return None
    env["LOCAL_MASTER_KEY_FILE"] = str(path)
    return path
