"""A project's API keys: the table, create (shown once), edit, rotate and revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from keyplane.errors import ConflictError
from keyplane.keys.permissions import SCOPES
from keyplane.runtime.deps import (
    DatabaseDep,
    KeysDep,
    MembersDep,
    NowDep,
    ProjectsDep,
    RotationDep,
)
from keyplane.services.api_keys import IssuedKey, KeyService
from keyplane.services.key_facts import KeyFactsReader
from keyplane.services.members import MemberService
from keyplane.services.projects import ProjectService
from keyplane.services.sessions import SignedIn
from keyplane.store.models import ApiKey, Project
from keyplane.web import keyform
from keyplane.web.auth import Editor, Viewer, actor_of
from keyplane.web.errors import TAG
from keyplane.web.flash import FlashStore
from keyplane.web.forms import Form
from keyplane.web.keyview import KeyRow, creators
from keyplane.web.routes.projects import visible_project
from keyplane.web.templating import pages_of

router = APIRouter(prefix="/projects/{project_id}", tags=[TAG], include_in_schema=False)
PAGE = 100


@dataclass(frozen=True, slots=True)
class ProjectKeys:
    """A project's keys, as the signed-in person may see them."""

    projects: ProjectService
    keys: KeyService
    members: MemberService
    facts: KeyFactsReader

    async def project(self, me: SignedIn, project_id: str) -> Project:
        return await visible_project(self.projects, me, project_id)

    async def key(self, me: SignedIn, project_id: str, key_id: str) -> tuple[Project, ApiKey]:
        project = await self.project(me, project_id)
        key = await self.keys.get(
            organization_id=me.access.organization_id, project_id=project.id, key_id=key_id
        )
        return project, key

    async def live_key(self, me: SignedIn, project_id: str, key_id: str) -> tuple[Project, ApiKey]:
        """A key that can still change: a revoked one is refused, whatever the link says."""
        project, key = await self.key(me, project_id, key_id)
        if key.revoked_at is not None:
            raise ConflictError(
                f"The key {key.name!r} is revoked: it cannot be edited or rotated. "
                "Create a new key instead."
            )
        return project, key

    async def row(self, me: SignedIn, key: ApiKey, now: datetime) -> KeyRow:
        names = await creators(self.members, me.access.organization_id)
        facts = await self.facts.of([key], now=now)
        return KeyRow.of(key, now=now, creators=names, facts=facts[key.id])


def _project_keys(
    projects: ProjectsDep, keys: KeysDep, members: MembersDep, database: DatabaseDep
) -> ProjectKeys:
    return ProjectKeys(projects, keys, members, KeyFactsReader(database))


ProjectKeysDep = Annotated[ProjectKeys, Depends(_project_keys)]


@router.get("")
async def key_list(
    request: Request,
    project_id: str,
    catalog: ProjectKeysDep,
    now: NowDep,
    me: Viewer,
    after: str | None = None,
    gone: bool = False,
) -> Response:
    notice = None
    if gone:
        notice = (
            "That secret was shown once and is no longer available. Rotate the key for a new one."
        )
    return await _keys_page(request, catalog, now, me, project_id, after=after, notice=notice)


@router.get("/keys/new")
async def new_key_form(
    request: Request, project_id: str, catalog: ProjectKeysDep, me: Viewer
) -> Response:
    me.access.require_writer()
    project = await catalog.project(me, project_id)
    return _key_form(request, me, project, Form(), key=None)


@router.post("/keys")
async def create_key(
    request: Request, project_id: str, catalog: ProjectKeysDep, now: NowDep, me: Editor
) -> Response:
    project = await catalog.project(me, project_id)
    form = await Form.read(request)
    issued = await form.attempt(
        keyform.issue(catalog.keys, me, project, form, actor_of(request, me), now)
    )
    if issued is None:
        return _key_form(request, me, project, form, key=None, status=422)
    return _show_once(request, me, issued, action="created")


@router.get("/keys/{key_id}")
async def key_page(
    request: Request, project_id: str, key_id: str, catalog: ProjectKeysDep, now: NowDep, me: Viewer
) -> Response:
    """The key's form for those who may change it; its facts, read-only, for everyone else."""
    project, key = await catalog.key(me, project_id, key_id)
    row = await catalog.row(me, key, now)
    if me.access.read_only or not row.live:
        return pages_of(request).render(
            request, "key.html", me=me, project=project, row=row, now=now
        )
    return _key_form(request, me, project, Form(), key=key, row=row)


@router.post("/keys/{key_id}")
async def update_key(
    request: Request,
    project_id: str,
    key_id: str,
    catalog: ProjectKeysDep,
    now: NowDep,
    me: Editor,
) -> Response:
    project, key = await catalog.live_key(me, project_id, key_id)
    form = await Form.read(request)
    updated = await form.attempt(
        keyform.update(catalog.keys, me, key, form, actor_of(request, me), now)
    )
    if updated is None:
        row = await catalog.row(me, key, now)
        return _key_form(request, me, project, form, key=key, row=row, status=422)
    return RedirectResponse(f"/projects/{project.id}", status_code=303)


