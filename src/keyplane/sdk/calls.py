"""Each admin API endpoint as a ``Call``: what to send and how to read the answer.

Written once here, sent by ``Client`` (blocking) and ``AsyncClient`` (asyncio) alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypedDict, TypeVar

from pydantic import BaseModel

from keyplane.sdk.models import (
    AdminKey,
    ApiKey,
    AuditEvent,
    CreatedAdminKey,
    CreatedKey,
    Deleted,
    Page,
    Permissions,
    Project,
)
from keyplane.sdk.reports import CompletionsUsage, Cost, EmbeddingsUsage, ReportPage
from keyplane.sdk.verdict import VerifyResult

T = TypeVar("T", covariant=True)
Moment = int | datetime

PROJECTS = "/v1/organization/projects"
ADMIN_KEYS = "/v1/organization/admin_api_keys"


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request and the parser of its successful answer's JSON body."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class KeySettings(TypedDict, total=False):
    """What a key may do; every field optional. ``expires_at=None`` clears an expiry."""

    permissions: Permissions | Mapping[str, Any]
    allowed_models: Sequence[str]
    allowed_ips: Sequence[str]
    expires_at: Moment | None
    metadata: Mapping[str, str]
    enabled: bool


class KeyChanges(KeySettings, total=False):
    name: str


class ReportQuery(TypedDict, total=False):
    """Filters of the usage and cost reports, as in OpenAI's Administration API."""

    end_time: Moment
    bucket_width: Literal["1m", "1h", "1d"]
    project_ids: Sequence[str]
    user_ids: Sequence[str]
    api_key_ids: Sequence[str]
    models: Sequence[str]
    group_by: Sequence[str]
    batch: bool
    limit: int


class AuditQuery(TypedDict, total=False):
    event_types: Sequence[str]
    actor_ids: Sequence[str]
    target_id: str
    effective_at_gte: Moment
    effective_at_lt: Moment
    before: str


# --- projects -----------------------------------------------------------------------------


def list_projects(
    *, limit: int = 20, after: str | None = None, include_archived: bool = False
) -> Call[Page[Project]]:
    params = query(limit=limit, after=after, include_archived=include_archived)
    return Call("GET", PROJECTS, Page[Project].model_validate, params=params)


def create_project(name: str) -> Call[Project]:
    return Call("POST", PROJECTS, Project.model_validate, json={"name": name})


def get_project(project_id: str) -> Call[Project]:
    return Call("GET", f"{PROJECTS}/{project_id}", Project.model_validate)


def rename_project(project_id: str, name: str) -> Call[Project]:
    return Call("POST", f"{PROJECTS}/{project_id}", Project.model_validate, json={"name": name})


def archive_project(project_id: str) -> Call[Project]:
    return Call("POST", f"{PROJECTS}/{project_id}/archive", Project.model_validate)


# --- project keys -------------------------------------------------------------------------


def _keys(project_id: str) -> str:
    return f"{PROJECTS}/{project_id}/api_keys"


def list_keys(
    project_id: str, *, limit: int = 20, after: str | None = None, include_revoked: bool = False
) -> Call[Page[ApiKey]]:
    params = query(limit=limit, after=after, include_revoked=include_revoked)
    return Call("GET", _keys(project_id), Page[ApiKey].model_validate, params=params)


def create_key(
    project_id: str, *, name: str, kind: str = "project", **settings: Any
) -> Call[CreatedKey]:
    body = {"name": name, "kind": kind, **body_of(settings)}
    return Call("POST", _keys(project_id), CreatedKey.model_validate, json=body)


def get_key(project_id: str, key_id: str) -> Call[ApiKey]:
    return Call("GET", f"{_keys(project_id)}/{key_id}", ApiKey.model_validate)


def update_key(project_id: str, key_id: str, **changes: Any) -> Call[ApiKey]:
    path = f"{_keys(project_id)}/{key_id}"
    return Call("POST", path, ApiKey.model_validate, json=body_of(changes))


