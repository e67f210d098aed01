"""Python bytecodes one gateway call runs, in all and by function: a count, not a time.

    .venv/bin/python bench/bytecodes.py [--calls 400] [--limited] [--top 40] [--memory]
    .venv/bin/python bench/bytecodes.py --tree ../other-checkout     # the same, for that tree

On these shared cores the CPU a call takes drifts by a fifth within minutes, so a change
of a few per cent cannot be timed, only counted. This counts with ``sys.settrace``'s opcode
events over ``--calls`` calls of ``bench/limits_interleaved.py``'s setup (``create_app``'s
ASGI app, no HTTP server, the instant stand-in upstream), after as many calls to warm up,
for the key without limits or, with ``--limited``, the key with every limit. C code
(orjson, httptools, uvloop, the kernel) runs no bytecode and is not counted, nor are other
tasks (refreshes, flushes, the share sweeper); a share renewal a call waits for is. To
compare two trees, run it once as it is and once with ``--tree`` naming the other: the
harness is this tree's, the keyplane counted the other's. Not a test: it gates nothing.
See docs/benchmarks.md, "Bytecodes per call".
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent


def _tree_first() -> None:
    """With ``--tree T``, import T's keyplane instead of this tree's (the harness is this
    tree's either way)."""
    if "--tree" in sys.argv:
        tree = Path(sys.argv[sys.argv.index("--tree") + 1]).resolve()
        sys.path.insert(0, str(tree / "src"))


_tree_first()

import uvloop  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from limits_interleaved import call, run  # noqa: E402

Site = tuple[str, int, str]


class Counter:
    """Bytecodes run, by the function (file, first line, name) that ran them: in the task
    making the calls, or in callbacks outside any task (a connection's ``data_received``),
    not in other tasks (refreshes, flushes, the share sweeper), whose share of a call
    depends on how long the calls took, which is what this is meant not to measure."""

    def __init__(self, task: asyncio.Task[Any] | None) -> None:
        self.task = task
        self.counts: collections.Counter[Site] = collections.Counter()

    def trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        return self._opcode if event == "call" else None

    def _opcode(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode" and asyncio.current_task() in (None, self.task):
            code = frame.f_code
            self.counts[code.co_filename, code.co_firstlineno, code.co_name] += 1
        return self._opcode


def _short(filename: str) -> str:
    for marker in ("/src/", "/site-packages/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return os.path.basename(filename)


async def measure(app: FastAPI, plain: str, limited: str, args: argparse.Namespace) -> None:
    for key in (plain, limited):  # warm both paths, the caches and the shares
        for _ in range(args.calls):
            await call(app, key)
    key = limited if args.limited else plain
    counter = Counter(asyncio.current_task())
    sys.settrace(counter.trace)
    try:
        for _ in range(args.calls):
            await call(app, key)
    finally:
        sys.settrace(None)
    total = sum(counter.counts.values())
    which = "every limit" if args.limited else "no limits"
    print(f"{which}: {total / args.calls:.0f} bytecodes a call, over {args.calls} calls")
    for (filename, line, name), count in counter.counts.most_common(args.top):
        print(f"{count / args.calls:8.1f}  {_short(filename)}:{line} {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=400, help="calls counted (and warmed)")
    parser.add_argument("--limited", action="store_true", help="the key with every limit")
    parser.add_argument("--top", type=int, default=40, help="functions listed")
    parser.add_argument("--memory", action="store_true", help="the in-process backend")
    parser.add_argument("--tree", help="count another checkout's code (its src and bench)")
    args = parser.parse_args()
    uvloop.run(run(args, measure))


if __name__ == "__main__":
    main()
