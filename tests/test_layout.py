"""The code's layout as docs/architecture.md describes it, checked: small server modules in few folders, no import
cycle, a server that does not load the compiler, and each shared registry defined in one module only.

Read from the source with :mod:`ast` (imports inside functions count: a cycle through a function-level import is
still a cycle), except the compiler check, which imports the server in a fresh interpreter and looks at what
it loaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"calcinosis_kg": "kg", "ontology": "ontology", "graph": "graph", "queries": "queries", "server": "server"}
"""Subpackage of ``calcinosis_kg`` -> its folder (pyproject's ``package-dir``); ``calcinosis_kg`` is ``kg/``."""

MAX_SERVER_MODULE_LINES = 400
MAX_SERVER_ENTRIES = 11
"""Folders and modules at the top of ``server/``, besides ``__init__.py`` and ``__main__.py``."""

REGISTRIES = (
    "FORMATS",
    "DUMP_FORMATS",
    "LABEL_PREDICATES",
    "MAPPING_PREDICATES",
    "SSSOM_PREDICATES",
    "TARGET_SYSTEMS",
    "FHIR_EQUIVALENCE",
    "SSSOM_COLUMNS",
    "RDF_FORMATS",
    "negotiate",
    "bind_prefixes",
    "preferred_label",
    "SegmentedLRU",
    "build_dir",
    "error_parts",
)
"""Names of the shared registries and rules (issue: one registry per concept): each is defined at the top level
of exactly one module of the package, and every other module imports it from there."""

COMPILER = ("calcinosis_kg.graph.build", "calcinosis_kg.graph.compiler", "owlready2", "pyshacl")
"""What the server must not load: the graph compiler and its validators."""


def modules() -> Iterator[tuple[str, Path]]:
    """Every module of the package: (dotted name, file)."""
    for sub, folder in PACKAGES.items():
        prefix = "calcinosis_kg" if sub == "calcinosis_kg" else f"calcinosis_kg.{sub}"
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((prefix, *parts)).removesuffix(".__init__")
            yield name, path


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file, ``TYPE_CHECKING`` blocks left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
                package = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{package}.{base}" if base else package
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        found.update(target for target in targets if target in known and target != name)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycle() -> None:
    files = dict(modules())
    known = set(files)
    graph = {name: imports_of(name, path, known) for name, path in files.items()}
    assert sum(len(targets) for targets in graph.values()) > 100  # the scan sees the imports
    assert cycles(graph) == []


def test_a_cycle_is_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_server_is_small_modules_in_few_folders() -> None:
    server = ROOT / "server"
    long = {
        str(path.relative_to(ROOT)): lines
        for path in server.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_SERVER_MODULE_LINES
    }
    assert long == {}
    entries = [
        entry.name
        for entry in server.iterdir()
        if (entry.suffix == ".py" or (entry.is_dir() and (entry / "__init__.py").exists()))
        and entry.name not in ("__init__.py", "__main__.py")
    ]
    assert len(entries) <= MAX_SERVER_ENTRIES, sorted(entries)


@pytest.mark.parametrize("name", REGISTRIES)
def test_each_registry_is_defined_in_one_module(name: str) -> None:
    defining = []
    for module, path in modules():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
                defining.append(module)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(target, ast.Name) and target.id == name for target in targets):
                    defining.append(module)
    assert len(defining) == 1, f"{name} is defined in {defining}"


def test_the_server_does_not_load_the_compiler() -> None:
    script = (
        "import sys, calcinosis_kg.server.app, calcinosis_kg.server.http.serve\n"
        f"print(sorted(m for m in {COMPILER!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"
