"""Admin keys, for owners and admins: list, create (shown once), revoke."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from keyplane.api.deps import ServicesDep
from keyplane.services.sessions import SignedIn
from keyplane.web.auth import Editor, Viewer, actor_of
from keyplane.web.errors import TAG
from keyplane.web.forms import Form
from keyplane.web.keyview import creators
from keyplane.web.routes.keys import flashes_of
from keyplane.web.templating import pages_of

router = APIRouter(prefix="/admin-keys", tags=[TAG], include_in_schema=False)


@router.get("")
async def admin_key_list(
    request: Request, services: ServicesDep, me: Viewer, f: str = ""
) -> Response:
    me.access.require_manager()
    secret = flashes_of(request).pop(me.session_id, f) if f else None
    return await _page(request, services, me, Form(), secret=secret)


@router.post("")
async def create_admin_key(request: Request, services: ServicesDep, me: Editor) -> Response:
    me.access.require_manager()
    form = await Form.read(request)
    issued = await form.attempt(
        services.admin_keys.create(
            organization_id=me.access.organization_id,
            name=form.text("name"),
            actor=actor_of(request, me),
        )
    )
    if issued is None:
        return await _page(request, services, me, form, status=422)
    flash_id = flashes_of(request).put(
        me.session_id, {"name": issued.key.name, "value": issued.plaintext}
    )
    return RedirectResponse(f"/admin-keys?f={flash_id}", status_code=303)


@router.get("/{key_id}/revoke")
async def revoke_form(request: Request, key_id: str, services: ServicesDep, me: Viewer) -> Response:
    me.access.require_manager()
    key = await services.admin_keys.get(organization_id=me.access.organization_id, key_id=key_id)
    return pages_of(request).render(request, "revoke.html", me=me, project=None, key=key)


@router.post("/{key_id}/revoke")
async def revoke(request: Request, key_id: str, services: ServicesDep, me: Editor) -> Response:
    me.access.require_manager()
    await services.admin_keys.revoke(
        organization_id=me.access.organization_id, key_id=key_id, actor=actor_of(request, me)
    )
    return RedirectResponse("/admin-keys", status_code=303)


async def _page(
    request: Request,
    services: ServicesDep,
    me: SignedIn,
    form: Form,
    *,
    secret: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    org = me.access.organization_id
    page = await services.admin_keys.list(organization_id=org, limit=100)
    return pages_of(request).render(
        request,
        "admin_keys.html",
        status=status,
        me=me,
        keys=page.items,
        names=await creators(services, org),
        form=form,
        secret=secret,
        now=services.clock(),
    )
