"""Column types: typed values in Python, the same JSON in the store."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite

from keyplane.store.database import Database
from keyplane.store.models import ApiKey, Organization, Project
from keyplane.store.types import BudgetType, RateLimitsType
from keyplane.values.limits import Budget, Period, RateLimits

SQLITE = sqlite.dialect()


@pytest.mark.parametrize(
    ("stored", "loaded"),
    [
        (None, None),
        ({}, None),
        ({"requests_per_minute": 4}, RateLimits(requests_per_minute=4)),
        (
            {"requests_per_minute": None, "tokens_per_minute": 9, "max_parallel_requests": 2},
            RateLimits(tokens_per_minute=9, max_parallel_requests=2),
        ),
        # All-null is a limit of nothing, as before: it still makes the key a limited one.
        (RateLimits().to_json(), RateLimits()),
    ],
)
def test_rate_limits_load_every_shape_the_store_may_hold(
    stored: dict[str, Any] | None, loaded: RateLimits | None
) -> None:
    assert RateLimitsType().process_result_value(stored, SQLITE) == loaded


@pytest.mark.parametrize(
    ("stored", "loaded"),
    [
        (None, None),
        ({}, None),
        ({"limit_micro_usd": 5}, Budget(5)),
        (
            {"limit_micro_usd": 7, "period": "total", "alert_thresholds": [50, 80]},
            Budget(7, Period.TOTAL, (50, 80)),
        ),
    ],
)
def test_budgets_load_every_shape_the_store_may_hold(
    stored: dict[str, Any] | None, loaded: Budget | None
) -> None:
    assert BudgetType().process_result_value(stored, SQLITE) == loaded


async def test_limits_and_budgets_are_stored_as_the_json_they_always_were(
    database_url: str,
) -> None:
    database = Database(database_url)
    try:
        async with database.session() as session, session.begin():
            org = Organization(name="org")
            session.add(org)
            await session.flush()
            project = Project(organization_id=org.id, name="p", rate_limits=RateLimits(3))
            session.add(project)
            await session.flush()
            key = ApiKey(
                organization_id=org.id,
                project_id=project.id,
                kind="svc",
                name="k",
                redacted_value="kp_svc_...",
                owner_type="service_account",
                rate_limits=None,  # set, so JSON null, as a plain JSON column stores it
                budget=Budget(25_000_000, Period.DAY, (50,)),
            )
            session.add(key)
        async with database.engine.connect() as connection:
            row = (
                await connection.execute(text("SELECT rate_limits IS NULL, budget FROM api_keys"))
            ).one()
            project_budget_is_null = (
                await connection.execute(text("SELECT budget IS NULL FROM projects"))
            ).scalar_one()
        assert not row[0]  # JSON null
        stored_budget = row[1] if isinstance(row[1], dict) else json.loads(row[1])
        assert stored_budget == {
            "limit_micro_usd": 25_000_000,
            "period": "day",
            "alert_thresholds": [50],
        }
        assert project_budget_is_null  # never set: SQL NULL

        async with database.session() as session:
            loaded = (await session.execute(select(ApiKey))).scalar_one()
            loaded_project = (await session.execute(select(Project))).scalar_one()
        assert loaded.rate_limits is None
        assert loaded.budget == Budget(25_000_000, Period.DAY, (50,))
        assert loaded_project.rate_limits == RateLimits(3)
    finally:
        await database.close()
