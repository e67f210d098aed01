"""``keyplane upstreams``: the upstreams the gateway forwards to, and whether they work.

Run where ``keyplane serve`` runs, with its environment and ``.env``: it reads the same
upstreams file (or ``KEYPLANE_UPSTREAM_*`` settings) and the same provider keys. Keys are
never printed; only where each comes from.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

import click
import httpx
from pydantic import ValidationError

from keyplane.cli.errors import CliError, bad_setting
from keyplane.cli.output import emit_json, table
from keyplane.config import Settings, environment, load_settings
from keyplane.upstreams.file import UpstreamsFileError, load_upstreams
from keyplane.upstreams.probe import probe_of, verdict
from keyplane.upstreams.spec import UpstreamSpec

_READ_TIMEOUT = 15.0


def _settings() -> Settings:
    try:
        return load_settings()
    except ValidationError as exc:
        raise bad_setting(exc) from None


def upstreams_or_exit(settings: Settings) -> tuple[UpstreamSpec, ...]:
    """The configured upstreams, or one line on stderr naming the file, upstream and field."""
    try:
        return load_upstreams(settings, environment())
    except UpstreamsFileError as error:
        raise CliError(error.message) from None


def warn_about(specs: tuple[UpstreamSpec, ...]) -> None:
    """What ``serve`` says on stderr about upstreams that will not work as they should."""
    for spec in specs:
        if spec.literal_key:
            click.echo(
                f"warning: upstream '{spec.name}' has its api_key written in the upstreams file; "
                'reference an environment variable instead, like api_key = "${NAME}"',
                err=True,
            )
        elif spec.api_key is None and spec.key_source.startswith("${"):
            click.echo(
                f"warning: upstream '{spec.name}': {spec.key_source[2:-1]} is not set; "
                "its calls will be refused (503) until it is",
                err=True,
            )


@click.group()
def upstreams() -> None:
    """The upstream providers: list them, check that they answer and accept their key."""


@upstreams.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_command(as_json: bool) -> None:
    """Show each upstream, its models and where its key comes from (never the key)."""
    specs = upstreams_or_exit(_settings())
    if as_json:
        emit_json([_public(spec) for spec in specs])
        return
    table(
        ["name", "provider", "base_url", "models", "key", "fallbacks"],
        [
            [
                spec.name,
                spec.provider.value,
                spec.base_url,
                ", ".join(spec.models),
                _key_label(spec),
                ", ".join(spec.fallbacks) or "-",
            ]
            for spec in specs
        ],
    )


@dataclass(frozen=True, slots=True)
class Checked:
    spec: UpstreamSpec
    ok: bool
    status: int | None
    message: str


@upstreams.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def check_command(as_json: bool) -> None:
    """Ask each upstream to list its models: does it answer, and does it accept its key?

    Exits 1 when any upstream fails.
    """
    specs = upstreams_or_exit(_settings())
    results = asyncio.run(check_all(specs))
    if as_json:
        emit_json(
            [
                {"name": r.spec.name, "ok": r.ok, "status": r.status, "message": r.message}
                for r in results
            ]
        )
    else:
        rows = [
            [
                r.spec.name,
                r.spec.provider.value,
                r.spec.base_url,
                "ok" if r.ok else "FAIL",
                r.message,
            ]
            for r in results
        ]
        table(["name", "provider", "base_url", "result", "detail"], rows)
    if not all(r.ok for r in results):
        sys.exit(1)


async def check_all(specs: tuple[UpstreamSpec, ...]) -> list[Checked]:
    return list(await asyncio.gather(*(check_one(spec) for spec in specs)))


async def check_one(spec: UpstreamSpec) -> Checked:
    """Probe one upstream; the answer's body is never shown (it could echo a key)."""
    if spec.api_key is None:
        return Checked(spec, False, None, f"no key: {_key_label(spec)}")
    probe = probe_of(spec)
    timeout = httpx.Timeout(_READ_TIMEOUT, connect=spec.connect_timeout)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(probe.url, headers=probe.headers)
    except httpx.TimeoutException:
        return Checked(spec, False, None, "does not answer in time")
    except httpx.HTTPError as error:
        return Checked(spec, False, None, f"does not answer ({type(error).__name__})")
    ok, message = verdict(response.status_code)
    return Checked(spec, ok, response.status_code, message)


def _key_label(spec: UpstreamSpec) -> str:
    state = "set" if spec.api_key is not None else "not set"
    return f"{spec.key_source} ({state})"


def _public(spec: UpstreamSpec) -> dict[str, object]:
    return {
        "name": spec.name,
        "provider": spec.provider.value,
        "base_url": spec.base_url,
        "models": list(spec.models),
        "fallbacks": list(spec.fallbacks),
        "key_source": spec.key_source,
        "key_set": spec.api_key is not None,
        "deployments": dict(spec.deployments),
        "api_version": spec.api_version or None,
    }
