"""No module of vsgnvc, ffmpeg_bridge or gui reaches itself through its imports (lazy ones inside functions count).

The layers and the package-level cycles are import-linter contracts in ``pyproject.toml`` (``lint-imports``,
run by ``make test``); this is the module-level check they leave open, e.g. a package's ``__init__`` and one of
its own modules importing each other.
"""

from __future__ import annotations

import grimp

PACKAGES = ("vsgnvc", "ffmpeg_bridge", "gui")


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_the_cycle_finder_finds_a_chain_back() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("p", "p.a"), ("p.a", "p.b"), ("p.b", "p"), ("p.b", "q"), ("q", "r")]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [["p", "p.a", "p.b"]]


def test_no_module_imports_itself_through_a_chain() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    # Every package is in the graph (a folder without __init__.py would silently drop out of it).
    assert {"vsgnvc.codec.decoder", "vsgnvc.api", "ffmpeg_bridge.sources", "gui.window"} <= graph.modules
    assert import_cycles(graph) == []
