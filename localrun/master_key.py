"""The master key that encrypts tenant secrets at rest during a local run.

Unless the environment names one (`KMS_KEY_ID`, `LOCAL_MASTER_KEY`, `LOCAL_MASTER_KEY_FILE`), a
local key is generated once under the data folder and named in this process's environment, which
the admin functions, the migrations and the handler all read it from.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

from tenant_secrets.master_keys import LOCAL_KEY_FILE_NAME, configures_master_key, ensure_local_master_key


def use_local_master_key(data_dir: Path, env: MutableMapping[str, str] | None = None) -> Path | None:
    """Point `LOCAL_MASTER_KEY_FILE` at `data_dir/local-master-key` (created when absent) and return
    that path; None, changing nothing, when the environment already configures a master key."""
    env = os.environ if env is None else env
    if configures_master_key(env):
        return None
    path = Path(ensure_local_master_key(data_dir / LOCAL_KEY_FILE_NAME))
    env["LOCAL_MASTER_KEY_FILE"] = str(path)
    return path
