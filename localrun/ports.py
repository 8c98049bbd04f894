"""Claiming the ports `make run` listens on, before anything starts, with errors that name the variable."""

from __future__ import annotations

import socket

from localrun.errors import PortBusy
from localrun.settings import PortSetting
from standins.server import LOCALHOST, PortUnavailable, bind_socket


def claim(setting: PortSetting) -> socket.socket:
    """A listening socket on 127.0.0.1 for `setting` (port 0: any free port); `PortBusy` when taken."""
    try:
        sock = bind_socket(LOCALHOST, setting.port)
    except PortUnavailable:
        raise PortBusy(setting.port, setting.variable) from None
    sock.setblocking(True)
    return sock


def check_free(setting: PortSetting) -> None:
    """`PortBusy` unless the port can be bound now (for servers that bind it themselves later)."""
    if setting.port == 0:
        return
    claim(setting).close()
