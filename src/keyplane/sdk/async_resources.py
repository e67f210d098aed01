"""The asyncio client's endpoint groups: the twins of ``resources``, with awaitable calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Unpack

from keyplane.sdk import calls
from keyplane.sdk.calls import AuditQuery, KeyChanges, KeySettings, Moment, ReportQuery
from keyplane.sdk.models import (
    AdminKey,
    ApiKey,
    AuditEvent,
    CreatedAdminKey,
    CreatedKey,
    Deleted,
    Page,
    Project,
)
from keyplane.sdk.pagination import AsyncSend, async_auto_paging
from keyplane.sdk.reports import Bucket, CompletionsUsage, Cost, EmbeddingsUsage, ReportPage
from keyplane.sdk.verdict import VerifyResult


class Resource:
    def __init__(self, send: AsyncSend) -> None:
        self._send = send


class Projects(Resource):
    """``/v1/organization/projects``."""

    async def list(
        self, *, limit: int = 20, after: str | None = None, include_archived: bool = False
    ) -> Page[Project]:
        return await self._send(
            calls.list_projects(limit=limit, after=after, include_archived=include_archived)
        )

    def iter(
        self, *, include_archived: bool = False, page_size: int = 100
    ) -> AsyncIterator[Project]:
        """Every project, fetching pages as the loop goes."""
        return async_auto_paging(
            self._send,
            lambda after: calls.list_projects(
                limit=page_size, after=after, include_archived=include_archived
            ),
        )

    async def create(self, name: str) -> Project:
        return await self._send(calls.create_project(name))

    async def get(self, project_id: str) -> Project:
        return await self._send(calls.get_project(project_id))

    async def rename(self, project_id: str, name: str) -> Project:
        return await self._send(calls.rename_project(project_id, name))

    async def archive(self, project_id: str) -> Project:
        return await self._send(calls.archive_project(project_id))


class Keys(Resource):
    """``/v1/organization/projects/{project_id}/api_keys`` and ``/v1/keys/verify``."""

    async def list(
        self,
        project_id: str,
        *,
        limit: int = 20,
        after: str | None = None,
        include_revoked: bool = False,
    ) -> Page[ApiKey]:
        call = calls.list_keys(
            project_id, limit=limit, after=after, include_revoked=include_revoked
        )
        return await self._send(call)

    def iter(
        self, project_id: str, *, include_revoked: bool = False, page_size: int = 100
    ) -> AsyncIterator[ApiKey]:
        """Every key of the project, fetching pages as the loop goes."""
        return async_auto_paging(
            self._send,
            lambda after: calls.list_keys(
                project_id, limit=page_size, after=after, include_revoked=include_revoked
            ),
        )

    async def create(
        self, project_id: str, *, name: str, kind: str = "project", **settings: Unpack[KeySettings]
    ) -> CreatedKey:
        """A new key; its secret is in ``value`` of this answer only."""
        return await self._send(calls.create_key(project_id, name=name, kind=kind, **settings))

    async def get(self, project_id: str, key_id: str) -> ApiKey:
        return await self._send(calls.get_key(project_id, key_id))

    async def update(self, project_id: str, key_id: str, **changes: Unpack[KeyChanges]) -> ApiKey:
        return await self._send(calls.update_key(project_id, key_id, **changes))

    async def revoke(self, project_id: str, key_id: str) -> Deleted:
        return await self._send(calls.revoke_key(project_id, key_id))

    async def rotate(
        self,
        project_id: str,
        key_id: str,
        *,
        grace_period_seconds: int = 0,
        idempotency_key: str | None = None,
    ) -> CreatedKey:
        """A new secret for the same key id; the old one lasts ``grace_period_seconds``."""
        call = calls.rotate_key(
            project_id,
            key_id,
            grace_period_seconds=grace_period_seconds,
            idempotency_key=idempotency_key,
        )
        return await self._send(call)

    async def verify(
        self, key: str, *, scopes: Sequence[str] = (), cost: int | None = None
    ) -> VerifyResult:
        """Ask the server about ``key``, uncached; ``Verifier`` adds a cache and local checks."""
        return await self._send(calls.verify_key(key, scopes=scopes, cost=cost))


class AdminKeys(Resource):
    """``/v1/organization/admin_api_keys``."""

    async def list(self, *, limit: int = 20, after: str | None = None) -> Page[AdminKey]:
        return await self._send(calls.list_admin_keys(limit=limit, after=after))

    def iter(self, *, page_size: int = 100) -> AsyncIterator[AdminKey]:
        return async_auto_paging(
            self._send, lambda after: calls.list_admin_keys(limit=page_size, after=after)
        )

    async def create(self, name: str) -> CreatedAdminKey:
        return await self._send(calls.create_admin_key(name))

    async def get(self, key_id: str) -> AdminKey:
        return await self._send(calls.get_admin_key(key_id))

    async def revoke(self, key_id: str) -> Deleted:
        return await self._send(calls.revoke_admin_key(key_id))


class AuditLogs(Resource):
    """``/v1/organization/audit_logs``, newest first."""

    async def list(
        self, *, limit: int = 20, after: str | None = None, **filters: Unpack[AuditQuery]
    ) -> Page[AuditEvent]:
        return await self._send(calls.list_audit_logs(limit=limit, after=after, **filters))

    def iter(
        self, *, page_size: int = 100, **filters: Unpack[AuditQuery]
    ) -> AsyncIterator[AuditEvent]:
        return async_auto_paging(
            self._send,
            lambda after: calls.list_audit_logs(limit=page_size, after=after, **filters),
        )


class Usage(Resource):
    """Usage and cost reports, in OpenAI's Administration API shapes."""

    async def completions(
        self, start_time: Moment, *, page: str | None = None, **query: Unpack[ReportQuery]
    ) -> ReportPage[CompletionsUsage]:
        return await self._send(calls.usage_completions(start_time, page=page, **query))

    async def embeddings(
        self, start_time: Moment, *, page: str | None = None, **query: Unpack[ReportQuery]
    ) -> ReportPage[EmbeddingsUsage]:
        return await self._send(calls.usage_embeddings(start_time, page=page, **query))

    async def costs(
        self, start_time: Moment, *, page: str | None = None, **query: Unpack[ReportQuery]
    ) -> ReportPage[Cost]:
        return await self._send(calls.costs(start_time, page=page, **query))

    def iter_completions(
        self, start_time: Moment, **query: Unpack[ReportQuery]
    ) -> AsyncIterator[Bucket[CompletionsUsage]]:
        """Every bucket from ``start_time`` on, fetching pages as the loop goes."""
        return async_auto_paging(
            self._send, lambda page: calls.usage_completions(start_time, page=page, **query)
        )

    def iter_embeddings(
        self, start_time: Moment, **query: Unpack[ReportQuery]
    ) -> AsyncIterator[Bucket[EmbeddingsUsage]]:
        return async_auto_paging(
            self._send, lambda page: calls.usage_embeddings(start_time, page=page, **query)
        )

    def iter_costs(
        self, start_time: Moment, **query: Unpack[ReportQuery]
    ) -> AsyncIterator[Bucket[Cost]]:
        return async_auto_paging(
            self._send, lambda page: calls.costs(start_time, page=page, **query)
        )
