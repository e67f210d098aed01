"""Full garbage collections in a test process: one every few tests, not one per app started.

An app's lifespan collects the whole heap, then freezes it (``keyplane.app``): in a server,
what is alive by then lives as long as the process. In a test process the heap holds every
test module's imports (~450,000 objects) and most tests start an app, so each paid a full
collection (0.15 s, 1,000 times a run). Frozen before each test, that heap is out of the
lifespan's collection, which then walks only the test's own objects; a full collection
every few tests frees what earlier tests left in reference cycles (their apps, mostly).
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator

import pytest

FULL_EVERY = 25  # tests between full collections: 25 tests' garbage is a few MB at most

_TESTS = pytest.StashKey[Iterator[int]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_TESTS] = itertools.count(1)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    counted: Iterator[int] = item.config.stash[_TESTS]
    if next(counted) % FULL_EVERY == 0:
        gc.unfreeze()
        gc.collect()
    gc.freeze()
