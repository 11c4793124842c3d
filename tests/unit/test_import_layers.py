"""No import cycle between the top-level packages of copilot_hybrid, imports
inside functions included. `lint-imports` (tox -e lint, contract in
pyproject.toml) checks the whole layer order; this catches a cycle in the
test run too."""

from __future__ import annotations

import grimp

PACKAGE = "copilot_hybrid"


def package_graph() -> dict[str, set[str]]:
    """Top-level package -> the top-level packages it imports."""
    graph = grimp.build_graph(PACKAGE, cache_dir=None)

    def top(module: str) -> str:
        return ".".join(module.split(".")[:2])

    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if top(module) != top(imported) and PACKAGE not in (top(module), top(imported)):
                edges.setdefault(top(module), set()).add(top(imported))
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(edges.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(edges):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}}) is None


def test_no_import_cycle_between_packages() -> None:
    edges = package_graph()
    assert {"copilot_hybrid.server", "copilot_hybrid.tokenizer", "copilot_hybrid.rollout"} <= set(edges)
    cycle = find_cycle(edges)
    assert cycle is None, " -> ".join(cycle or [])


def test_rollout_and_native_import_no_feature() -> None:
    """The seam: rollout wraps features without importing them; native knows none."""
    edges = package_graph()
    features = {
        "copilot_hybrid.tokenizer",
        "copilot_hybrid.rate_limit",
        "copilot_hybrid.stream_translate",
        "copilot_hybrid.features",
    }
    assert not edges["copilot_hybrid.rollout"] & features
    assert not edges["copilot_hybrid.native"] & (features | {"copilot_hybrid.rollout"})
