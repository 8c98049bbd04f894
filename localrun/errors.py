"""The errors that stop `make run` or `make invoke`, each reported as one line `error: …` on standard error.

    LocalRunError        exit 2
    ├── PortBusy         a port is taken: names the port and the variable that sets it
    ├── BadLocalSecrets  the local secrets file cannot be read
    ├── DatabaseFailure  the embedded Postgres or DATABASE_URL cannot be used
    ├── ServerFailed     the handler or the forwarder did not start, or stopped
    ├── BadEvent         `make invoke`: the event file is missing, not a sample event, or not JSON
    └── SampleConflict   `make invoke`: the database holds something the sample tenants cannot share

Messages never contain a secret.
"""

from __future__ import annotations


class LocalRunError(Exception):
    exit_code = 2


class PortBusy(LocalRunError):
    def __init__(self, port: int, variable: str) -> None:
        super().__init__(f"port {port} is already in use; set {variable} to a free port (e.g. {variable}=0)")
        self.port = port
        self.variable = variable


class BadLocalSecrets(LocalRunError):
    pass


class DatabaseFailure(LocalRunError):
    pass


class ServerFailed(LocalRunError):
    pass


class BadEvent(LocalRunError):
    pass


class SampleConflict(LocalRunError):
    pass
