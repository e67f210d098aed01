"""Shared plumbing of the HTTP commands: the client and project lookup."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError

from keyplane.cli.client import AdminClient
from keyplane.cli.errors import CliError, bad_setting
from keyplane.cli.flags import refuse_secret
from keyplane.config import ClientSettings

KEY_HINT = "Key ids look like key_...: see 'keyplane keys list'."
PROJECT_HINT = "Project ids look like proj_...: see 'keyplane projects list'."


def client_settings() -> ClientSettings:
    """Client settings, with a bad value reported as one line instead of a traceback."""
    try:
        return ClientSettings()
    except ValidationError as exc:
        raise bad_setting(exc) from None


@contextmanager
def admin_client() -> Iterator[AdminClient]:
    with AdminClient(client_settings()) as client:
        yield client


def iter_pages(client: AdminClient, path: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item of a paginated list."""
    after = None
    while True:
        page = client.get(path, limit=100, after=after, **params)
        yield from page["data"]
        if not page["has_more"]:
            return
        after = page["last_id"]


def resolve_project(client: AdminClient, project: str) -> str:
    """Accept a project id or an exact project name."""
    refuse_secret(project, what="project id or name", hint=PROJECT_HINT)
    if project.startswith("proj_"):
        return project
    return str(project_of(client, project)["id"])


def project_of(client: AdminClient, project: str) -> dict[str, Any]:
    """The project with this id or exact name; an active one wins over archived namesakes.

    Active names are unique (the server refuses a second one); archived projects may share a
    name with an active one or with each other.
    """
    refuse_secret(project, what="project id or name", hint=PROJECT_HINT)
    if project.startswith("proj_"):
        return dict(client.get(f"/v1/organization/projects/{project}"))
    matches = [
        p
        for p in iter_pages(client, "/v1/organization/projects", include_archived="true")
        if p["name"] == project
    ]
    active = [p for p in matches if p["status"] == "active"]
    if not matches:
        raise CliError(f"no project named {project!r}; see 'keyplane projects list'")
    if len(active) == 1 or len(matches) == 1:
        return dict((active or matches)[0])
    raise CliError(f"several projects are named {project!r}; pass the project id instead")


def find_key_project(client: AdminClient, key_id: str, project: str | None) -> str:
    """The project of ``key_id``: the one given, or found by asking each project."""
    refuse_secret(key_id, what="key id", hint=KEY_HINT)
    if project is not None:
        return resolve_project(client, project)
    for candidate in iter_pages(client, "/v1/organization/projects", include_archived="true"):
        try:
            client.request("GET", f"/v1/organization/projects/{candidate['id']}/api_keys/{key_id}")
        except CliError as exc:
            if exc.status == 404:
                continue  # not in this project
            raise  # a refused admin key or a failing server is not "no such key"
        return str(candidate["id"])
    raise CliError(f"no API key with id {key_id!r} in any project")
