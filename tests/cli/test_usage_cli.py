"""``keyplane usage`` against a real server: tables with totals, CSV, JSON, one-line errors."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from support.server import ServerProcess
from usage.report_rows import DAY, T0, insert_rows_into_file, row, sample_rows

WEEK = ("--since", "2026-01-05", "--until", "2026-01-12")
COSTS = [1, 2_500_000, 123_457, 16]


@pytest.fixture(scope="module")
def server(shared_server: ServerProcess) -> ServerProcess:
    """The shared server with known usage written straight into its database."""
    database = shared_server.workdir / ".keyplane" / "keyplane.db"
    insert_rows_into_file(database, sample_rows(shared_server.organization_id))
    return shared_server


def run(server: ServerProcess, *args: str) -> str:
    result = server.keyplane("usage", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_table_groups_by_model_biggest_cost_first_with_totals(server: ServerProcess) -> None:
    lines = run(server, *WEEK).splitlines()
    assert lines[0].split() == [
        "MODEL",
        "REQUESTS",
        "INPUT",
        "OUTPUT",
        "CACHED",
        "COST_USD",
    ]
    assert [line.split()[0] for line in lines[1:4]] == [
        "gpt-4o",
        "gpt-4o-mini",
        "text-embedding-3-small",
    ]
    assert lines[2].split() == ["gpt-4o-mini", "4", "500", "50", "0", "0.123458"]
    assert lines[4].split() == ["TOTAL", "6", "1,500", "70", "50", "2.623474"]
    assert "unpriced models, counted at $0: 1 requests" in lines[5]
    assert "9,999" not in "\n".join(lines)


def test_bucketed_table_has_a_row_per_day_key_and_project(server: ServerProcess) -> None:
    lines = run(server, *WEEK, "--bucket", "1d", "--group-by", "key,project").splitlines()
    assert lines[0].split()[:4] == ["TIME", "KEY", "PROJECT", "REQUESTS"]
    days = [" ".join(line.split()[:4]) for line in lines[1:-2]]
    assert days == [
        "2026-01-05 00:00 key_a proj_a",
        "2026-01-06 00:00 key_b proj_b",
        "2026-01-07 00:00 key_a proj_a",
    ]
    assert lines[-2].split()[0] == "TOTAL"


def test_csv_has_a_header_and_exact_sums(server: ServerProcess) -> None:
    records = list(
        csv.DictReader(io.StringIO(run(server, *WEEK, "--group-by", "project", "--csv")))
    )
    assert [r["project"] for r in records] == ["proj_a", "proj_b"]
    assert sum(int(r["cost_micro_usd"]) for r in records) == sum(COSTS)
    assert records[1]["cost_usd"] == "0.123457"
    assert records[0]["cached_tokens"] == "50"


def test_hourly_json_pages_through_every_bucket(server: ServerProcess) -> None:
    # 7 days of hours is 168 buckets per page at most: the CLI follows next_page.
    data: dict[str, Any] = json.loads(
        run(
            server,
            "--since",
            "2026-01-05",
            "--until",
            "2026-01-12T01:00",
            "--bucket",
            "1h",
            "--json",
        )
    )
    assert data["totals"]["cost_micro_usd"] == sum(COSTS)
    assert data["totals"]["cost_usd"] == "2.623474"
    assert data["totals"]["requests"] == 6
    assert [r["time"] for r in data["rows"]] == [
        "2026-01-05T00:00:00+00:00",
        "2026-01-05T01:00:00+00:00",
        "2026-01-06T01:00:00+00:00",
        "2026-01-07T00:00:00+00:00",
    ]


def test_no_grouping_gives_one_total(server: ServerProcess) -> None:
    data = json.loads(run(server, *WEEK, "--group-by", "none", "--json"))
    assert len(data["rows"]) == 1
    assert data["rows"][0]["input_tokens"] == data["totals"]["input_tokens"] == 1500


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--group-by", "user"], ["--group-by", "user"]),
        (["--since", "last tuesday"], ["--since"]),
        (["--since", "1d", "--until", "2d"], ["--until"]),
        (["--json", "--csv"], ["--json", "--csv"]),
    ],
)
def test_bad_options_fail_with_one_line(
    server: ServerProcess, args: list[str], words: list[str]
) -> None:
    result = server.keyplane("usage", *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert all(word in lines[0] for word in words)


def test_without_admin_key_exits_1_with_one_line(server: ServerProcess) -> None:
    result = server.keyplane("usage", env={"KEYPLANE_ADMIN_KEY": ""})
    assert result.returncode == 1
    assert "KEYPLANE_ADMIN_KEY" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_estimated_requests_are_marked_in_the_table_and_kept_in_csv(server: ServerProcess) -> None:
    # A week of its own: two calls whose tokens keyplane counted itself (streams cut short).
    start = T0 + 28 * DAY
    database = server.workdir / ".keyplane" / "keyplane.db"
    rows = [
        row(
            start,
            organization_id=server.organization_id,
            model="gpt-4o",
            requests=3,
            input_tokens=30,
            estimated_requests=2,
        ),
        row(start, organization_id=server.organization_id, model="gpt-4.1", requests=1),
    ]
    insert_rows_into_file(database, rows)
    week = ("--since", "2026-02-02", "--until", "2026-02-09")
    lines = run(server, *week).splitlines()
    marked = {line.split()[0]: line.split()[1] for line in lines[1:3]}
    assert marked == {"gpt-4o": "3*", "gpt-4.1": "1"}
    assert "estimated: 2 requests" in lines[-1]
    records = list(csv.DictReader(io.StringIO(run(server, *week, "--csv"))))
    assert {r["model"]: r["estimated_requests"] for r in records} == {"gpt-4o": "2", "gpt-4.1": "0"}
