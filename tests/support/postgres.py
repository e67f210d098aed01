"""Throwaway databases on the PostgreSQL server at 127.0.0.1:5432, one per test."""

from __future__ import annotations

import asyncio
import os
import secrets

import asyncpg

from keyplane.store.database import Database
from keyplane.store.migrate import upgrade_to_head

ADMIN_DSN = os.environ.get("KEYPLANE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
DROPPERS = 8  # connections dropping databases at the end


class PostgresDatabases:
    """Creates migrated databases from a template, and drops them all at the end."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.template: str | None = None

    async def fresh(self) -> str:
        if self.template is None:
            self.template = await self._create(template=None)
            await self._migrate(self.template)
        name = await self._create(template=self.template)
        return self._url(name)

    async def empty(self) -> str:
        """A new database with no tables, for migration tests."""
        return self._url(await self._create(template=None))

    async def _create(self, *, template: str | None) -> str:
        name = "kp_test_" + secrets.token_hex(6)
        connection = await asyncpg.connect(ADMIN_DSN)
        try:
            clause = f" TEMPLATE {template}" if template else ""
            await connection.execute(f"CREATE DATABASE {name}{clause}")
        finally:
            await connection.close()
        self.created.append(name)
        return name

    async def _migrate(self, name: str) -> None:
        database = Database(self._url(name))
        await upgrade_to_head(database)
        await database.close()

    def _url(self, name: str) -> str:
        base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        return f"{base}/{name}"

    def drop_all(self) -> None:
        """Drop every database made, several at a time: each DROP waits for a checkpoint,
        and checkpoints requested together are done once (~0.3 s a database one by one)."""
        names = list(self.created)

        async def _drop_some() -> None:
            connection = await asyncpg.connect(ADMIN_DSN)
            try:
                while names:
                    await connection.execute(f"DROP DATABASE IF EXISTS {names.pop()} WITH (FORCE)")
            finally:
                await connection.close()

        async def _drop() -> None:
            await asyncio.gather(*(_drop_some() for _ in range(min(DROPPERS, len(names)))))

        if names:
            asyncio.run(_drop())
