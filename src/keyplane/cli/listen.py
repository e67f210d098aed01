"""The listening socket of ``serve``, taken before anything is printed or changed.

``serve`` binds first and hands the socket to uvicorn: a second ``serve`` on a busy port
then fails with one line before it migrates, prints a link or replaces the setup token that
the running server's link carries.
"""

from __future__ import annotations

import errno
import socket

from keyplane.cli.errors import CliError

BACKLOG = 2048  # uvicorn's default


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (port 0: a free one), or a one-line ``CliError``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As uvicorn does: a restart may bind while old connections linger in TIME_WAIT. On
        # Linux this never lets two processes listen on the same port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise CliError(_why(host, port, exc)) from None
    sock.set_inheritable(True)
    return sock


def _why(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the port is in use (another keyplane serve?); "
            "stop it, or pick another port with --port or KEYPLANE_PORT"
        )
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied; ports below 1024 need privileges"
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: no such local address; check --host or KEYPLANE_HOST"
    return f"cannot listen on {where}: {exc.strerror or exc}"


def url_of(sock: socket.socket, host: str, *, scheme: str = "http") -> str:
    """Where people reach the socket: the host as given, the port as bound."""
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"
