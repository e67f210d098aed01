"""``keyplane serve --demo``: the gateway in front of keyplane's stand-in upstream.

Trying keyplane needs no provider key: ``--demo`` starts the stand-in OpenAI upstream of
``keyplane.testing`` as a child process on a free local port, with a fresh key of its own,
and points this server's gateway at it. The stand-in answers every model with canned text
and real-looking ``usage``, so keys, limits, budgets and metering all work; nothing reaches a
provider and nothing is billed. It says what it is wherever it shows: in ``serve``'s output,
and in ``/v1/models`` (``owned_by: keyplane-stand-in``). It stops with the server.
"""

from __future__ import annotations

import atexit
import os
import secrets
import signal
import sys

import click

from keyplane.cli.errors import CliError

STAND_IN = "keyplane's stand-in upstream"


def start_demo_upstream() -> str:
    """Start the stand-in, stopped when this process exits; its base URL (ending in ``/v1``).

    The server's app is built by uvicorn's factory from the environment, so the stand-in's
    URL and key reach it as the two upstream settings, for this process only.
    """
    from keyplane.testing.process import start_upstream_process  # only for --demo

    key = "sk-keyplane-demo-" + secrets.token_urlsafe(24)
    try:
        upstream = start_upstream_process(api_key=key)
    except (OSError, RuntimeError) as exc:
        raise CliError(f"cannot start {STAND_IN} for --demo: {exc}") from None
    atexit.register(upstream.close)
    # uvicorn re-raises the SIGTERM it shut down on, with the handler found before it ran:
    # exiting from Python (not by the default handler) lets the exit hook above stop the child.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    os.environ["KEYPLANE_UPSTREAM_BASE_URL"] = upstream.base_url
    os.environ["KEYPLANE_UPSTREAM_API_KEY"] = key
    os.environ["KEYPLANE_DEMO"] = "1"  # the dashboard's banner
    return upstream.base_url


def print_demo_banner(upstream_url: str, url: str) -> None:
    body = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}'
    for line in (
        f"DEMO: the gateway forwards to {STAND_IN} at {upstream_url}, not to a provider:",
        "  canned answers for any model and nothing billed (calls are metered at list prices).",
        "  try it: keyplane keys create --name demo     # prints a project key once",
        f"          curl -s {url}/v1/chat/completions -H 'Authorization: Bearer kp_proj_...' \\",
        f"               -H 'Content-Type: application/json' -d '{body}'",
    ):
        click.echo(line)
