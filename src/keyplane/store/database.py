"""The engine and session factory, opened in the app's lifespan, never at import.

Every wait on the store has a deadline (``Deadlines``): to connect, for one statement, and
for a pooled connection; past one, the caller gets an error of ``STORE_UNREACHABLE`` and
answers 503, so a hung database (reachable but silent) costs a call seconds, not forever.
SQL parameters are never logged (``hide_parameters``): they hold hashes and webhook secrets.
An SQLite file and its ``-wal`` and ``-shm`` are readable by their owner only.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from keyplane.config import Settings

# What a lost database connection raises: callers fail closed (503), never wave a call through.
STORE_UNREACHABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,  # asyncpg's command and connect timeouts
    PoolTimeoutError,  # no pooled connection came free in time
)


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Seconds to connect, to run one statement (SQLite: to wait for its lock), to check out."""

    connect: float = 2.0
    statement: float = 2.0
    pool: float = 2.0

    @classmethod
    def of(cls, settings: Settings) -> Deadlines:
        return cls(
            connect=settings.store_connect_timeout_seconds,
            statement=settings.store_statement_timeout_seconds,
            pool=settings.store_pool_timeout_seconds,
        )


DEFAULT_DEADLINES = Deadlines()
SQLITE_MIN_WAIT = 30.0


class Database:
    """One engine and its session factory."""

    def __init__(
        self, url: str, *, echo: bool = False, deadlines: Deadlines = DEFAULT_DEADLINES
    ) -> None:
        self.url = url
        self.deadlines = deadlines
        options = _engine_options(url, deadlines)
        self.engine: AsyncEngine = create_async_engine(
            url, echo=echo, hide_parameters=True, **options
        )
        if url.startswith("sqlite"):
            secure_sqlite_file(make_url(url).database)
            busy_ms = int(max(deadlines.statement, SQLITE_MIN_WAIT) * 1000)

            def pragmas(connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
                _sqlite_pragmas(connection, busy_ms)

            event.listen(self.engine.sync_engine, "connect", pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> AsyncSession:
        return self.sessions()

    async def ping(self) -> None:
        """Raise if the store cannot be reached."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _engine_options(url: str, deadlines: Deadlines) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # sqlite3's timeout is how long a statement waits for another writer's lock. A local
        # file does not hang as a network does; a burst queues for its one writer, so waits
        # keep the 30 s they had (with 2 s, a 300-call burst in test_limits_shared got 503s).
        wait = max(deadlines.statement, SQLITE_MIN_WAIT)
        return {"connect_args": {"timeout": wait}, "pool_timeout": max(deadlines.pool, wait)}
    options: dict[str, Any] = {
        "pool_size": 10,
        "max_overflow": 20,
        "pool_pre_ping": True,
        "pool_timeout": deadlines.pool,
    }
    if url.startswith("postgresql+asyncpg"):
        statement_ms = str(int(deadlines.statement * 1000))
        options["connect_args"] = {
            "timeout": deadlines.connect,
            # The client gives up after command_timeout; the server cancels at statement_timeout.
            "command_timeout": deadlines.statement,
            "server_settings": {"statement_timeout": statement_ms},
        }
    return options


def secure_sqlite_file(database: str | None) -> None:
    """Create the SQLite file 0600 (``-wal``, ``-shm`` take its mode) and tighten old ones."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if stat.S_IMODE(each.stat().st_mode) & 0o077:
                each.chmod(0o600)
        except FileNotFoundError:
            continue


def _sqlite_pragmas(connection: DBAPIConnection, busy_ms: int) -> None:
    # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
