"""``--sarif`` output is valid against the OASIS SARIF 2.1.0 schema (vendored in data/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from keyplane.cli.scan import scan_command
from scan.scan_fakes import Repo, samples

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
SAMPLES = samples()


def sarif(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(scan_command, ["--sarif", *args])
    assert result.exit_code in (0, 1, 3), result.output
    log: dict[str, Any] = json.loads(result.stdout)
    return log


def assert_valid(log: dict[str, Any]) -> None:
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(log), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_the_schema_rejects_a_broken_log() -> None:
    # The check can fail: a log without its version is not SARIF.
    validator = jsonschema.Draft4Validator(SCHEMA)
    assert not validator.is_valid({"runs": []})
    assert not validator.is_valid({"version": "2.1.0", "runs": [{"tool": {}}]})


def test_an_empty_scan_is_a_valid_log(plain_dir: Path) -> None:
    (plain_dir / "app.py").write_text("print('hello')\n")
    assert_valid(sarif("."))


def test_every_rule_and_a_skip_make_a_valid_log(plain_dir: Path) -> None:
    body = "\n".join(f"{name} = '''{secret}'''" for name, (_, secret) in SAMPLES.items())
    (plain_dir / "my settings #1.py").write_text(body + "\n")
    (plain_dir / "big.txt").write_text("x" * 50_000)
    log = sarif("--max-file-size", "40000", ".")
    assert_valid(log)
    (run,) = log["runs"]
    assert {r["ruleId"] for r in run["results"]} == {rule for rule, _ in SAMPLES.values()}
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    }
    assert uris == {"my%20settings%20%231.py"}
    assert len(run["invocations"][0]["toolExecutionNotifications"]) == 1


def test_an_absolute_path_is_a_file_uri(plain_dir: Path) -> None:
    _, key = SAMPLES["groq"]
    (plain_dir / "a.py").write_text(f"k = '{key}'\n")
    log = sarif(str(plain_dir))
    assert_valid(log)
    (result,) = log["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == (plain_dir / "a.py").as_uri()


@pytest.mark.parametrize("mode", ["--history", "--staged"])
def test_git_modes_make_a_valid_log(repo: Repo, mode: str) -> None:
    _, key = SAMPLES["xai"]
    repo.write("a.py", f"k = '{key}'\n")
    if mode == "--history":
        repo.commit("add")
    else:
        repo.git("add", "a.py")
    log = sarif(mode, ".")
    assert_valid(log)
    assert len(log["runs"][0]["results"]) == 1
