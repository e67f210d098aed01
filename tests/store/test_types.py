"""Column types: typed values in Python, the same strings and JSON in the store."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite

from keyplane.store.database import Database
from keyplane.store.models import ApiKey, Organization, Project
from keyplane.store.types import BudgetType, RateLimitsType, StrEnumType
from keyplane.values.kinds import KeyKind, OwnerType, PermissionMode, ProjectStatus, Role
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


def test_an_enum_column_binds_an_enum_or_its_string_and_refuses_others() -> None:
    roles = StrEnumType(Role, 20)
    assert roles.process_bind_param(Role.OWNER, SQLITE) == "owner"
    assert roles.process_bind_param("reader", SQLITE) == "reader"
    with pytest.raises(ValueError, match="boss"):
        roles.process_bind_param("boss", SQLITE)


async def test_typed_values_are_stored_as_the_strings_and_json_they_always_were(
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
                kind=KeyKind.SERVICE_ACCOUNT,
                name="k",
                redacted_value="kp_svc_...",
                owner_type=OwnerType.SERVICE_ACCOUNT,
                rate_limits=None,  # set, so JSON null, as a plain JSON column stores it
                budget=Budget(25_000_000, Period.DAY, (50,)),
            )
            session.add(key)
        async with database.engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT kind, owner_type, permissions_mode, rate_limits IS NULL, budget "
                        "FROM api_keys"
                    )
                )
            ).one()
            status, budget = (
                await connection.execute(text("SELECT status, budget IS NULL FROM projects"))
            ).one()
        assert tuple(row[:4]) == ("svc", "service_account", "all", False)
        stored_budget = row[4] if isinstance(row[4], dict) else json.loads(row[4])
        assert stored_budget == {
            "limit_micro_usd": 25_000_000,
            "period": "day",
            "alert_thresholds": [50],
        }
        assert (status, bool(budget)) == ("active", True)  # never set: SQL NULL

        async with database.session() as session:
            loaded = (await session.execute(select(ApiKey))).scalar_one()
            loaded_project = (await session.execute(select(Project))).scalar_one()
        assert loaded.kind is KeyKind.SERVICE_ACCOUNT
        assert loaded.permissions_mode is PermissionMode.ALL
        assert loaded.rate_limits is None
        assert loaded.budget == Budget(25_000_000, Period.DAY, (50,))
        assert loaded_project.status is ProjectStatus.ACTIVE
        assert loaded_project.rate_limits == RateLimits(3)
    finally:
        await database.close()
