"""How fast ``keyplane scan`` is: throughput beside ``grep -E``, many hits, and start-up.

Three measurements, each beside a baseline taken in the same run:

1. Throughput. A synthetic tree of code-like text (``--megabytes``) with a few planted fake
   secrets; keyplane's scanner (walk + read + match, one core) against GNU grep with the same
   rules turned into POSIX EREs, both over a warm page cache. MB/s each, and the ratio.
2. Many hits. One 2 MB file holding 95,000 fake AWS key ids, one a line (the shape of moto's
   fixtures): the time to scan it, where the target is under 1 s. CPU time is shown too: on
   a busy machine it is the steadier figure.
3. Start-up. ``keyplane scan --staged`` in a repository with a one-file commit staged, and
   ``keyplane doctor``, each as a fresh process, beside ``python -c pass``: the median of
   ``--runs`` runs each, and the difference (what keyplane adds to Python's own start).

Not a test: the machine is shared, so read the ratios, not the absolute times.

    .venv/bin/python bench/scan_speed.py [--megabytes 150] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from keyplane.keys.format import KeyKind, generate_key
from keyplane.scan.finder import WalkStats, scan_paths
from keyplane.scan.patterns import Detector

FILE_SIZE = 64 * 1024
LINES = [
    "import os",
    "from typing import Any",
    "def handle_request(request: Request, session: Session) -> Response:",
    '    """Return the task list for the signed-in user."""',
    "    tasks = session.query(Task).filter(Task.owner_id == user.id).all()",
    "    if not tasks and request.args.get('strict'):",
    "        raise NotFound('no tasks for this user')",
    "    return jsonify([task.to_dict() for task in tasks])",
    "const token = process.env.GITHUB_TOKEN; // never commit a real one",
    "export async function fetchSkills(askId, options = {}) {",
    "  const response = await fetch(`${BASE_URL}/asks/${askId}`, { headers });",
    "for (let index = 0; index < items.length; index += 1) { total += items[index].size; }",
    "# Region: ASIA-PACIFIC, see the risk_level and task_queue settings",
    "    api_key = os.environ['OPENAI_API_KEY']",
    "SELECT id, name, created_at FROM projects WHERE archived = false ORDER BY name;",
    "",
]
HITS = 95_000
BASE32 = string.ascii_uppercase + "234567"


def code_text(rng: random.Random, size: int) -> str:
    """Roughly ``size`` characters of code-like lines with random identifiers."""
    parts: list[str] = []
    length = 0
    while length < size:
        line = rng.choice(LINES)
        if rng.random() < 0.2:
            line += f"  # {''.join(rng.choices(string.ascii_letters + string.digits, k=24))}"
        parts.append(line)
        length += len(line) + 1
    return "\n".join(parts) + "\n"


def build_tree(root: Path, megabytes: int) -> int:
    """Write the tree; return how many secrets were planted."""
    rng = random.Random(7)
    bodies = [code_text(rng, FILE_SIZE) for _ in range(64)]
    count = megabytes * 1024 * 1024 // FILE_SIZE
    planted = 0
    for number in range(count):
        body = bodies[number % len(bodies)]
        if number % 500 == 0:
            body += f"LEAKED = '{generate_key(KeyKind.PROJECT)}'\n"
            planted += 1
        directory = root / f"pkg{number // 100:03d}"
        directory.mkdir(exist_ok=True)
        (directory / f"module_{number}.py").write_text(f"# file {number}\n{body}")
    return planted


_BRACKET_CLASSES = {"s": "[:space:]", "w": "[:alnum:]_", "d": "0-9"}
_CLASSES = {"s": "[[:space:]]", "w": "[[:alnum:]_]", "d": "[0-9]"}


def to_ere(pattern: str) -> str:
    """Python regex to POSIX ERE: plain groups, no look-arounds, no lazy or inline flags.

    Huge counted repeats become open ones: grep's DFA grows with the count, and grep is
    line-based anyway, so a multi-line private key never matches there. Case-insensitive
    groups stay case-sensitive: close enough for a throughput baseline.
    """
    pattern = re.sub(r"\(\?![^)]*\)", "", pattern)
    pattern = re.sub(r"\(\?P<\w+>|\(\?i:|\(\?:", "(", pattern)
    pattern = re.sub(r"\{(\d+),\d{4,}\}", r"{\1,}", pattern)
    pattern = pattern.replace("}?", "}")
    out: list[str] = []
    in_bracket, index = False, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escaped = pattern[index + 1]
            classes = _BRACKET_CLASSES if in_bracket else _CLASSES
            if escaped in classes:
                out.append(classes[escaped])
            elif in_bracket:
                out.append(escaped)  # a backslash is literal inside a POSIX bracket
            else:
                out.append(char + escaped)
            index += 2
            continue
        if char == "[" and not in_bracket:
            in_bracket = True
        elif char == "]" and in_bracket and out and out[-1] not in ("[", "[^"):
            in_bracket = False
        out.append(char)
        index += 1
    return "".join(out)


def time_keyplane(root: Path) -> tuple[float, int, int]:
    detector = Detector()
    stats = WalkStats()
    started = time.perf_counter()
    findings = scan_paths([root], detector, stats=stats)
    return time.perf_counter() - started, stats.bytes, len(findings)


def time_grep(root: Path) -> float:
    grep = shutil.which("grep")
    if grep is None:
        raise SystemExit("grep not found")
    args = [grep, "-E", "-r", "-c"]
    for rule in Detector().rules:
        args += ["-e", to_ere(rule.pattern)]
    started = time.perf_counter()
    subprocess.run([*args, str(root)], stdout=subprocess.DEVNULL, env={"LC_ALL": "C"}, check=True)
    return time.perf_counter() - started


def many_hits(root: Path) -> tuple[float, float, int, int]:
    """Scan one file of ``HITS`` fake AWS key ids: wall and CPU seconds, bytes, findings."""
    rng = random.Random(11)
    ids = ("AKIA" + "".join(rng.choices(BASE32, k=16)) for _ in range(HITS))
    path = root / "fixtures.txt"
    path.write_text("\n".join(ids) + "\n")
    started, cpu = time.perf_counter(), time.process_time()
    findings = scan_paths([path], Detector())
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return wall, cpu, path.stat().st_size, len(findings)


def _median_run(command: list[str], cwd: Path, runs: int) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def start_up(root: Path, runs: int) -> dict[str, float]:
    """Median wall time of fresh processes: bare Python, scan --staged, doctor."""
    repo = root / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / ".gitignore").write_text(".env\n")
    subprocess.run([*git, "add", ".gitignore"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    (repo / "app.py").write_text("import os\n\nKEY = os.environ['OPENAI_API_KEY']\n")
    subprocess.run([*git, "add", "app.py"], check=True)
    commands = {
        "python -c pass": ["-c", "pass"],
        "keyplane scan --staged": ["-m", "keyplane", "scan", "--staged"],
        "keyplane doctor": ["-m", "keyplane", "doctor"],
    }
    return {
        name: _median_run([sys.executable, *args], repo, runs) for name, args in commands.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=150)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keyplane-bench-") as tmp:
        root = Path(tmp) / "tree"
        root.mkdir()
        planted = build_tree(root, args.megabytes)
        time_keyplane(root)  # warm the page cache for both contenders
        seconds, size, found = time_keyplane(root)
        grep_seconds = time_grep(root)
        hits_seconds, hits_cpu, hits_size, hits_found = many_hits(Path(tmp))
        started = start_up(Path(tmp), args.runs)
    megabytes = size / 1e6
    ours, theirs = megabytes / seconds, megabytes / grep_seconds
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (2 shared cores: figures are noisy)")
    print(f"(1) tree: {megabytes:.0f} MB, {planted} planted secrets, {found} found")
    print(f"    keyplane scan: {seconds:.2f} s  {ours:.0f} MB/s")
    print(f"    grep -E -r -c: {grep_seconds:.2f} s  {theirs:.0f} MB/s")
    print(f"    keyplane / grep: {ours / theirs:.2f}x")
    hits_file = f"one {hits_size / 1e6:.1f} MB file, {hits_found} hits"
    print(f"(2) {hits_file}: {hits_seconds:.2f} s, {hits_cpu:.2f} s of CPU (target < 1 s)")
    base = started["python -c pass"]
    print(f"(3) start-up, median of {args.runs} fresh processes:")
    for name, value in started.items():
        extra = f"  (+{(value - base) * 1000:.0f} ms over python)" if value is not base else ""
        print(f"    {name:<24} {value * 1000:6.0f} ms{extra}")


if __name__ == "__main__":
    main()
