"""Which upstream serves a model: the first whose glob patterns match it.

All patterns are compiled into one regular expression, one named group per upstream, in
the file's order; the regex engine tries alternatives left to right, so the group that
matches is the first upstream whose patterns match. Answers are cached per model name
(bounded: names come from clients), so routing costs a dict lookup once a name was seen
and one regex match when it was not (bench/routing_overhead.py, docs/benchmarks.md).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

_CACHE_SIZE = 10_000
_EVERYTHING = ("*",)


class ModelRouter:
    """Maps a model name to the index of the first upstream that serves it, or ``None``."""

    def __init__(self, patterns: Sequence[Sequence[str]]) -> None:
        self._everything = bool(patterns) and tuple(patterns[0]) == _EVERYTHING
        groups = [
            f"(?P<u{index}>{'|'.join(fnmatch.translate(p) for p in upstream)})"
            for index, upstream in enumerate(patterns)
            if upstream
        ]
        self._regex = re.compile("|".join(groups)) if groups else None
        self._cache: dict[str, int | None] = {}

    def route(self, model: str) -> int | None:
        """The index of the first upstream whose patterns match ``model``."""
        if self._everything:
            return 0
        try:
            return self._cache[model]
        except KeyError:
            pass
        found = self._match(model)
        if len(self._cache) < _CACHE_SIZE:
            self._cache[model] = found
        return found

    def _match(self, model: str) -> int | None:
        match = self._regex.match(model) if self._regex is not None else None
        if match is None or match.lastgroup is None:
            return None
        return int(match.lastgroup[1:])
