"""How fast ``keyplane scan`` reads source, against ``grep -E -r -c`` with the same rules.

Generates a synthetic tree of code-like text (size from ``--megabytes``) with a few planted
fake secrets, then times keyplane's scanner (walk + read + match, one core) and GNU grep
over it, both with a warm page cache. Prints MB/s for each and the ratio. Not a test.

    .venv/bin/python bench/scan_speed.py [--megabytes 150]
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import string
import subprocess
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


def to_ere(pattern: str) -> str:
    """Python regex to POSIX ERE: plain groups, and no look-arounds (ERE has none).

    Huge counted repeats become open ones: grep's DFA grows with the count, and grep is
    line-based anyway, so a multi-line private key never matches there.
    """
    pattern = re.sub(r"\(\?![^)]*\)", "", pattern)
    pattern = re.sub(r"\{(\d+),\d{4,}\}", r"{\1,}", pattern)
    return pattern.replace("(?:", "(")


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
    subprocess.run([*args, str(root)], stdout=subprocess.DEVNULL, env={"LC_ALL": "C"}, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keyplane-bench-") as tmp:
        root = Path(tmp)
        planted = build_tree(root, args.megabytes)
        time_keyplane(root)  # warm the page cache for both contenders
        seconds, size, found = time_keyplane(root)
        grep_seconds = time_grep(root)
    megabytes = size / 1e6
    ours, theirs = megabytes / seconds, megabytes / grep_seconds
    print(f"tree: {megabytes:.0f} MB, {planted} planted secrets, {found} found")
    print(f"keyplane scan: {seconds:.2f} s  {ours:.0f} MB/s")
    print(f"grep -E -r -c: {grep_seconds:.2f} s  {theirs:.0f} MB/s")
    print(f"keyplane / grep: {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
