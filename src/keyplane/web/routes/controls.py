"""A project's controls: per-model limits, model permissions, spend limit and alerts, and
service accounts. The same services as OpenAI's admin resources (``docs/openai-admin.md``)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from keyplane.errors import ValidationFailedError
from keyplane.keys.policy import MAX_LIST, MAX_NAME, clean_models, clean_name
from keyplane.limits.policy import ModelLimits, merge_model_limits
from keyplane.runtime.deps import AdminResourcesDep, ProjectsDep
from keyplane.services.admin_resources import AdminResources
from keyplane.services.sessions import SignedIn
from keyplane.services.spend import MICRO_PER_CENT, alerts_of
from keyplane.web.auth import Editor, Viewer, actor_of
from keyplane.web.errors import TAG
from keyplane.web.forms import Form
from keyplane.web.routes.projects import visible_project
from keyplane.web.templating import pages_of

router = APIRouter(prefix="/projects/{project_id}/controls", tags=[TAG], include_in_schema=False)


async def _page(
    request: Request,
    admin: AdminResources,
    projects: ProjectsDep,
    me: SignedIn,
    project_id: str,
    *,
    form: Form | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    project = await visible_project(projects, me, project_id)
    organization_id = me.access.organization_id
    limits = await admin.model_access.rate_limits(
        organization_id=organization_id, project_id=project.id
    )
    accounts = await admin.service_accounts.list(
        organization_id=organization_id, project_id=project.id, limit=100
    )
    return pages_of(request).render(
        request,
        "controls.html",
        status=status,
        me=me,
        project=project,
        model_limits=limits,
        alerts=alerts_of(project.budget),
        cents=MICRO_PER_CENT,
        accounts=accounts.items,
        form=form or Form(),
        created=extra.get("created"),
    )


@router.get("")
async def controls(
    request: Request,
    project_id: str,
    admin: AdminResourcesDep,
    projects: ProjectsDep,
    me: Viewer,
) -> Response:
    return await _page(request, admin, projects, me, project_id)


def _cents(form: Form, name: str) -> int:
    try:
        amount = Decimal(form.text(name)) * 100
    except InvalidOperation:
        raise ValidationFailedError("Give an amount in US dollars, e.g. 250.", param=name) from None
    if amount != amount.to_integral_value() or amount < 1:
        raise ValidationFailedError("Give whole cents, at least $0.01.", param=name)
    return int(amount)


def _count(form: Form, name: str) -> int:
    raw = form.text(name).strip()
    if not raw:
        return 0
    if not (raw.isascii() and raw.isdigit()):  # isdigit() alone takes '²', int() does not
        raise ValidationFailedError("Give a whole number, or leave it empty.", param=name)
    return int(raw)


# The per-model limit form's fields and the API fields they set.
_LIMITS = {
    "rpm": "max_requests_per_1_minute",
    "tpm": "max_tokens_per_1_minute",
    "rpd": "max_requests_per_1_day",
}


def _limit(form: Form, name: str) -> int:
    """A limit field as the service takes it (empty: 0, no limit), checked by the API's rule.

    A typed 0 on the day limit is refused: a person may mean no calls at all, which the API's
    0 (no limit) is the opposite of.
    """
    count = _count(form, name)
    if name == "rpd" and count == 0 and form.text(name).strip():
        raise ValidationFailedError("0 requests per day is not a limit.", param=name)
    merge_model_limits(ModelLimits(), {_LIMITS[name]: count})
    return count


_PLAIN = {
    "model": "Name one model, like gpt-4o-mini.",
    "rpm": "Enter a whole number of requests, like 60, or leave it empty for no limit.",
    "tpm": "Enter a whole number of tokens, like 40000, or leave it empty for no limit.",
    "rpd": "Enter a whole number of requests from 1, like 1000, or leave it empty for no limit.",
    "mode": "Choose No list, Allow only or Deny.",
    "models": f"List at most {MAX_LIST} model names, separated by commas.",
}
NAME_PLAIN = f"Give the service account a name of at most {MAX_NAME} characters."
_MODES = ("", "allow_list", "deny_list")


def _check(form: Form) -> None:
    """Every field of the form that was sent, checked at once."""
    action = form.text("action")
    if action == "model_limit":
        form.check("model", _PLAIN["model"], lambda: clean_models([form.text("model")]))
        for name in _LIMITS:
            form.check(name, _PLAIN[name], partial(_limit, form, name))
    elif action == "model_permissions":
        if form.text("mode") not in _MODES:
            form.errors["mode"] = _PLAIN["mode"]
        if form.text("mode"):  # with no list, the models are not kept: nothing to check
            form.check("models", _PLAIN["models"], lambda: clean_models(form.lines("models")))
    elif action == "spend_limit" and form.text("clear") != "1":
        form.check("usd", None, lambda: _cents(form, "usd"))
    elif action == "spend_alert":
        form.check("alert_usd", None, lambda: _cents(form, "alert_usd"))


def _check_account(form: Form) -> None:
    form.check("name", NAME_PLAIN, lambda: clean_name(form.text("name")))


async def _apply(form: Form, action: str, admin: AdminResources, base: dict[str, Any]) -> Any:
    """Carry out one form's change; errors land on the form."""
    if action == "model_limit":
        return await admin.model_access.set_rate_limit(
            **base,
            model=form.text("model").strip(),
            changes={field: _count(form, name) for name, field in _LIMITS.items()},
        )
    if action == "model_permissions":
        mode = form.text("mode") or None
        return await admin.model_access.set_permissions(
            **base, mode=mode, model_ids=form.lines("models")
        )
    if action == "spend_limit":
        cleared = form.text("clear") == "1"
        return await admin.spend.set_limit(
            **base, threshold_cents=None if cleared else _cents(form, "usd")
        )
    if action == "spend_alert":
        return await admin.spend.add_alert(**base, threshold_cents=_cents(form, "alert_usd"))
    if action == "remove_alert":
        return await admin.spend.delete_alert(**base, alert_id=form.text("alert_id"))
    raise ValidationFailedError("Unknown change.", param="action")


