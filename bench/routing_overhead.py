"""What routing by model costs a gateway call: 50 upstreams with 500 patterns vs one upstream.

    .venv/bin/python bench/routing_overhead.py [--calls 200000] [--repeats 5]

In one process and one run, the gateway's routing step (``Upstreams.route``: the first
upstream whose glob patterns match, then its fallbacks) for the one upstream of the
``KEYPLANE_UPSTREAM_*`` settings, and for 50 upstreams of 10 patterns each. Three loads for
the 50: ``hot`` (20 model names, as a real deployment sees: answered from the cache),
``cold last`` (a name never seen before on every call, matched by the last upstream: the
cache misses, the prefix index and a glob run) and ``cold first`` (never seen, matched by
the first). Prints the best of
``--repeats`` runs in µs of CPU time per call (the process's, so a busy machine inflates
it less than wall time) and the difference to one upstream; the target is at most
5 µs more per call. Not a test: it gates nothing. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable, Iterator

from pydantic import SecretStr

from keyplane.gateway.endpoints import CHAT
from keyplane.gateway.upstreams import Upstreams
from keyplane.upstreams.spec import Provider, UpstreamSpec

UPSTREAMS, PATTERNS = 50, 10


def spec(name: str, models: tuple[str, ...], fallbacks: tuple[str, ...] = ()) -> UpstreamSpec:
    return UpstreamSpec(
        name=name,
        provider=Provider.OPENAI_COMPATIBLE,
        base_url="http://127.0.0.1:9/v1",
        api_key=SecretStr("sk-bench"),
        key_source="${BENCH}",
        models=models,
        fallbacks=fallbacks,
    )


def many() -> Upstreams:
    """50 upstreams, 10 patterns each: prefixes, exact names, ``?`` and ``[...]`` globs."""
    specs = []
    for u in range(UPSTREAMS):
        models = tuple(
            (f"vendor{u}-family{k}-*", f"vendor{u}-exact-{k}", f"v{u}-m?-{k}", f"r{u}-[ab]{k}*")[
                k % 4
            ]
            for k in range(PATTERNS)
        )
        fallback = (f"u{(u + 1) % UPSTREAMS}",)
        specs.append(spec(f"u{u}", models, fallback))
    return Upstreams(specs)


def one() -> Upstreams:
    return Upstreams([spec("openai", ("*",))])


def per_call_us(route: Callable[[str], object], names: Iterator[str], calls: int) -> float:
    batch = list(itertools.islice(names, calls))
    start = time.process_time_ns()
    for name in batch:
        route(name)
    return (time.process_time_ns() - start) / calls / 1000


def fresh(template: str) -> Iterator[str]:
    return (template.format(i) for i in itertools.count())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    single, fifty = one(), many()
    hot = [f"vendor{u}-family0-{i}" for u, i in zip(range(0, 50, 5), range(10), strict=False)]
    hot += [f"vendor{u}-exact-1" for u in range(10)]
    loads: dict[str, tuple[Upstreams, Callable[[], Iterator[str]]]] = {
        "1 upstream": (single, lambda: itertools.cycle(hot)),
        "50/500 hot": (fifty, lambda: itertools.cycle(hot)),
        "50/500 cold last": (fifty, lambda: fresh("vendor49-family0-{}")),
        "50/500 cold first": (fifty, lambda: fresh("vendor0-family0-{}")),
    }
    best = {name: float("inf") for name in loads}
    for _ in range(args.repeats):  # interleaved, so a noisy moment hits every load alike
        for name, (upstreams, names) in loads.items():
            route = lambda model, u=upstreams: u.route(CHAT, model)  # noqa: E731
            best[name] = min(best[name], per_call_us(route, names(), args.calls))
    base = best["1 upstream"]
    print(f"{'load':<20} {'µs/call':>8} {'vs 1 upstream':>14}")
    for name, value in best.items():
        print(f"{name:<20} {value:8.3f} {value - base:+13.3f}")


if __name__ == "__main__":
    main()
