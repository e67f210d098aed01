"""A project's per-model rate limits and its model permissions (allow or deny list).

Both are columns of the project row, so the gateway reads them with the key it resolves
(within the key cache's second) and the limits engine takes a model's limits in the same
atomic reservation as the key's and the project's.
"""

from __future__ import annotations

from typing import Any, Literal

from keyplane.audit.actor import Actor
from keyplane.audit.log import record
from keyplane.clock import Clock, system_clock
from keyplane.errors import NotFoundError, ValidationFailedError
from keyplane.keys import policy
from keyplane.limits.policy import (
    ModelLimits,
    limits_of_model,
    merge_model_limits,
    model_limits_from_json,
)
from keyplane.services.projects import get_project
from keyplane.store.database import Database
from keyplane.store.models import Project

PermissionMode = Literal["allow_list", "deny_list"]
MODES = ("allow_list", "deny_list")
RATE_LIMIT_PREFIX = "rl-"


def rate_limit_id(model: str) -> str:
    """OpenAI's ``rl-<model>`` id of one model's limits."""
    return f"{RATE_LIMIT_PREFIX}{model}"


def model_of(limit_id: str) -> str:
    if not limit_id.startswith(RATE_LIMIT_PREFIX) or len(limit_id) == len(RATE_LIMIT_PREFIX):
        raise NotFoundError(
            f"No rate limit with id '{limit_id}'; ids are 'rl-<model>', e.g. rl-gpt-4o.",
            param="rate_limit_id",
        )
    return policy.clean_models([limit_id[len(RATE_LIMIT_PREFIX) :]])[0]


class ModelAccessService:
    def __init__(self, database: Database, *, clock: Clock = system_clock) -> None:
        self.db = database
        self.clock = clock

    async def rate_limits(self, *, organization_id: str, project_id: str) -> dict[str, ModelLimits]:
        """Every model the project limits, by name, in name order."""
        async with self.db.session() as session:
            project = await get_project(
                session, organization_id=organization_id, project_id=project_id
            )
        return dict(sorted(model_limits_from_json(project.model_rate_limits).items()))

    async def set_rate_limit(
        self,
        *,
        organization_id: str,
        project_id: str,
        model: str,
        changes: dict[str, Any],
        actor: Actor,
    ) -> ModelLimits:
        """Change one model's limits; a model left with none is dropped from the project."""
        async with self.db.session() as session, session.begin():
            project = await get_project(
                session, organization_id=organization_id, project_id=project_id
            )
            current = limits_of_model(project.model_rate_limits, model) or ModelLimits()
            wanted = merge_model_limits(current, changes)
            if wanted != current:
                stored = dict(project.model_rate_limits or {})
                if wanted == ModelLimits():
                    stored.pop(model, None)
                else:
                    stored[model] = wanted.to_json()
                project.model_rate_limits = stored
                record(
                    session,
                    organization_id=organization_id,
                    type="rate_limit.updated" if wanted != ModelLimits() else "rate_limit.deleted",
                    actor=actor,
                    target_type="rate_limit",
                    target_id=rate_limit_id(model)[:40],
                    data={
                        "project_id": project_id,
                        "model": model,
                        "changes_requested": wanted.to_json(),
                    },
                )
        return wanted

    async def permissions(self, *, organization_id: str, project_id: str) -> Project:
        async with self.db.session() as session:
            return await get_project(
                session, organization_id=organization_id, project_id=project_id
            )

    async def set_permissions(
        self,
        *,
        organization_id: str,
        project_id: str,
        mode: str | None,
        model_ids: list[str],
        actor: Actor,
    ) -> Project:
        """Set the project's allow or deny list; ``mode=None`` removes it (every model)."""
        if mode is not None and mode not in MODES:
            raise ValidationFailedError("mode must be allow_list or deny_list.", param="mode")
        models = policy.clean_models(model_ids) if mode is not None else []
        async with self.db.session() as session, session.begin():
            project = await get_project(
                session, organization_id=organization_id, project_id=project_id
            )
            before = (project.model_permissions_mode, list(project.model_ids or []))
            if before != (mode, models):
                project.model_permissions_mode = mode
                project.model_ids = models
                record(
                    session,
                    organization_id=organization_id,
                    type="project.model_permissions_updated",
                    actor=actor,
                    target_type="project",
                    target_id=project.id,
                    data={
                        "project_id": project.id,
                        "changes_requested": {
                            "model_permissions": {"mode": mode, "model_ids": models}
                        },
                    },
                )
        return project
