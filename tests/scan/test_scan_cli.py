"""``keyplane scan`` end to end: exit codes, output formats, baselines, file selection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from keyplane.cli.scan import scan_command
from scan.scan_fakes import Repo, samples

SAMPLES = samples()


def scan(*args: str) -> Result:
    return CliRunner().invoke(scan_command, list(args))


def test_clean_tree_exits_0(plain_dir: Path) -> None:
    (plain_dir / "app.py").write_text("import os\nkey = os.environ['OPENAI_API_KEY']\n")
    result = scan(".")
    assert result.exit_code == 0, result.output


def test_finding_exits_1_and_names_file_line_and_rule(plain_dir: Path) -> None:
    _, secret = SAMPLES["keyplane-project"]
    (plain_dir / "app.py").write_text(f"\n\nKEY = '{secret}'\n")
    result = scan(".")
    assert result.exit_code == 1
    assert "app.py:3" in result.output
    assert "keyplane-key" in result.output


@pytest.mark.parametrize(
    "args",
    [["missing-dir"], ["--history", "--staged"], ["--json", "--sarif"], ["--update-baseline"]],
)
def test_usage_errors_exit_2(plain_dir: Path, args: list[str]) -> None:
    assert scan(*args).exit_code == 2


def test_history_outside_git_exits_2_with_one_line(plain_dir: Path) -> None:
    result = scan("--history", ".")
    assert result.exit_code == 2
    assert "not inside a git repository" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("fmt", [[], ["--json"], ["--sarif"]])
def test_no_output_format_contains_a_full_secret(plain_dir: Path, fmt: list[str]) -> None:
    body = "\n".join(f"{name} = '''{secret}'''" for name, (_, secret) in SAMPLES.items())
    (plain_dir / "settings.py").write_text(body + "\n")
    result = scan(*fmt, ".")
    assert result.exit_code == 1
    for _, secret in SAMPLES.values():
        middle = len(secret) // 2
        assert secret not in result.output
        assert secret[middle - 6 : middle + 6] not in result.output


def test_json_lists_every_finding(plain_dir: Path) -> None:
    _, key = SAMPLES["github-pat"]
    (plain_dir / "a.txt").write_text(f"{key}\n{key}\n")
    document = json.loads(scan("--json", ".").stdout)
    assert document["count"] == 2
    assert {(f["file"], f["line"], f["rule"]) for f in document["findings"]} == {
        ("a.txt", 1, "github-token"),
        ("a.txt", 2, "github-token"),
    }


def test_sarif_has_the_2_1_0_shape(plain_dir: Path) -> None:
    _, key = SAMPLES["google"]
    (plain_dir / "maps.js").write_text(f"const key = '{key}';\n")
    log = json.loads(scan("--sarif", ".").stdout)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    (result,) = run["results"]
    assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == "google-api-key"
    location = result["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": "maps.js"}, "region": {"startLine": 1}}
    (fingerprint,) = result["partialFingerprints"].values()
    assert len(fingerprint) == 64
    assert int(fingerprint, 16) >= 0


def test_baseline_hides_accepted_findings_but_not_new_ones(plain_dir: Path) -> None:
    _, old = SAMPLES["stripe-live"]
    _, new = SAMPLES["slack-bot"]
    (plain_dir / "old.py").write_text(f"X = '{old}'\n")
    assert scan("--baseline", "base.json", "--update-baseline", "old.py").exit_code == 0
    baseline_text = (plain_dir / "base.json").read_text()
    assert old not in baseline_text
    assert scan("--baseline", "base.json", "old.py").exit_code == 0
    (plain_dir / "new.py").write_text(f"Y = '{new}'\n")
    result = scan("--json", "--baseline", "base.json", "old.py", "new.py")
    assert [f["file"] for f in json.loads(result.stdout)["findings"]] == ["new.py"]


def test_missing_baseline_is_a_usage_error(plain_dir: Path) -> None:
    result = scan("--baseline", "nope.json", ".")
    assert result.exit_code == 2
    assert "--update-baseline" in result.output


def test_malformed_baseline_is_a_usage_error(plain_dir: Path) -> None:
    (plain_dir / "base.json").write_text("[1, 2")
    result = scan("--baseline", "base.json", ".")
    assert result.exit_code == 2
    assert "not a keyplane baseline" in result.output


def test_allow_listed_line_is_not_reported(plain_dir: Path) -> None:
    _, key = SAMPLES["aws-akia"]
    (plain_dir / "docs.md").write_text(f"example: {key}  <!-- keyplane:allow -->\n")
    assert scan(".").exit_code == 0


def test_binary_and_vendored_files_are_left_out(plain_dir: Path) -> None:
    _, key = SAMPLES["github-pat"]
    (plain_dir / "blob.bin").write_bytes(b"\0\1" + key.encode())
    (plain_dir / "node_modules" / "lib").mkdir(parents=True)
    (plain_dir / "node_modules" / "lib" / "index.js").write_text(key)
    assert scan(".").exit_code == 0
    (plain_dir / "app.py").write_text(key)
    assert scan(".").exit_code == 1


def _big_file(root: Path) -> None:
    (root / "big.txt").write_text("x" * 5000)


def test_a_file_over_the_limit_is_reported_and_exits_3(plain_dir: Path) -> None:
    _big_file(plain_dir)
    result = scan("--max-file-size", "1000", ".")
    assert result.exit_code == 3
    assert "skipped big.txt: too large" in result.stderr
    assert "1 file(s) NOT scanned" in result.stderr


def test_json_reports_skipped_files_and_says_the_scan_is_incomplete(plain_dir: Path) -> None:
    _big_file(plain_dir)
    result = scan("--json", "--max-file-size", "1000", ".")
    assert result.exit_code == 3
    document = json.loads(result.stdout)
    assert document["complete"] is False
    assert document["skipped"] == [{"file": "big.txt", "reason": "too large", "bytes": 5000}]
    clean = json.loads(scan("--json", ".").stdout)
    assert (clean["complete"], clean["skipped"]) == (True, [])


def test_sarif_reports_skipped_files_as_warnings(plain_dir: Path) -> None:
    _big_file(plain_dir)
    result = scan("--sarif", "--max-file-size", "1000", ".")
    assert result.exit_code == 3
    (invocation,) = json.loads(result.stdout)["runs"][0]["invocations"]
    (notice,) = invocation["toolExecutionNotifications"]
    assert notice["level"] == "warning"
    assert notice["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "big.txt"
    assert "too large" in notice["message"]["text"]


def test_secrets_found_win_over_skips_in_the_exit_status(plain_dir: Path) -> None:
    _big_file(plain_dir)
    _, key = SAMPLES["github-pat"]
    (plain_dir / "app.py").write_text(key)
    result = scan("--json", "--max-file-size", "1000", ".")
    assert result.exit_code == 1
    assert [s["file"] for s in json.loads(result.stdout)["skipped"]] == ["big.txt"]


def test_a_staged_change_over_the_limit_is_reported(repo: Repo) -> None:
    repo.write("dump.sql", "insert into t values (1);\n" * 100)
    repo.git("add", "dump.sql")
    result = scan("--staged", "--json", "--max-file-size", "1000")
    assert result.exit_code == 3
    assert json.loads(result.stdout)["skipped"][0]["file"] == "dump.sql"


def test_gitignored_files_are_skipped_in_a_work_tree(repo: Repo) -> None:
    _, key = SAMPLES["github-oauth"]
    repo.write(".gitignore", "secrets/\n")
    repo.write("secrets/token.txt", key)
    assert scan(".").exit_code == 0
    repo.write("untracked.txt", key)
    result = scan("--json", ".")
    assert [f["file"] for f in json.loads(result.stdout)["findings"]] == ["untracked.txt"]


def test_a_git_ignored_directory_named_explicitly_is_scanned(repo: Repo) -> None:
    _, key = SAMPLES["github-oauth"]
    repo.write(".gitignore", "secrets/\n.venv/\n")
    repo.write("secrets/deep/token.txt", key)
    repo.write(".venv/lib/python3.11/site-packages/pkg/config.py", f"K = '{key}'\n")
    assert scan(".").exit_code == 0
    result = scan("--json", "secrets")
    assert [f["file"] for f in json.loads(result.stdout)["findings"]] == ["secrets/deep/token.txt"]
    assert scan(".venv/lib/python3.11/site-packages").exit_code == 1
    assert scan(".venv").exit_code == 1
    assert scan("secrets/deep/token.txt").exit_code == 1


def test_a_vendored_directory_named_explicitly_is_scanned_outside_git(plain_dir: Path) -> None:
    _, key = SAMPLES["github-oauth"]
    target = plain_dir / ".venv" / "lib" / "python3.11" / "site-packages" / "pkg"
    target.mkdir(parents=True)
    (target / "config.py").write_text(f"K = '{key}'\n")
    assert scan(".").exit_code == 0
    assert scan(".venv").exit_code == 1
    assert scan(".venv/lib/python3.11/site-packages").exit_code == 1
