"""Admin keys, for owners and admins: list, create (shown once), revoke."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from keyplane.keys.policy import MAX_NAME, clean_name
from keyplane.runtime.deps import AdminKeysDep, MembersDep, NowDep
from keyplane.services.admin_keys import AdminKeyService
from keyplane.services.members import MemberService
from keyplane.services.sessions import SignedIn
from keyplane.web.auth import Editor, Viewer, actor_of, is_https
from keyplane.web.errors import TAG
from keyplane.web.forms import Form
from keyplane.web.keyview import creators
from keyplane.web.routes.keys import flashes_of
from keyplane.web.templating import pages_of

router = APIRouter(prefix="/admin-keys", tags=[TAG], include_in_schema=False)
NAME_PLAIN = f"Give the admin key a name of at most {MAX_NAME} characters."


def _check(form: Form) -> None:
    form.check("name", NAME_PLAIN, lambda: clean_name(form.text("name")))


@router.get("")
async def admin_key_list(
    request: Request,
    admin_keys: AdminKeysDep,
    members: MembersDep,
    now: NowDep,
    me: Viewer,
    f: str = "",
) -> Response:
    me.access.require_manager()
    flashes = flashes_of(request)
    secret = flashes.pop(request, me.session_id, f)
    page = await _page(request, admin_keys, members, now, me, Form(), secret=secret)
    return flashes.forget(page, f, path="/admin-keys")


@router.post("")
async def create_admin_key(
    request: Request, admin_keys: AdminKeysDep, members: MembersDep, now: NowDep, me: Editor
) -> Response:
    me.access.require_manager()
    form = await Form.read(request)
    issued = await form.submit(
        _check,
        lambda: admin_keys.create(
            organization_id=me.access.organization_id,
            name=form.text("name"),
            actor=actor_of(request, me),
        ),
    )
    if issued is None:
        return await _page(request, admin_keys, members, now, me, form, status=422)
    response = RedirectResponse("/admin-keys", status_code=303)
    flash_id = flashes_of(request).put(
        response,
        me.session_id,
        {"name": issued.key.name, "value": issued.plaintext},
        path="/admin-keys",
        secure=is_https(request),
    )
    response.headers["location"] = f"/admin-keys?f={flash_id}"
    return response


@router.get("/{key_id}/revoke")
async def revoke_form(
    request: Request, key_id: str, admin_keys: AdminKeysDep, me: Viewer
) -> Response:
    me.access.require_manager()
    key = await admin_keys.get(organization_id=me.access.organization_id, key_id=key_id)
    return pages_of(request).render(request, "revoke.html", me=me, project=None, key=key)


@router.post("/{key_id}/revoke")
async def revoke(request: Request, key_id: str, admin_keys: AdminKeysDep, me: Editor) -> Response:
    me.access.require_manager()
    await admin_keys.revoke(
        organization_id=me.access.organization_id, key_id=key_id, actor=actor_of(request, me)
    )
    return RedirectResponse("/admin-keys", status_code=303)


async def _page(
    request: Request,
    admin_keys: AdminKeyService,
    members: MemberService,
    now: datetime,
    me: SignedIn,
    form: Form,
    *,
    secret: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    org = me.access.organization_id
    page = await admin_keys.list(organization_id=org, limit=100)
    return pages_of(request).render(
        request,
        "admin_keys.html",
        status=status,
        me=me,
        keys=page.items,
        names=await creators(members, org),
        form=form,
        secret=secret,
        now=now,
    )
