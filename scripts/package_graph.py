"""Print keyplane's package graph: each top-level package and the packages it imports.

    .venv/bin/python scripts/package_graph.py

The layers these edges must respect are checked by ``lint-imports`` (pyproject.toml).
"""

from __future__ import annotations

from collections import defaultdict

import grimp


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def main() -> None:
    graph = grimp.build_graph("keyplane")
    edges: dict[str, set[str]] = defaultdict(set)
    for module in graph.modules:
        source = package_of(module)
        for imported in graph.find_modules_directly_imported_by(module):
            target = package_of(imported)
            if source and target and target != source:
                edges[source].add(target)
    for source in sorted({package_of(m) for m in graph.modules} - {""}):
        print(f"{source:10} -> {', '.join(sorted(edges[source])) or '(nothing)'}")


if __name__ == "__main__":
    main()
