"""One statement run for many rows, a batch at a time.

Writes of many rows (usage flushes, roll-ups, ``last_used_at``) run one statement, compiled
once and cached, over their rows as parameters (the driver's executemany: in its thread for
SQLite, pipelined by asyncpg). A statement with the rows as literals, or one per row, was
compiled or awaited anew for each: a flush of 2,000 usage rows stalled the event loop, and so
every call in flight, for 211 ms (docs/benchmarks.md, "The tail").
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

# Rows per executemany: each batch is prepared on the event loop (asyncpg's encoding too), so
# a batch is a stall of every call in flight; 200 keeps it to a few ms.
BATCH_ROWS = 200


async def execute_in_batches(
    session: AsyncSession, statement: Any, rows: Sequence[dict[str, Any]]
) -> None:
    """Run ``statement`` for each of ``rows``, in order, ``BATCH_ROWS`` at a time (the event
    loop runs between batches)."""
    for start in range(0, len(rows), BATCH_ROWS):
        await session.execute(statement, list(rows[start : start + BATCH_ROWS]))


@functools.cache
def adding_upsert(
    table: Table, conflict: tuple[str, ...], summed: tuple[str, ...], dialect: str
) -> Any:
    """An insert of one row that, where ``conflict`` finds the row already there, adds the
    ``summed`` columns to it instead; built (and compiled) once per table and dialect."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(conflict),
        set_={name: table.c[name] + statement.excluded[name] for name in summed},
    )
