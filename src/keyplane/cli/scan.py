"""``keyplane scan`` and ``keyplane doctor``: find leaked keys and check how keys are kept.

A pre-commit hook runs ``keyplane scan --staged`` on every commit, so this module imports
only click and the scanner: the HTTP client and the settings (pydantic) load only when
``--verify``, ``--revoke`` or ``doctor`` needs them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from keyplane.cli.errors import CliError
from keyplane.scan import baseline as baselines
from keyplane.scan import report
from keyplane.scan.errors import ScanError
from keyplane.scan.finder import DEFAULT_MAX_FILE_SIZE, WalkStats, scan_paths
from keyplane.scan.finding import Finding
from keyplane.scan.history import history_findings, staged_findings
from keyplane.scan.patterns import Detector

if TYPE_CHECKING:
    from keyplane.cli.client import AdminClient
    from keyplane.config import ClientSettings
    from keyplane.scan.verify import Requester

USAGE_EXIT = 2
# Nothing found, but some files were not read (too large, unreadable): the all-clear is partial.
INCOMPLETE_EXIT = 3


def make_client(settings: ClientSettings) -> AdminClient:
    """The admin client; tests replace this to talk to a fake server."""
    from keyplane.cli.client import AdminClient

    return AdminClient(settings)


def _settings() -> ClientSettings:
    from keyplane.cli.context import client_settings

    return client_settings()


def _find(
    paths: list[Path], detector: Detector, *, history: bool, staged: bool, max_size: int
) -> tuple[list[Finding], WalkStats]:
    stats = WalkStats()
    repo = paths[0] if paths else Path()
    if history:
        return history_findings(repo, detector, max_size=max_size, stats=stats), stats
    if staged:
        return staged_findings(repo, detector, max_size=max_size, stats=stats), stats
    return scan_paths(paths or [Path()], detector, max_size=max_size, stats=stats), stats


def _check_flags(**flags: Any) -> None:
    if flags["history"] and flags["staged"]:
        raise click.UsageError("--history and --staged cannot be combined")
    if flags["as_json"] and flags["sarif"]:
        raise click.UsageError("--json and --sarif cannot be combined")
    if flags["update_baseline"] and flags["baseline"] is None:
        raise click.UsageError("--update-baseline needs --baseline FILE")


def _verify(findings: list[Finding], *, revoke: bool) -> list[Finding]:
    from keyplane.scan.verify import live_first, revoke_live, verify_findings

    settings = _settings()
    with make_client(settings) as client:
        verify_findings(client, findings, brand=settings.key_brand)
        if revoke:
            count = revoke_live(client, findings, brand=settings.key_brand)
            click.echo(f"revoked {count} live key(s)", err=True)
    return live_first(findings)


def _emit(
    findings: list[Finding], detector: Detector, stats: WalkStats, *, as_json: bool, sarif: bool
) -> None:
    if sarif:
        click.echo(report.render_sarif(findings, detector.rules, stats.skipped))
    elif as_json:
        click.echo(report.render_json(findings, stats.skipped))
    else:
        if findings:
            click.echo(report.render_table(findings))
        for skip in stats.skipped:
            where = f" at {skip.commit[:12]}" if skip.commit else ""
            click.echo(f"skipped {skip.file}{where}: {skip.reason}", err=True)


@click.command("scan")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--history", is_flag=True, help="Scan every commit on every ref.")
@click.option("--staged", is_flag=True, help="Scan only staged changes (pre-commit).")
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
@click.option("--sarif", is_flag=True, help="Print a SARIF 2.1.0 log.")
@click.option(
    "--max-file-size",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_FILE_SIZE,
    show_default=True,
    help="Skip (and report) files larger than this many bytes; larger ones are read in chunks.",
)
@click.option(
    "--baseline", type=click.Path(dir_okay=False, path_type=Path), help="Accepted findings."
)
@click.option("--update-baseline", is_flag=True, help="Write current findings to --baseline.")
@click.option("--verify", is_flag=True, help="Ask the keyplane server which keys are live.")
@click.option("--revoke", is_flag=True, help="Revoke live keyplane keys found (implies --verify).")
def scan_command(**options: Any) -> None:
    """Find API keys and other secrets in files or git history.

    \b
    Exit status: 0 nothing found, 1 secrets found, 2 usage error,
    3 nothing found but some files were not read (too large, unreadable).
    """
    _check_flags(**options)
    detector = Detector()
    try:
        findings, stats = _find(
            list(options["paths"]),
            detector,
            history=options["history"],
            staged=options["staged"],
            max_size=options["max_file_size"],
        )
        if options["update_baseline"]:
            count = baselines.write_baseline(options["baseline"], findings)
            click.echo(f"baseline {options['baseline']}: {count} accepted finding(s)", err=True)
            return
        if options["baseline"] is not None:
            accepted = baselines.load_baseline(options["baseline"])
            findings = baselines.without_baseline(findings, accepted)
    except ScanError as exc:
        raise CliError(exc.message, exit_code=USAGE_EXIT) from None
    if options["verify"] or options["revoke"]:
        findings = _verify(findings, revoke=options["revoke"])
    _emit(findings, detector, stats, as_json=options["as_json"], sarif=options["sarif"])
    if not (options["as_json"] or options["sarif"]):
        click.echo(_summary(findings, stats), err=True)
    if findings:
        raise click.exceptions.Exit(1)
    if stats.skipped:
        raise click.exceptions.Exit(INCOMPLETE_EXIT)


def _summary(findings: list[Finding], stats: WalkStats) -> str:
    scanned = f" in {stats.files} files ({stats.bytes / 1e6:.1f} MB)" if stats.files else ""
    tail = f"; {stats.skipped_binary} binary file(s) left out" if stats.skipped_binary else ""
    if stats.skipped:
        tail += f"; {len(stats.skipped)} file(s) NOT scanned (see above)"
    return f"{len(findings)} secret(s) found{scanned}{tail}"


class _DoctorClient:
    """Turns the client's ``CliError`` into ``ScanError`` so doctor can warn and go on."""

    def __init__(self, client: Requester) -> None:
        self._client = client

    def request(self, method: str, path: str, *, json: Any = None) -> Any:
        try:
            return self._client.request(method, path, json=json)
        except CliError as exc:
            raise ScanError(exc.message) from None


@click.command("doctor")
@click.argument(
    "path", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Print the checklist as JSON.")
def doctor_command(path: Path | None, as_json: bool) -> None:
    """Check how this project keeps its keys: .env, git history, source, the live key."""
    from keyplane.scan import doctor

    settings = _settings()
    root = path or Path()
    try:
        if settings.admin_key is None:
            checks = doctor.run_doctor(root, brand=settings.key_brand)
        else:
            with make_client(settings) as client:
                checks = doctor.run_doctor(
                    root, brand=settings.key_brand, client=_DoctorClient(client)
                )
    except ScanError as exc:
        raise CliError(exc.message, exit_code=USAGE_EXIT) from None
    if as_json:
        items = [{"check": c.name, "status": c.status.value, "advice": c.advice} for c in checks]
        click.echo(json.dumps({"ok": not doctor.failed(checks), "checks": items}, indent=2))
    else:
        for line in doctor.render_checks(checks):
            click.echo(line)
    if doctor.failed(checks):
        raise click.exceptions.Exit(1)
