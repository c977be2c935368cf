"""The layout: folders say where code runs, and imports go one way.

- `hub/` is the hub process: it never imports TensorFlow (nor anything of the library but its settings);
- `singleuser/` and `course/` run on a student's side: they never import the hub;
- `testkit/` is test tooling: nothing that ships imports it;
- no import cycle in `course/`, counting imports inside functions too.
"""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("course", "hub", "singleuser", "testkit")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def _imports(module: str) -> set[str]:
    """Every module `module` imports anywhere in its file (function bodies included), absolute names."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    # A module's own parent packages are already importing when it runs: no edge back to them.
    parents = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    return found - parents


def _own(names: set[str], prefix: str) -> set[str]:
    return {n for n in names if n in MODULES and (n == prefix or n.startswith(prefix + "."))}


def test_no_import_cycle_in_the_library():
    graph = {m: _own(_imports(m), "course") - {m} for m in MODULES if m.split(".")[0] == "course"}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_the_students_side_never_imports_the_hub():
    for module in MODULES:
        if module.split(".")[0] in ("course", "singleuser"):
            hub = {n for n in _imports(module) if n == "hub" or n.startswith("hub.")}
            assert not hub, f"{module} imports {sorted(hub)}: code on a student's side must not import the hub"


def test_the_hub_never_imports_tensorflow_or_the_library_beyond_its_settings():
    for module in MODULES:
        if module.split(".")[0] != "hub":
            continue
        names = _imports(module)
        heavy = {n for n in names if n.split(".")[0] in ("tensorflow", "keras", "numpy", "matplotlib", "jupyterlab")}
        assert not heavy, f"{module} imports {sorted(heavy)}: the hub's environment has no TensorFlow or JupyterLab"
        library = {n for n in names if n.split(".")[0] == "course"} - {"course", "course.settings"}
        assert not library, f"{module} imports {sorted(library)}: the hub reads only the settings registry"


def test_nothing_that_ships_imports_the_test_tooling():
    for module in MODULES:
        if module.split(".")[0] != "testkit":
            assert not {n for n in _imports(module) if n.split(".")[0] == "testkit"}, module


def test_the_jupyterhub_config_stays_thin():
    lines = [line for line in (REPO / "hub" / "jupyterhub_config.py").read_text().splitlines()
             if line.strip() and not line.strip().startswith("#")]
    assert len(lines) <= 40, "hub/jupyterhub_config.py grew: move the logic into a tested module under hub/"