@router.get("/keys/{key_id}/rotate")
async def rotate_form(
    request: Request, project_id: str, key_id: str, catalog: ProjectKeysDep, me: Viewer
) -> Response:
    me.access.require_writer()
    project, key = await catalog.live_key(me, project_id, key_id)
    return _rotate_page(request, me, project, key, Form())


@router.post("/keys/{key_id}/rotate")
async def rotate_key(
    request: Request,
    project_id: str,
    key_id: str,
    catalog: ProjectKeysDep,
    rotation: RotationDep,
    me: Editor,
) -> Response:
    project, key = await catalog.live_key(me, project_id, key_id)
    form = await Form.read(request)
    issued = await form.attempt(keyform.rotate(rotation, me, key, form, actor_of(request, me)))
    if issued is None:
        return _rotate_page(request, me, project, key, form, status=422)
    grace = keyform.grace(form.text("grace"))
    return _show_once(request, me, issued, action="rotated", grace_seconds=grace)


@router.get("/keys/{key_id}/revoke")
async def revoke_form(
    request: Request, project_id: str, key_id: str, catalog: ProjectKeysDep, me: Viewer
) -> Response:
    me.access.require_writer()
    project, key = await catalog.live_key(me, project_id, key_id)
    return pages_of(request).render(request, "revoke.html", me=me, project=project, key=key)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(
    request: Request, project_id: str, key_id: str, catalog: ProjectKeysDep, me: Editor
) -> Response:
    project, key = await catalog.key(me, project_id, key_id)
    await catalog.keys.revoke(
        organization_id=me.access.organization_id,
        project_id=project.id,
        key_id=key.id,
        actor=actor_of(request, me),
    )
    return RedirectResponse(f"/projects/{project.id}", status_code=303)


@router.get("/keys/{key_id}/secret")
async def show_secret(
    request: Request,
    project_id: str,
    key_id: str,
    catalog: ProjectKeysDep,
    now: NowDep,
    me: Viewer,
    f: str = "",
) -> Response:
    """The new secret, once: the flash is gone after this read, and the page is not cached."""
    project, key = await catalog.key(me, project_id, key_id)
    secret = flashes_of(request).pop(me.session_id, f)
    if secret is None or secret.get("key_id") != key.id:
        return RedirectResponse(f"/projects/{project.id}?gone=1", status_code=303)
    return await _keys_page(request, catalog, now, me, project.id, secret=secret)


def _rotate_page(
    request: Request, me: SignedIn, project: Project, key: ApiKey, form: Form, status: int = 200
) -> Response:
    return pages_of(request).render(
        request,
        "rotate.html",
        status=status,
        me=me,
        project=project,
        key=key,
        grace_choices=keyform.GRACE_CHOICES,
        form=form,
    )


def flashes_of(request: Request) -> FlashStore:
    flashes: FlashStore = request.app.state.flashes
    return flashes


def _show_once(
    request: Request, me: SignedIn, issued: IssuedKey, *, action: str, grace_seconds: int = 0
) -> Response:
    key = issued.key
    flash_id = flashes_of(request).put(
        me.session_id,
        {
            "key_id": key.id,
            "name": key.name,
            "value": issued.plaintext,
            "action": action,
            "grace_seconds": grace_seconds,
            "grace_text": dict(keyform.GRACE_CHOICES).get(
                grace_seconds, f"{grace_seconds} seconds"
            ),
        },
    )
    return RedirectResponse(
        f"/projects/{key.project_id}/keys/{key.id}/secret?f={flash_id}", status_code=303
    )


async def _keys_page(
    request: Request,
    catalog: ProjectKeys,
    now: datetime,
    me: SignedIn,
    project_id: str,
    *,
    after: str | None = None,
    notice: str | None = None,
    secret: dict[str, Any] | None = None,
) -> Response:
    project = await catalog.project(me, project_id)
    page = await catalog.keys.list(
        organization_id=me.access.organization_id,
        project_id=project.id,
        limit=PAGE,
        after=after,
        include_revoked=True,
    )
    names = await creators(catalog.members, me.access.organization_id)
    facts = await catalog.facts.of(page.items, now=now)
    rows = [KeyRow.of(key, now=now, creators=names, facts=facts[key.id]) for key in page.items]
    rows.sort(key=lambda row: row.state in ("revoked", "leaked"))
    return pages_of(request).render(
        request,
        "keys.html",
        me=me,
        project=project,
        rows=rows,
        leaked=[row for row in rows if row.state == "leaked"],
        has_more=page.has_more,
        last_id=page.last_id,
        notice=notice,
        secret=secret,
        now=now,
        base_url=str(request.base_url).rstrip("/") + "/v1",
    )


def _key_form(
    request: Request,
    me: SignedIn,
    project: Project,
    form: Form,
    *,
    key: ApiKey | None,
    row: KeyRow | None = None,
    status: int = 200,
) -> Response:
    return pages_of(request).render(
        request,
        "key_form.html",
        status=status,
        me=me,
        project=project,
        key=key,
        row=row,
        form=form,
        scopes=SCOPES,
        values=keyform.values(form, key),
    )
