"""Apply Alembic migrations programmatically, on the caller's async connection.

Alembic is imported only when there is something to migrate: a server whose store is
already at head starts faster and keeps ~12 MB less resident memory.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from keyplane.store.database import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
VERSIONS = MIGRATIONS / "versions"


def alembic_config(url: str = "") -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


@cache
def head_revision(directory: Path = VERSIONS) -> str:
    """The newest revision, read from the migration files without importing Alembic.

    Raises:
        RuntimeError: the files have no single head, or one names no revision.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("__init__"):
            continue  # Alembic skips it too
        revision, down = _revision_of(path)
        revisions.add(revision)
        parents.update(down)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"expected one migration head in {directory}, found {sorted(heads)}")
    return heads.pop()


def _revision_of(path: Path) -> tuple[str, tuple[str, ...]]:
    """A migration's ``revision`` and its parents: ``down_revision`` as a tuple."""
    assigned: dict[str, object] = {}
    for node in ast.parse(path.read_text("utf-8"), filename=str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            try:
                assigned[target.id] = ast.literal_eval(value)
            except ValueError:
                raise RuntimeError(f"{path.name}: {target.id} is not a literal") from None
    revision, down = assigned.get("revision"), assigned.get("down_revision")
    if not isinstance(revision, str):
        raise RuntimeError(f"{path.name}: no revision = '...' string")
    if down is None:
        return revision, ()
    if isinstance(down, str):
        return revision, (down,)
    if isinstance(down, tuple | list) and all(isinstance(parent, str) for parent in down):
        return revision, tuple(down)
    raise RuntimeError(f"{path.name}: down_revision is not a string, a tuple of them or None")


async def current_revision(database: Database) -> str | None:
    """The store's revision, or None when it has never been migrated."""
    try:
        async with database.engine.connect() as connection:
            row = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).first()
    except DBAPIError:
        return None  # no alembic_version table yet
    return None if row is None else str(row[0])


async def upgrade_to_head(database: Database) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already."""
    if await current_revision(database) == head_revision():
        return

    def _upgrade(connection: Connection) -> None:
        from alembic import command

        config = alembic_config(database.url)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with database.engine.begin() as connection:
        await connection.run_sync(_upgrade)
