"""Migrations: upgrade to head on an empty database, then autogenerate finds no difference."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from keyplane.store.database import Database
from keyplane.store.migrate import upgrade_to_head
from keyplane.store.models import Base
from support.postgres import PostgresDatabases


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    return await postgres.empty()


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_to_head_then_autogenerate_finds_no_difference(empty_url: str) -> None:
    database = Database(empty_url)
    try:
        await upgrade_to_head(database)
        await upgrade_to_head(database)  # a second run is a no-op
        async with database.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            differences = await connection.run_sync(_differences)
    finally:
        await database.close()
    assert set(Base.metadata.tables) <= tables
    assert differences == []


def test_head_is_read_from_the_files_as_alembic_sees_it() -> None:
    from alembic.script import ScriptDirectory

    from keyplane.store.migrate import alembic_config, head_revision

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
