"""Projects: list, create, rename, archive."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from keyplane.keys.policy import MAX_NAME, clean_name
from keyplane.runtime.deps import ProjectsDep
from keyplane.services.projects import ProjectService
from keyplane.services.sessions import SignedIn
from keyplane.store.models import Project
from keyplane.values.kinds import ProjectStatus
from keyplane.web.auth import Editor, Viewer, actor_of
from keyplane.web.errors import TAG
from keyplane.web.forms import Form
from keyplane.web.templating import pages_of

router = APIRouter(prefix="/projects", tags=[TAG], include_in_schema=False)
PAGE = 50
NAME_PLAIN = f"Give the project a name of at most {MAX_NAME} characters."


def check_name(form: Form) -> None:
    form.check("name", NAME_PLAIN, lambda: clean_name(form.text("name")))


@router.get("")
async def project_list(
    request: Request,
    projects: ProjectsDep,
    me: Viewer,
    after: str | None = None,
    archived: bool = False,
    welcome: bool = False,
) -> Response:
    return await _list_page(
        request, projects, me, Form(), after=after, archived=archived, welcome=welcome
    )


@router.post("")
async def create_project(request: Request, projects: ProjectsDep, me: Editor) -> Response:
    me.access.require_manager()
    form = await Form.read(request)
    project = await form.submit(
        check_name,
        lambda: projects.create(
            organization_id=me.access.organization_id,
            name=form.text("name"),
            actor=actor_of(request, me),
        ),
    )
    if project is None:
        return await _list_page(request, projects, me, form, status=422)
    return RedirectResponse(f"/projects/{project.id}", status_code=303)


@router.get("/{project_id}/settings")
async def project_settings(
    request: Request, project_id: str, projects: ProjectsDep, me: Viewer
) -> Response:
    project = await visible_project(projects, me, project_id)
    me.access.require_manager()  # only they may rename or archive: nobody else sees the forms
    return pages_of(request).render(
        request, "project_settings.html", me=me, project=project, form=Form()
    )


@router.post("/{project_id}/rename")
async def rename_project(
    request: Request, project_id: str, projects: ProjectsDep, me: Editor
) -> Response:
    me.access.require_manager()
    project = await visible_project(projects, me, project_id)
    form = await Form.read(request)
    renamed = await form.submit(
        check_name,
        lambda: projects.rename(
            organization_id=me.access.organization_id,
            project_id=project.id,
            name=form.text("name"),
            actor=actor_of(request, me),
        ),
    )
    if renamed is None:
        return pages_of(request).render(
            request, "project_settings.html", status=422, me=me, project=project, form=form
        )
    return RedirectResponse(f"/projects/{project.id}/settings?saved=1", status_code=303)


@router.post("/{project_id}/archive")
async def archive_project(
    request: Request, project_id: str, projects: ProjectsDep, me: Editor
) -> Response:
    me.access.require_manager()
    await projects.archive(
        organization_id=me.access.organization_id,
        project_id=project_id,
        actor=actor_of(request, me),
    )
    return RedirectResponse("/projects?archived=1", status_code=303)


async def visible_project(projects: ProjectService, me: SignedIn, project_id: str) -> Project:
    """The project, when this person may see it; the same 404 as a missing one otherwise."""
    me.access.require_project(project_id)
    return await projects.get(organization_id=me.access.organization_id, project_id=project_id)


async def visible_projects(
    projects: ProjectService,
    me: SignedIn,
    *,
    after: str | None = None,
    archived: bool = False,
    limit: int = PAGE,
) -> tuple[list[Project], bool]:
    """A page of the projects this person sees, and whether more follow."""
    if me.access.sees_all_projects:
        page = await projects.list(
            organization_id=me.access.organization_id,
            limit=limit,
            after=after,
            include_archived=archived,
        )
        return page.items, page.has_more
    own = [
        await projects.get(organization_id=me.access.organization_id, project_id=p)
        for p in sorted(me.access.project_ids)
    ]
    shown = [p for p in own if archived or p.status is ProjectStatus.ACTIVE]
    return sorted(shown, key=lambda p: p.created_at), False


async def _list_page(
    request: Request,
    projects: ProjectService,
    me: SignedIn,
    form: Form,
    *,
    after: str | None = None,
    archived: bool = False,
    welcome: bool = False,
    status: int = 200,
) -> Response:
    shown, has_more = await visible_projects(projects, me, after=after, archived=archived)
    return pages_of(request).render(
        request,
        "projects.html",
        status=status,
        me=me,
        projects=shown,
        has_more=has_more,
        archived=archived,
        form=form,
        notice="Welcome to keyplane. Create a project, then a key for it." if welcome else None,
    )
