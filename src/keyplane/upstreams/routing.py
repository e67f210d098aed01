"""Which upstream serves a model: the first whose glob patterns match it.

Patterns without wildcards go into one dict; the others are indexed by their literal
prefix (what comes before the first ``*``, ``?`` or ``[``), so a name is compared only with
the patterns whose prefix it starts with: one dict lookup per distinct prefix length, then
a regex or two, however many upstreams there are. The lowest upstream index among the
patterns that match wins. Answers are cached per model name (bounded: names come from
clients). bench/routing_overhead.py measures it (docs/benchmarks.md).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

_CACHE_SIZE = 10_000
_UNSEEN, _NONE = -2, -1  # cache values besides upstream indexes
_EVERYTHING = ("*",)
_WILDCARD = re.compile(r"[*?\[]")


class ModelRouter:
    """Maps a model name to the index of the first upstream that serves it, or ``None``."""

    def __init__(self, patterns: Sequence[Sequence[str]]) -> None:
        self._everything = bool(patterns) and tuple(patterns[0]) == _EVERYTHING
        self._exact: dict[str, int] = {}
        # prefix length -> prefix -> (upstream index, compiled glob), in upstream order
        self._globs: dict[int, dict[str, list[tuple[int, re.Pattern[str]]]]] = {}
        for index, upstream in enumerate(patterns):
            for pattern in upstream:
                self._add(index, pattern)
        self._lengths = sorted(self._globs)
        self._cache: dict[str, int] = {}

    def _add(self, index: int, pattern: str) -> None:
        wildcard = _WILDCARD.search(pattern)
        if wildcard is None:
            self._exact.setdefault(pattern, index)
            return
        prefix = pattern[: wildcard.start()]
        by_prefix = self._globs.setdefault(len(prefix), {})
        by_prefix.setdefault(prefix, []).append((index, re.compile(fnmatch.translate(pattern))))

    def route(self, model: str) -> int | None:
        """The index of the first upstream whose patterns match ``model``."""
        if self._everything:
            return 0
        cached = self._cache.get(model, _UNSEEN)  # no KeyError: raising costs a microsecond
        if cached != _UNSEEN:
            return None if cached == _NONE else cached
        found = self._match(model)
        if len(self._cache) < _CACHE_SIZE:
            self._cache[model] = _NONE if found is None else found
        return found

    def _match(self, model: str) -> int | None:
        best = self._exact.get(model)
        for length in self._lengths:
            if length > len(model):
                break
            for index, glob in self._globs[length].get(model[:length], ()):
                if best is not None and index >= best:
                    break  # only an earlier upstream could still win
                if glob.match(model):
                    best = index
                    break
        return best
