"""``keyplane doctor``: a checklist of how a project keeps its keys, with advice per item."""

from __future__ import annotations

import enum
import re
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from keyplane.keys.format import is_valid_key
from keyplane.scan.errors import ScanError
from keyplane.scan.finder import DEFAULT_MAX_FILE_SIZE, WalkStats, iter_sources, scan_paths
from keyplane.scan.finding import findings_in
from keyplane.scan.git import run_git, work_tree_root
from keyplane.scan.patterns import ALLOW_MARKER, Detector
from keyplane.scan.verify import Requester, verify_key

EXPIRY_WARNING_SECONDS = 7 * 24 * 3600
EXAMPLE_SUFFIXES = (".example", ".sample", ".template", ".dist")
# A secret-looking name bound to a long quoted literal: ``api_key = "abcd..."``. Only a
# warning: a 16-character literal named "...key" is sometimes a cache key, not a secret.
_LITERAL = re.compile(
    rb"""(?i)\b\w*(?:key|secret|token|password)\w*["']?\s*[:=]\s*["'][^"'\s]{16,}["']"""
)


class Status(enum.StrEnum):
    """How one check came out."""

    PASS = "PASS"  # noqa: S105 - a verdict, not a password
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the checklist."""

    name: str
    status: Status
    advice: str


@dataclass(frozen=True, slots=True)
class ProjectDir:
    """What every check needs: the directory, its git root and a detector."""

    root: Path
    git_root: Path | None
    detector: Detector
    max_size: int = DEFAULT_MAX_FILE_SIZE

    @property
    def env(self) -> Path:
        return self.root / ".env"


def env_ignored(project: ProjectDir) -> Check:
    """``.env`` exists, git ignores it, and it is not tracked."""
    name = ".env is ignored by git"
    if not project.env.exists():
        return Check(name, Status.SKIP, "no .env here; settings come from the environment")
    if project.git_root is None:
        return Check(name, Status.WARN, "not a git repository; add .env to .gitignore once it is")
    tracked = run_git(project.root, "ls-files", "--error-unmatch", ".env", check=False)
    if tracked.returncode == 0:
        return Check(
            name, Status.FAIL, "git tracks .env: git rm --cached .env, then rotate its keys"
        )
    ignored = run_git(project.root, "check-ignore", "-q", ".env", check=False)
    if ignored.returncode != 0:
        return Check(name, Status.FAIL, "add .env to .gitignore before it is committed")
    return Check(name, Status.PASS, "ignored and untracked")


def is_env_file(path: str) -> bool:
    """True for ``.env``, ``prod.env`` and ``.env.local``; False for example files."""
    base = path.rsplit("/", 1)[-1]
    if base.endswith(EXAMPLE_SUFFIXES):
        return False
    return base == ".env" or base.endswith(".env") or base.startswith(".env.")


def env_never_committed(project: ProjectDir) -> Check:
    """No ``.env`` file appears in any commit of any branch."""
    name = "no .env file was ever committed"
    if project.git_root is None:
        return Check(name, Status.SKIP, "not a git repository")
    listed = run_git(project.root, "log", "--all", "--diff-filter=A", "--name-only", "--format=")
    paths = sorted({p for p in listed.stdout.decode("utf-8", "replace").splitlines() if p})
    committed = [p for p in paths if is_env_file(p)]
    if committed:
        advice = f"{committed[0]} is in git history: rotate every key it held (history keeps it)"
        return Check(name, Status.FAIL, advice)
    return Check(name, Status.PASS, "history holds no .env file")


def env_private(project: ProjectDir) -> Check:
    """``.env`` is readable by its owner only."""
    name = ".env is private to its owner"
    if not project.env.exists():
        return Check(name, Status.SKIP, "no .env here")
    mode = stat.S_IMODE(project.env.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return Check(name, Status.WARN, f"mode is {mode:o}; run chmod 600 .env")
    return Check(name, Status.PASS, f"mode is {mode:o}")


def env_example(project: ProjectDir) -> Check:
    """``.env.example`` lists the variables but holds no real secret."""
    name = ".env.example has no real values"
    example = project.root / ".env.example"
    if not example.exists():
        return Check(name, Status.WARN, "add .env.example naming each variable, with no values")
    found = list(findings_in(project.detector, example.read_bytes(), str(example)))
    if found:
        advice = f"line {found[0].line} holds a real {found[0].rule_id}: blank it and revoke it"
        return Check(name, Status.FAIL, advice)
    return Check(name, Status.PASS, "no secrets in it")


def no_hardcoded_keys(project: ProjectDir) -> Check:
    """The scanner finds nothing in the source, ``.env`` files aside."""
    name = "no hard-coded keys in source"
    stats = WalkStats()
    scanned = scan_paths([project.root], project.detector, max_size=project.max_size, stats=stats)
    found = [f for f in scanned if not is_env_file(f.file)]
    if found:
        first = found[0]
        advice = f"{len(found)} found, first {first.file}:{first.line}; run keyplane scan"
        return Check(name, Status.FAIL, advice)
    if stats.skipped:
        skip = stats.skipped[0]
        advice = f"{len(stats.skipped)} file(s) not scanned, first {skip.file} ({skip.reason})"
        return Check(name, Status.WARN, advice)
    return Check(name, Status.PASS, "the scanner found nothing")


def keys_from_environment(project: ProjectDir) -> Check:
    """Python code reads keys from the environment rather than from string literals."""
    name = "code reads keys from the environment"
    for path, data in iter_sources([project.root], suffix=".py"):
        for match in _LITERAL.finditer(data):
            if ALLOW_MARKER in match.group():
                continue
            line = data.count(b"\n", 0, match.start()) + 1
            advice = f"{path}:{line} assigns a literal; use os.environ or python-dotenv"
            return Check(name, Status.WARN, advice)
    return Check(name, Status.PASS, "no secret-like literals in Python code")


def openai_key_live(project: ProjectDir, client: Requester | None) -> Check:
    """``OPENAI_API_KEY`` in ``.env`` is a live keyplane key that is not about to expire."""
    name = "OPENAI_API_KEY is a live keyplane key"
    value = dotenv_values(project.env).get("OPENAI_API_KEY") if project.env.exists() else None
    if not value:
        return Check(name, Status.SKIP, "no OPENAI_API_KEY in .env")
    if not is_valid_key(value, brand=project.detector.brand):
        advice = "it is not a keyplane key; issue one so it can be limited and revoked"
        return Check(name, Status.WARN, advice)
    if client is None:
        return Check(name, Status.SKIP, "set KEYPLANE_URL and KEYPLANE_ADMIN_KEY to check it")
    try:
        verdict = verify_key(client, value)
    except ScanError as exc:
        return Check(name, Status.WARN, f"cannot ask the server: {exc.message}")
    if verdict.get("valid") is not True:
        code = verdict.get("code", "UNKNOWN")
        return Check(name, Status.FAIL, f"the server says {code}: create a new key")
    expires_at = verdict.get("expires_at")
    if isinstance(expires_at, int | float) and expires_at - time.time() < EXPIRY_WARNING_SECONDS:
        return Check(name, Status.WARN, "it expires within 7 days: rotate it")
    return Check(name, Status.PASS, "live and not expiring soon")


CHECKS: tuple[Callable[[ProjectDir], Check], ...] = (
    env_ignored,
    env_never_committed,
    env_private,
    env_example,
    no_hardcoded_keys,
    keys_from_environment,
)


def run_doctor(root: Path, *, brand: str = "kp", client: Requester | None = None) -> list[Check]:
    """Every check, in order, for the project at ``root``."""
    project = ProjectDir(root=root, git_root=work_tree_root(root), detector=Detector(brand=brand))
    return [*(check(project) for check in CHECKS), openai_key_live(project, client)]


def failed(checks: list[Check]) -> bool:
    """True when any check failed."""
    return any(check.status is Status.FAIL for check in checks)


def render_checks(checks: list[Check]) -> Iterator[str]:
    """One ``STATUS  name — advice`` line per check."""
    width = max(len(check.name) for check in checks)
    for check in checks:
        yield f"{check.status.value:<4}  {check.name.ljust(width)}  {check.advice}"
