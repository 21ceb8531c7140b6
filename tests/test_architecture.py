"""The dependency rules of ../shared/STYLE.md, checked by walking the imports with ``ast``.

Adapters only translate: they see the request/reply types, the settings and the ``bot.core.Core``
protocol they are handed, never the engine, the database, the audio decoder, the journal steps or
the message catalogue. The engine knows nothing of the product. No module imports itself back
through others at import time.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("bot", "engine", "adapters")
ADAPTERS_MAY_IMPORT = {"bot.core", "bot.requests", "bot.reply", "bot.settings"}
FORBIDDEN_IN_ADAPTERS = ("engine", "funasr", "torch", "sqlite3", "sqlite_utils", "pydub", "numpy")
LIFECYCLE_STEPS = {"accept", "claim", "finish", "pending", "add_job", "claim_job", "finish_job",
                   "pending_jobs"}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Modules ``path`` imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_adapters_import_only_the_seam():
    broken = []
    for name, path in modules().items():
        if not name.startswith("adapters"):
            continue
        for imported in imports(path):
            root = imported.split(".")[0]
            if root in FORBIDDEN_IN_ADAPTERS:
                broken.append(f"{name} imports {imported}")
            elif root == "bot" and imported not in ADAPTERS_MAY_IMPORT and not any(
                    imported.startswith(f"{allowed}.") for allowed in ADAPTERS_MAY_IMPORT):
                broken.append(f"{name} imports {imported}")
    assert [] == broken


def test_adapters_call_no_lifecycle_step_and_probe_nothing():
    broken = []
    for name, path in modules().items():
        if not name.startswith("adapters"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in LIFECYCLE_STEPS:
                broken.append(f"{name}:{node.lineno} uses .{node.attr}")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("hasattr", "getattr") and node.args
                    and isinstance(node.args[0], ast.Attribute | ast.Name)
                    and ast.unparse(node.args[0]).split(".")[-1] in ("core", "service")):
                broken.append(f"{name}:{node.lineno} probes {ast.unparse(node.args[0])}")
    assert [] == broken


def test_the_engine_knows_nothing_of_the_product():
    broken = [f"{name} imports {imported}" for name, path in modules().items()
              if name.startswith("engine") for imported in imports(path)
              if imported.split(".")[0] in ("bot", "adapters", "telegram", "slack_bolt",
                                            "slack_sdk", "sqlite_utils")]
    assert [] == broken


def test_no_import_cycles():
    mods = modules()
    graph = {name: {i for i in imports(path, top_level_only=True) if i in mods and i != name}
             for name, path in mods.items()}
    cycles = []

    def visit(name: str, trail: list[str]) -> None:
        for nxt in sorted(graph[name]):
            if nxt in trail:
                cycle = trail[trail.index(nxt):] + [nxt]
                if min(cycle[:-1]) == cycle[0]:  # report each cycle once
                    cycles.append(" -> ".join(cycle))
            elif len(trail) < 12:
                visit(nxt, trail + [nxt])

    for name in sorted(graph):
        visit(name, [name])
    assert [] == cycles


def test_the_rules_would_catch_a_break(tmp_path):
    """The walkers see what they claim to: a forbidden import and a journal call are found."""
    bad = tmp_path / "bad.py"
    bad.write_text("import sqlite_utils\nfrom bot.history import History\n"
                   "def f(core):\n    core.claim(1)\n    return hasattr(core, 'accept')\n",
                   encoding="utf-8")
    assert {"sqlite_utils", "bot.history", "bot.history.History"} == imports(bad)
    steps = [n.attr for n in ast.walk(ast.parse(bad.read_text())) if isinstance(n, ast.Attribute)]
    assert ["claim"] == steps
