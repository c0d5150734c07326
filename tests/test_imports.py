"""The import rules (docs/architecture.md, "Layers"): contracts kept, no module in a cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "config", "workers", "emulators", "demo")


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """One shortest cycle through each direct import that is part of a cycle, as module paths."""
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycles.append([importer, *back])
    return cycles


def test_import_linter_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_module_is_part_of_an_import_cycle():
    # grimp reads imports inside functions too: a lazy import does not hide a cycle.
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    cycles = import_cycles(graph)
    assert cycles == [], "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_cycle_finder_reports_every_import_on_a_cycle():
    graph = grimp.ImportGraph()
    for importer, imported in [("pkg.api", "pkg.bulk"), ("pkg.bulk", "pkg.api"), ("pkg.api", "x")]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [
        ["pkg.api", "pkg.bulk", "pkg.api"],
        ["pkg.bulk", "pkg.api", "pkg.bulk"],
    ]
