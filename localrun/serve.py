"""One ASGI app under uvicorn, on a listening socket inherited from `make run`, for as long as it lives.

`python -m localrun.serve handler.app:app --fd N`. Standard input is a pipe from `make run`: when
it closes (`make run` stopped, or was killed outright), the server shuts down like on SIGTERM, so
no server outlives the run that started it.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading

import uvicorn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Serve an ASGI app on an inherited socket until stdin closes."
    )
    parser.add_argument("app", help="import string, e.g. handler.app:app")
    parser.add_argument("--fd", type=int, required=True, help="the listening socket's file descriptor")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)  # family and type are read from the descriptor
    config = uvicorn.Config(
        args.app,
        lifespan="on",
        access_log=False,
        log_level="warning",
        ws="none",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    threading.Thread(target=_stop_when_parent_goes, args=(server,), name="parent-watch", daemon=True).start()
    server.run(sockets=[sock])
    return 0


def _stop_when_parent_goes(server: uvicorn.Server) -> None:
    try:
        sys.stdin.buffer.read()  # returns at end of input: the parent closed the pipe or died
    except OSError:
        pass
    server.should_exit = True


if __name__ == "__main__":
    raise SystemExit(main())