@router.post("")
async def change(
    request: Request,
    project_id: str,
    admin: AdminResourcesDep,
    projects: ProjectsDep,
    me: Editor,
) -> Response:
    me.access.require_manager()
    project = await visible_project(projects, me, project_id)
    form = await Form.read(request)
    base = {
        "organization_id": me.access.organization_id,
        "project_id": project.id,
        "actor": actor_of(request, me),
    }
    await form.submit(_check, lambda: _apply(form, form.text("action"), admin, base))
    if not form.ok:
        return await _page(request, admin, projects, me, project_id, form=form, status=422)
    return RedirectResponse(f"/projects/{project.id}/controls?saved=1", status_code=303)


@router.post("/service_accounts")
async def create_service_account(
    request: Request,
    project_id: str,
    admin: AdminResourcesDep,
    projects: ProjectsDep,
    me: Editor,
) -> Response:
    """A service account with its first key, whose secret this page shows once."""
    me.access.require_manager()
    project = await visible_project(projects, me, project_id)
    form = await Form.read(request)
    created = await form.submit(
        _check_account,
        lambda: admin.service_accounts.create(
            organization_id=me.access.organization_id,
            project_id=project.id,
            name=form.text("name"),
            actor=actor_of(request, me),
        ),
    )
    if created is None:
        return await _page(request, admin, projects, me, project_id, form=form, status=422)
    return await _page(request, admin, projects, me, project_id, created=created)


@router.post("/service_accounts/{account_id}/delete")
async def delete_service_account(
    request: Request,
    project_id: str,
    account_id: str,
    admin: AdminResourcesDep,
    projects: ProjectsDep,
    me: Editor,
) -> Response:
    me.access.require_manager()
    project = await visible_project(projects, me, project_id)
    await admin.service_accounts.delete(
        organization_id=me.access.organization_id,
        project_id=project.id,
        service_account_id=account_id,
        actor=actor_of(request, me),
    )
    return RedirectResponse(f"/projects/{project.id}/controls?saved=1", status_code=303)
