"""``--history`` and ``--staged`` read real git repositories."""

from __future__ import annotations

import json

from click.testing import CliRunner

from keyplane.cli.scan import scan_command
from keyplane.keys.format import KeyKind, generate_key
from keyplane.scan.history import history_findings, staged_findings
from keyplane.scan.patterns import Detector
from scan.scan_fakes import Repo


def test_key_committed_then_deleted_is_found_at_the_commit_that_added_it(repo: Repo) -> None:
    key = generate_key(KeyKind.PROJECT)
    repo.write("README.md", "hello\n")
    repo.commit("first")
    repo.write("config/app.py", f"import os\n\nKEY = '{key}'\n")
    added = repo.commit("add key")
    repo.write("config/app.py", "import os\n\nKEY = os.environ['KEY']\n")
    repo.commit("remove key")
    (finding,) = history_findings(repo.root, Detector())
    assert (finding.commit, finding.file, finding.line) == (added, "config/app.py", 3)
    assert CliRunner().invoke(scan_command, ["."]).exit_code == 0


def test_history_reports_a_secret_once_at_its_oldest_addition(repo: Repo) -> None:
    key = generate_key(KeyKind.ADMIN)
    repo.write("a.txt", f"{key}\n")
    first = repo.commit("one")
    repo.write("b.txt", f"x\n{key}\n")
    repo.commit("two")
    result = CliRunner().invoke(scan_command, ["--history", "--json", "."])
    assert result.exit_code == 1
    (finding,) = json.loads(result.stdout)["findings"]
    assert (finding["commit"], finding["file"], finding["line"]) == (first, "a.txt", 1)


def test_history_finds_keys_on_other_branches(repo: Repo) -> None:
    key = generate_key(KeyKind.PROJECT)
    repo.write("a.txt", "base\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("a.txt", f"base\n{key}\n")
    commit = repo.commit("on a branch")
    repo.git("checkout", "-q", "main")
    (finding,) = history_findings(repo.root, Detector())
    assert (finding.commit, finding.line) == (commit, 2)


def test_history_changed_checksum_is_not_reported(repo: Repo) -> None:
    key = generate_key(KeyKind.PROJECT)
    repo.write("a.txt", key[:-1] + ("x" if key[-1] != "x" else "y") + "\n")
    repo.commit("look-alike")
    assert history_findings(repo.root, Detector()) == []


def test_staged_sees_only_staged_lines(repo: Repo) -> None:
    committed, staged, unstaged = (generate_key(KeyKind.PROJECT) for _ in range(3))
    repo.write("app.py", f"A = '{committed}'\n")
    repo.commit("old secret, already in history")
    repo.write("app.py", f"A = '{committed}'\nB = '{staged}'\n")
    repo.git("add", "app.py")
    repo.write("app.py", f"A = '{committed}'\nB = '{staged}'\nC = '{unstaged}'\n")
    repo.write("new.py", f"D = '{unstaged}'\n")
    found = staged_findings(repo.root, Detector())
    assert [(f.file, f.line, f.secret == staged) for f in found] == [("app.py", 2, True)]
    result = CliRunner().invoke(scan_command, ["--staged"])
    assert result.exit_code == 1
    assert "app.py:2" in result.output


def test_staged_clean_index_exits_0(repo: Repo) -> None:
    repo.write("a.txt", "nothing to see\n")
    repo.git("add", "a.txt")
    assert CliRunner().invoke(scan_command, ["--staged"]).exit_code == 0


def test_staged_utf16_file_that_git_calls_binary_is_scanned(repo: Repo) -> None:
    key = generate_key(KeyKind.PROJECT)
    (repo.root / "secrets.ps1").write_bytes(
        b"\xff\xfe" + f"# x\r\n$k = '{key}'\r\n".encode("utf-16-le")
    )
    (repo.root / "logo.png").write_bytes(b"\x89PNG\0\0\0" + key.encode())
    repo.git("add", "secrets.ps1", "logo.png")
    found = staged_findings(repo.root, Detector())
    assert [(f.file, f.line, f.secret == key) for f in found] == [("secrets.ps1", 2, True)]
