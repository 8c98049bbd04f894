"""Tenant secrets are encrypted at rest: benchmarks use a key of their own unless one is configured."""

from __future__ import annotations

import os

from tenant_secrets.master_keys import new_local_master_key

_KEY_VARIABLES = ("KMS_KEY_ID", "LOCAL_MASTER_KEY", "LOCAL_MASTER_KEY_FILE")


def ensure_master_key() -> None:
    if not any(os.environ.get(name) for name in _KEY_VARIABLES):
        os.environ["LOCAL_MASTER_KEY"] = new_local_master_key()
