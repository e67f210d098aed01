"""Migrations: upgrade to head on an empty database, then autogenerate finds no difference."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from keyplane.store.database import Database
from keyplane.store.migrate import head_revision, upgrade_to_head
from keyplane.store.models import Base, UsageDay
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

    from keyplane.store.migrate import alembic_config

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


# A history that branches after "base" and merges again, written every way Alembic allows.
BRANCH_AND_MERGE = {
    "base.py": "revision: str = 'base'\ndown_revision: str | None = None\n",
    "left.py": 'revision = "left"\ndown_revision = "base"\n',
    "right.py": "revision: str = 'right'\ndown_revision: str | None = 'base'\n",
    "merge.py": 'revision = "merge"\ndown_revision = ("left", "right")\n',
}


def versions(tmp_path: Path, files: dict[str, str]) -> Path:
    directory = tmp_path / "versions"
    directory.mkdir()
    for name, body in files.items():
        (directory / name).write_text(
            f'"""{name}"""\n\n{body}\n\ndef upgrade() -> None:\n    pass\n'
        )
    return directory


@pytest.mark.parametrize("parents", ['("left", "right")', "['left', 'right']"])
def test_if_branches_are_merged_then_the_merge_is_the_one_head(
    tmp_path: Path, parents: str
) -> None:
    from alembic.script import ScriptDirectory

    merge = f'revision = "merge"\ndown_revision = {parents}\n'
    directory = versions(tmp_path, {**BRANCH_AND_MERGE, "merge.py": merge})
    assert head_revision(directory) == "merge"
    assert ScriptDirectory(str(tmp_path)).get_current_head() == "merge"


def test_if_branches_are_not_merged_then_two_heads_raise(tmp_path: Path) -> None:
    unmerged = {name: body for name, body in BRANCH_AND_MERGE.items() if name != "merge.py"}
    with pytest.raises(RuntimeError, match=r"one migration head .* found \['left', 'right'\]"):
        head_revision(versions(tmp_path, unmerged))


def test_reading_the_head_imports_no_alembic() -> None:
    probe = (
        "import sys; from keyplane.store.migrate import head_revision; head_revision(); "
        "print('alembic' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


def _upgrade_to(revision: str) -> Any:
    def upgrade(connection: Connection) -> None:
        from alembic import command

        from keyplane.store.migrate import alembic_config

        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    return upgrade


async def test_usage_written_before_0003_is_kept_and_marked_as_the_one_upstreams(
    empty_url: str,
) -> None:
    from sqlalchemy import text

    database = Database(empty_url)
    columns = "bucket_start, organization_id, project_id, api_key_id, model, endpoint, " + (
        "requests, error_requests, input_tokens, output_tokens, cached_tokens, "
        "cost_micro_usd, unpriced_requests, latency_ms_total"
    )
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(_upgrade_to("0002"))
            for endpoint, model in (("chat.completions", "gpt-4o"), ("verify", "")):
                await connection.execute(
                    text(
                        f"INSERT INTO usage_buckets ({columns}) VALUES ('2026-11-30 10:00:00', "  # noqa: S608
                        "'org_1', 'proj_1', 'key_1', :model, :endpoint, "
                        "3, 1, 100, 40, 10, 2500, 0, 90)"
                    ),
                    {"model": model, "endpoint": endpoint},
                )
        await upgrade_to_head(database)
        async with database.engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT endpoint, provider, service_tier, requests, input_tokens, "
                        "output_tokens, cost_micro_usd, estimated_requests, width "
                        "FROM usage_buckets ORDER BY endpoint"
                    )
                )
            ).all()
    finally:
        await database.close()
    assert [tuple(row) for row in rows] == [
        ("chat.completions", "openai", "", 3, 100, 40, 2500, 0, 60),
        ("verify", "", "", 3, 100, 40, 2500, 0, 60),
    ]


async def test_usage_written_before_0006_is_summed_into_its_days(empty_url: str) -> None:
    from sqlalchemy import insert

    from keyplane.store.models import UsageBucket
    from usage.report_rows import row

    nov_29 = int(datetime(2026, 11, 29, tzinfo=UTC).timestamp())
    rows = [  # minutes, an hour and a day of one project and model, two keys, two days
        row(nov_29, organization_id="org_1", requests=5, cost_micro_usd=1000) | {"width": 86400},
        row(nov_29 + 86400, organization_id="org_1", requests=2, cost_micro_usd=20)
        | {"width": 3600},
        row(nov_29 + 2 * 86400 - 60, organization_id="org_1", api_key_id="key_2", cost_micro_usd=3)
        | {"width": 60},
        row(nov_29 + 86400 + 36000, organization_id="org_1", requests=4, cost_micro_usd=400)
        | {"width": 60},
    ]
    database = Database(empty_url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(_upgrade_to("0005"))
            await connection.execute(insert(UsageBucket), rows)
        await upgrade_to_head(database)
        query = select(UsageDay.day, UsageDay.requests, UsageDay.cost_micro_usd)
        async with database.session() as session:
            days = (await session.execute(query.order_by(UsageDay.day))).all()
    finally:
        await database.close()
    assert [(day.isoformat(), requests, cost) for day, requests, cost in days] == [
        ("2026-11-29T00:00:00+00:00", 5, 1000),
        ("2026-11-30T00:00:00+00:00", 7, 423),
    ]
