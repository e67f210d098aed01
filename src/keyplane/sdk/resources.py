"""The blocking client's endpoint groups: ``client.projects``, ``client.keys``, ..."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
from keyplane.sdk.pagination import Send, auto_paging
from keyplane.sdk.reports import Bucket, CompletionsUsage, Cost, EmbeddingsUsage, ReportPage
from keyplane.sdk.verdict import VerifyResult


class Resource:
    def __init__(self, send: Send) -> None:
        self._send = send


class Projects(Resource):
    """``/v1/organization/projects``."""

    def list(
        self, *, limit: int = 20, after: str | None = None, include_archived: bool = False
    ) -> Page[Project]:
        return self._send(
            calls.list_projects(limit=limit, after=after, include_archived=include_archived)
        )

    def iter(self, *, include_archived: bool = False, page_size: int = 100) -> Iterator[Project]:
        """Every project, fetching pages as the loop goes."""
        return auto_paging(
            self._send,
            lambda after: calls.list_projects(
                limit=page_size, after=after, include_archived=include_archived
            ),
        )

    def create(self, name: str) -> Project:
        return self._send(calls.create_project(name))

    def get(self, project_id: str) -> Project:
        return self._send(calls.get_project(project_id))

    def rename(self, project_id: str, name: str) -> Project:
        return self._send(calls.rename_project(project_id, name))

    def archive(self, project_id: str) -> Project:
        return self._send(calls.archive_project(project_id))


class Keys(Resource):
    """``/v1/organization/projects/{project_id}/api_keys`` and ``/v1/keys/verify``."""

    def list(
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
        return self._send(call)

    def iter(
        self, project_id: str, *, include_revoked: bool = False, page_size: int = 100
    ) -> Iterator[ApiKey]:
        """Every key of the project, fetching pages as the loop goes."""
        return auto_paging(
            self._send,
            lambda after: calls.list_keys(
                project_id, limit=page_size, after=after, include_revoked=include_revoked
            ),
        )

    def create(
        self, project_id: str, *, name: str, kind: str = "project", **settings: Unpack[KeySettings]
    ) -> CreatedKey:
        """A new key; its secret is in ``value`` of this answer only."""
        return self._send(calls.create_key(project_id, name=name, kind=kind, **settings))

    def get(self, project_id: str, key_id: str) -> ApiKey:
        return self._send(calls.get_key(project_id, key_id))

    def update(self, project_id: str, key_id: str, **changes: Unpack[KeyChanges]) -> ApiKey:
        return self._send(calls.update_key(project_id, key_id, **changes))

    def revoke(self, project_id: str, key_id: str) -> Deleted:
        return self._send(calls.revoke_key(project_id, key_id))

    def rotate(
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
        return self._send(call)

    def verify(
        self, key: str, *, scopes: Sequence[str] = (), cost: int | None = None
    ) -> VerifyResult:
        """Ask the server about ``key``, uncached; ``Verifier`` adds a cache and local checks."""
        return self._send(calls.verify_key(key, scopes=scopes, cost=cost))


class AdminKeys(Resource):
    """``/v1/organization/admin_api_keys``."""

    def list(self, *, limit: int = 20, after: str | None = None) -> Page[AdminKey]:
        return self._send(calls.list_admin_keys(limit=limit, after=after))

    def iter(self, *, page_size: int = 100) -> Iterator[AdminKey]:
        return auto_paging(
            self._send, lambda after: calls.list_admin_keys(limit=page_size, after=after)
        )

    def create(self, name: str) -> CreatedAdminKey:
        return self._send(calls.create_admin_key(name))

    def get(self, key_id: str) -> AdminKey:
        return self._send(calls.get_admin_key(key_id))

    def revoke(self, key_id: str) -> Deleted:
        return self._send(calls.revoke_admin_key(key_id))


class AuditLogs(Resource):
    """``/v1/organization/audit_logs``, newest first."""

    def list(
        self, *, limit: int = 20, after: str | None = None, **filters: Unpack[AuditQuery]
    ) -> Page[AuditEvent]:
        return self._send(calls.list_audit_logs(limit=limit, after=after, **filters))

    def iter(self, *, page_size: int = 100, **filters: Unpack[AuditQuery]) -> Iterator[AuditEvent]:
        return auto_paging(
            self._send,
            lambda after: calls.list_audit_logs(limit=page_size, after=after, **filters),
        )


class Usage(Resource):
    """Usage and cost reports, in OpenAI's Administration API shapes."""

    def completions(
        self, start_time: Moment, *, page: str | None = None, **query: Unpack[ReportQuery]
    ) -> ReportPage[CompletionsUsage]:
        return self._send(calls.usage_completions(start_time, page=page, **query))

    def embeddings(
        self, start_time: Moment, *, page: str | None = None, **query: Unpack[ReportQuery]
    ) -> ReportPage[EmbeddingsUsage]:
        return self._send(calls.usage_embeddings(start_time, page=page, **query))

    def costs(
        self, start_time: Moment, *, page: str | None = None, **query: Unpack[ReportQuery]
    ) -> ReportPage[Cost]:
        return self._send(calls.costs(start_time, page=page, **query))

    def iter_completions(
        self, start_time: Moment, **query: Unpack[ReportQuery]
    ) -> Iterator[Bucket[CompletionsUsage]]:
        """Every bucket from ``start_time`` on, fetching pages as the loop goes."""
        return auto_paging(
            self._send, lambda page: calls.usage_completions(start_time, page=page, **query)
        )

    def iter_embeddings(
        self, start_time: Moment, **query: Unpack[ReportQuery]
    ) -> Iterator[Bucket[EmbeddingsUsage]]:
        return auto_paging(
            self._send, lambda page: calls.usage_embeddings(start_time, page=page, **query)
        )

    def iter_costs(
        self, start_time: Moment, **query: Unpack[ReportQuery]
    ) -> Iterator[Bucket[Cost]]:
        return auto_paging(self._send, lambda page: calls.costs(start_time, page=page, **query))
