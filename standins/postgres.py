"""A real embedded Postgres that fault-injection tests and the soak run stop and start at will."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ops.database import start_embedded_postgres


class RestartablePostgres:
    """Its own data folder, so stopping it disturbs no other test."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.url = start_embedded_postgres(pgdata)
        self._socket_dir = parse_qs(urlsplit(self.url).query)["host"][0]

    def _ctl(self, *args: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver._commands import pg_ctl

        # pgserver runs postgres as its own system user when we are root.
        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl(["-w", *args], pgdata=self.pgdata, user=user)

    def stop(self) -> None:
        """As a crash would: connections drop at once."""
        self._ctl("-m", "immediate", "stop")

    def start(self) -> None:
        self._ctl("-o", '-h ""', "-o", f"-k {self._socket_dir}", "-l", str(self.pgdata / "log"), "start")