def revoke_key(project_id: str, key_id: str) -> Call[Deleted]:
    return Call("DELETE", f"{_keys(project_id)}/{key_id}", Deleted.model_validate)


def rotate_key(
    project_id: str,
    key_id: str,
    *,
    grace_period_seconds: int = 0,
    idempotency_key: str | None = None,
) -> Call[CreatedKey]:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    return Call(
        "POST",
        f"{_keys(project_id)}/{key_id}/rotate",
        CreatedKey.model_validate,
        json={"grace_period_seconds": grace_period_seconds},
        headers=headers,
    )


def verify_key(
    key: str, *, scopes: Sequence[str] = (), cost: int | None = None
) -> Call[VerifyResult]:
    body: dict[str, Any] = {"key": key, "scopes": list(scopes)}
    if cost is not None:
        body["cost"] = cost
    return Call("POST", "/v1/keys/verify", VerifyResult.model_validate, json=body)


# --- admin keys ---------------------------------------------------------------------------


def list_admin_keys(*, limit: int = 20, after: str | None = None) -> Call[Page[AdminKey]]:
    params = query(limit=limit, after=after)
    return Call("GET", ADMIN_KEYS, Page[AdminKey].model_validate, params=params)


def create_admin_key(name: str) -> Call[CreatedAdminKey]:
    return Call("POST", ADMIN_KEYS, CreatedAdminKey.model_validate, json={"name": name})


def get_admin_key(key_id: str) -> Call[AdminKey]:
    return Call("GET", f"{ADMIN_KEYS}/{key_id}", AdminKey.model_validate)


def revoke_admin_key(key_id: str) -> Call[Deleted]:
    return Call("DELETE", f"{ADMIN_KEYS}/{key_id}", Deleted.model_validate)


# --- audit log and reports ----------------------------------------------------------------


def list_audit_logs(
    *, limit: int = 20, after: str | None = None, **filters: Any
) -> Call[Page[AuditEvent]]:
    gte, lt = filters.pop("effective_at_gte", None), filters.pop("effective_at_lt", None)
    params = query(limit=limit, after=after, **filters)
    params.update(query(**{"effective_at[gte]": gte, "effective_at[lt]": lt}))
    return Call(
        "GET", "/v1/organization/audit_logs", Page[AuditEvent].model_validate, params=params
    )


def usage_completions(
    start_time: Moment, *, page: str | None = None, **filters: Any
) -> Call[ReportPage[CompletionsUsage]]:
    return _report("usage/completions", ReportPage[CompletionsUsage], start_time, page, filters)


def usage_embeddings(
    start_time: Moment, *, page: str | None = None, **filters: Any
) -> Call[ReportPage[EmbeddingsUsage]]:
    return _report("usage/embeddings", ReportPage[EmbeddingsUsage], start_time, page, filters)


def costs(start_time: Moment, *, page: str | None = None, **filters: Any) -> Call[ReportPage[Cost]]:
    return _report("costs", ReportPage[Cost], start_time, page, filters)


Report = TypeVar("Report", bound=BaseModel)


def _report(
    name: str, model: type[Report], start: Moment, page: str | None, filters: dict[str, Any]
) -> Call[Report]:
    params = query(start_time=start, page=page, **filters)
    return Call("GET", f"/v1/organization/{name}", model.model_validate, params=params)


# --- encoding -----------------------------------------------------------------------------


def query(**values: Any) -> dict[str, Any]:
    """Query parameters the way OpenAI's SDK sends them: lists as ``name[]``, no ``None``."""
    params: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set | frozenset):
            params[f"{name}[]"] = [plain(v) for v in value]
        else:
            params[name] = plain(value)
    return params


def body_of(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON body from keyword arguments: models dumped, datetimes as Unix seconds."""
    return {name: plain(value) for name, value in fields.items()}


def plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list | tuple):
        return list(value)
    return value
