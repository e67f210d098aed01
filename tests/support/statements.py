"""The SQL a database runs, recorded for tests that say how many statements a thing takes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NamedTuple

from sqlalchemy import event

from keyplane.store.database import Database


class Statement(NamedTuple):
    sql: str
    many: bool  # run as executemany


@contextlib.contextmanager
def recorded(database: Database) -> Iterator[list[Statement]]:
    """Every statement ``database`` sends while the block runs, in order."""
    seen: list[Statement] = []

    def record(_c: object, _cur: object, sql: str, _p: object, _ctx: object, many: bool) -> None:
        seen.append(Statement(sql, many))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
