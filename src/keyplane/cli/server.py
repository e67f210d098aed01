"""Commands that run the server side: ``serve`` and ``init``."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import click
from pydantic import ValidationError

from keyplane.audit.actor import Actor
from keyplane.cli.demo import print_demo_banner, start_demo_upstream
from keyplane.cli.errors import CliError, bad_setting
from keyplane.cli.listen import listen, url_of
from keyplane.cli.upstreams import upstreams_or_exit, warn_about
from keyplane.clock import system_clock
from keyplane.config import Settings, load_settings
from keyplane.services.admin_keys import issue_admin_key
from keyplane.services.bootstrap import Bootstrap, bootstrap
from keyplane.services.server_secret import load_server_secret
from keyplane.services.users import UserService
from keyplane.store.database import Database, Deadlines
from keyplane.store.migrate import upgrade_to_head

# Builds the app from the same environment and ``.env`` that ``serve`` validated above.
APP_FACTORY = "keyplane.app:app_from_environment"


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ValidationError as exc:
        raise bad_setting(exc) from None


async def prepare(settings: Settings, *, new_admin_key: bool = False) -> Bootstrap:
    """Migrate the store to head and bootstrap it on first run.

    ``new_admin_key`` is the break-glass way back in when every admin key is lost or was
    revoked as leaked: whoever can open the store directly may issue one, and it is audited.
    """
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Migrations may rewrite big tables: the statement deadline of serving does not fit them.
    deadlines = replace(Deadlines.of(settings), statement=3600.0)
    database = Database(settings.resolved_database_url, deadlines=deadlines)
    try:
        await upgrade_to_head(database)
        result = await bootstrap(database, brand=settings.key_brand)
        if new_admin_key and not result.first_run:
            result = await _break_glass(database, result, brand=settings.key_brand)
        return result
    finally:
        await database.close()


async def _break_glass(database: Database, result: Bootstrap, *, brand: str) -> Bootstrap:
    actor = Actor(type="system", label="keyplane init --new-admin-key (store access)")
    async with database.session() as session, session.begin():
        issued = await issue_admin_key(
            session,
            organization_id=result.organization_id,
            name="Recovery admin key",
            actor=actor,
            brand=brand,
            now=system_clock(),
        )
    return Bootstrap(result.organization_id, result.project_id, issued.plaintext)


def prepare_or_exit(settings: Settings, *, new_admin_key: bool = False) -> Bootstrap:
    try:
        return asyncio.run(prepare(settings, new_admin_key=new_admin_key))
    except (OSError, ConnectionError) as exc:
        raise CliError(f"cannot open the store: {_first_line(exc)}") from None
    except Exception as exc:  # driver errors vary by backend; show one line, not a traceback
        if type(exc).__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3", "aiosqlite")):
            reason = _first_line(getattr(exc, "orig", None) or exc)
            raise CliError(f"cannot open the store ({type(exc).__name__}): {reason}") from None
        raise


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--new-admin-key",
    is_flag=True,
    help="Issue another admin key straight through the store (when all are lost or revoked).",
)
def init(as_json: bool, new_admin_key: bool) -> None:
    """Create the store and, on first run, the default organisation, project and admin key."""
    settings = settings_or_exit()
    result = prepare_or_exit(settings, new_admin_key=new_admin_key)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "organization_id": result.organization_id,
                    "project_id": result.project_id,
                    "admin_key": result.admin_key,
                }
            )
        )
        return
    if new_admin_key and result.admin_key:
        click.echo("new admin key (shown once, store it now):")
        click.echo(f"  KEYPLANE_ADMIN_KEY={result.admin_key}")
    elif result.first_run:
        _print_first_run(result)
    else:
        click.echo("keyplane is already initialised; the first admin key was shown then.")


@click.command()
@click.option("--host", default=None, help="Interface to listen on [KEYPLANE_HOST].")
@click.option("--port", type=int, default=None, help="Port to listen on [KEYPLANE_PORT].")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Processes to serve with, on one socket: one per core [KEYPLANE_WORKERS, 1].",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Forward the gateway to keyplane's stand-in upstream: try it without a provider key.",
)
def serve(host: str | None, port: int | None, workers: int | None, demo: bool) -> None:
    """Migrate, bootstrap on first run, and serve the API, gateway and dashboard."""
    import uvicorn

    from keyplane.logs import configure_logging

    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if workers is not None:
        overrides["workers"] = workers
    settings = settings_or_exit(**overrides)
    check_workers(settings)
    configure_logging(settings.log_level, format=settings.log_format)
    warn_about(upstreams_or_exit(settings))  # a bad upstreams file stops here, in one line
    connection_options = _connection_options(settings)  # a missing TLS file stops here too
    sock = listen(settings.host, settings.port)  # before anything is printed or changed
    demo_url = start_demo_upstream() if demo else None
    result = prepare_or_exit(settings)
    # Made here, once: the workers all read the same one (sessions, one-time secrets).
    load_server_secret(settings)
    url = url_of(sock, settings.host, scheme="https" if settings.tls_certfile else "http")
    click.echo(f"keyplane listening on {url}  (store: {_store_label(settings)})")
    if result.first_run:
        _print_first_run(result)
    if demo_url is not None:
        print_demo_banner(demo_url, url)
    token = asyncio.run(_setup_token(settings))
    if token is not None:
        click.echo("no owner account yet; open this one-time link to create it:")
        click.echo(f"  {url}/setup?token={token}")
    uvicorn.run(
        # An import string, not an app: the CLI stays apart from the surfaces it serves.
        APP_FACTORY,
        factory=True,
        fd=sock.fileno(),  # the socket bound above; host and port are only for uvicorn's log
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        # keyplane decides itself whose X-Forwarded-For to believe (KEYPLANE_TRUSTED_PROXIES);
        # uvicorn's default would trust any local proxy's and rewrite the client address.
        proxy_headers=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        # Each worker is a whole keyplane (its own meter, journal and caches) on this socket;
        # limits and budgets are shared through Redis, usage through the store.
        workers=settings.workers,
        **connection_options,
    )


def check_workers(settings: Settings) -> None:
    """Several workers need shared limits: refuse, in one line, what would multiply them."""
    if settings.workers > 1 and not settings.redis_url:
        raise CliError(
            f"--workers {settings.workers} needs KEYPLANE_REDIS_URL: without Redis each worker "
            f"keeps rate limits and budgets of its own, so {settings.workers} workers would "
            f"allow {settings.workers} times every limit"
        )


def _connection_options(settings: Settings) -> dict[str, Any]:
    """TLS and the connection deadlines and cap (see docs/deployment.md for the numbers)."""
    from keyplane.http.connections import IMPORT_PATH

    options: dict[str, Any] = {
        # By name: each worker imports it and reads the same settings (docs/deployment.md).
        "http": IMPORT_PATH,
        "timeout_keep_alive": settings.http_keepalive_timeout_seconds,
        # The cap (KEYPLANE_HTTP_MAX_CONNECTIONS) is the protocol's: a 503 in the route's
        # own error shape, where uvicorn's limit_concurrency answers plain text.
    }
    if settings.tls_certfile is not None and settings.tls_keyfile is not None:
        for path in (settings.tls_certfile, settings.tls_keyfile):
            if not path.is_file():
                raise CliError(f"TLS file not found: {path}")
        options["ssl_certfile"] = str(settings.tls_certfile)
        options["ssl_keyfile"] = str(settings.tls_keyfile)
    return options


async def _setup_token(settings: Settings) -> str | None:
    """A fresh setup token while no owner exists; each start replaces the last one."""
    database = Database(settings.resolved_database_url)
    try:
        return await UserService(database).issue_setup_token()
    finally:
        await database.close()


def _print_first_run(result: Bootstrap) -> None:
    click.echo(f"organization: {result.organization_id}")
    click.echo(f"default project: {result.project_id}")
    click.echo("first admin key (shown once, store it now):")
    click.echo(f"  KEYPLANE_ADMIN_KEY={result.admin_key}")


def _store_label(settings: Settings) -> str:
    if settings.is_sqlite:
        return f"SQLite at {settings.data_dir / 'keyplane.db'}"
    url = settings.resolved_database_url
    return url.split("://", 1)[0] + "://" + url.rsplit("@", 1)[-1]
