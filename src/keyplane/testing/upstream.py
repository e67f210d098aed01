"""Serve the stand-in OpenAI upstream as a process, for tests and benchmarks only.

    python -m keyplane.testing.upstream --host 127.0.0.1 --port 9100 \\
        --api-key sk-test-upstream --delay-ms 0 [--workers 1] \\
        [--provider openai|anthropic|azure] [--fail-status 503]

It binds the socket itself, so ``--port 0`` picks a free port, then prints exactly one line
to stdout, ``listening on http://HOST:PORT``, once it accepts connections. Served by uvicorn
with uvloop and httptools, access log off. With several workers each keeps its own request
log. What the app answers is described in ``keyplane.testing`` (``--provider openai``),
``keyplane.testing.anthropic`` and ``keyplane.testing.azure``; ``--fail-status`` makes every
authenticated call fail with that status, as a provider that is down would. ``--provider
instant`` serves ``keyplane.testing.instant``: one fixed chat completion, for throughput
benchmarks only (``--delay-ms`` applies to it too, and ``--jitter-ms`` to it alone: each
delay is drawn from the delay give or take the jitter).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import socket
import sys

import uvicorn
import uvloop
from uvicorn.supervisors import Multiprocess

from keyplane.testing import instant
from keyplane.testing.anthropic import create_anthropic_upstream_app
from keyplane.testing.app import create_upstream_app
from keyplane.testing.azure import create_azure_upstream_app

__all__ = ["create_upstream_app", "main"]

FACTORIES = {
    "openai": create_upstream_app,
    "anthropic": create_anthropic_upstream_app,
    "azure": create_azure_upstream_app,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m keyplane.testing.upstream",
        description="A stand-in OpenAI upstream for tests and benchmarks. Never for production.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100, help="0 picks a free port")
    parser.add_argument("--api-key", default="sk-test-upstream", help="the bearer token accepted")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="fixed delay of every answer")
    parser.add_argument(
        "--jitter-ms", type=float, default=0.0, help="with --provider instant: delay ± this"
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--provider", choices=[*sorted(FACTORIES), "instant"], default="openai")
    parser.add_argument("--fail-status", type=int, default=None, help="answer every call so")
    return parser


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that prints where it listens once startup is done."""

    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self._url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(f"listening on {self._url}", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Run the stand-in until interrupted."""
    args = _parser().parse_args(argv)
    if args.workers < 1 or args.delay_ms < 0:
        sys.exit("error: --workers must be at least 1 and --delay-ms not negative")
    if args.fail_status is not None and not 400 <= args.fail_status <= 599:
        sys.exit("error: --fail-status must be from 400 to 599")
    try:
        sock = _bind(args.host, args.port)
    except OSError as error:
        sys.exit(f"error: cannot listen on {args.host}:{args.port}: {error.strerror}")
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{sock.getsockname()[1]}"
    if args.provider == "instant":  # throughput benchmarks only: see keyplane.testing.instant
        if args.workers != 1 or args.fail_status is not None:
            sys.exit("error: --provider instant takes no --workers or --fail-status")
        if not 0 <= args.jitter_ms <= args.delay_ms:
            sys.exit("error: --jitter-ms must be from 0 to --delay-ms")
        announce = f"listening on {url}"
        delay, jitter = args.delay_ms / 1000, args.jitter_ms / 1000
        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(instant.serve(sock, args.api_key, announce, delay, jitter))
        return
    if args.jitter_ms:
        sys.exit("error: --jitter-ms is for --provider instant only")
    # A factory, so that each worker process builds its own app.
    factory = functools.partial(
        FACTORIES[args.provider],
        api_key=args.api_key,
        delay_seconds=args.delay_ms / 1000,
        fail_status=args.fail_status,
    )
    config = uvicorn.Config(
        factory,
        factory=True,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
    if args.workers == 1:
        _AnnouncingServer(config, url).run(sockets=[sock])
        return
    # The socket already listens, so connections queue until the workers accept them.
    print(f"listening on {url}", flush=True)
    Multiprocess(config, sockets=[sock]).run()


if __name__ == "__main__":
    main()
