"""Validation run on every build; any failure fails the build with a message naming the entity and the rule.

Four checks, each usable on its own:

- :func:`check_shacl` - the SHACL shapes (``ontology/shapes.ttl`` plus generated domain/range shapes);
- :func:`check_violation_queries` - every ``graph/violations/*-violation.rq`` must return no rows;
- :func:`check_consistency` - owlready2 loads the merged graph and HermiT (Java) checks that it is
  consistent and that no class is unsatisfiable;
- :func:`check_determinism` - two builds in separate processes (different hash seeds) are byte-identical.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import owlready2
from pyshacl import validate as shacl_validate
from rdflib import Graph, URIRef
from rdflib.namespace import RDF
from rdflib.term import Node

from calcinosis_kg.errors import ValidationFailed
from calcinosis_kg.formats import DUMP_FORMATS
from calcinosis_kg.graph.build import CONCEPTMAP_EXPORT, SSSOM_EXPORT, artifact_path, canonical_ntriples
from calcinosis_kg.graph.codesystems import CODE_SYSTEMS_FILE
from calcinosis_kg.graph.release import DIFF_JSON, DIFF_MARKDOWN, OBOGRAPHS_EXPORT
from calcinosis_kg.graph.shapes import load_shapes
from calcinosis_kg.ontology import SH, bind_prefixes

VIOLATIONS_DIR = Path(__file__).resolve().parent / "violations"
CONSISTENCY = "OWL consistency (HermiT)"


def _n3(graph: Graph, node: Node | None) -> str:
    return node.n3(graph.namespace_manager) if node is not None else "?"


def check_shacl(graph: Graph, shapes: Graph | None = None) -> None:
    """Validate ``graph`` (which must include the ontology) against the shapes; raise on any violation."""
    conforms, report, _ = shacl_validate(
        graph,
        shacl_graph=shapes if shapes is not None else load_shapes(graph),
        inference="none",
        advanced=True,
        allow_warnings=False,
    )
    if conforms:
        return
    assert isinstance(report, Graph)
    problems = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = _n3(graph, report.value(result, SH.focusNode))
        path = report.value(result, SH.resultPath)
        message = report.value(result, SH.resultMessage)
        where = f"{focus} {_n3(graph, path)}" if path is not None else focus
        problems.append(f"{where}: {message}")
    raise ValidationFailed("SHACL validation", sorted(problems))


@dataclass(frozen=True)
class ViolationQuery:
    """A ``*-violation.rq`` check: its name, the comment saying what it guards, and its SPARQL."""

    name: str
    guards: str
    sparql: str

    @classmethod
    def from_file(cls, path: Path) -> ViolationQuery:
        text = path.read_text(encoding="utf-8")
        comment = []
        for line in text.splitlines():
            if not line.startswith("#"):
                break
            comment.append(line.lstrip("# ").strip())
        return cls(path.name.removesuffix(".rq"), " ".join(comment), text)


def violation_queries(directory: Path = VIOLATIONS_DIR) -> list[ViolationQuery]:
    """Every ``*-violation.rq`` in ``directory``, in name order."""
    return [ViolationQuery.from_file(p) for p in sorted(directory.glob("*-violation.rq"))]


def check_violation_queries(graph: Graph, queries: list[ViolationQuery] | None = None) -> None:
    """Run every violation query; each row returned is a problem."""
    problems = []
    for query in queries if queries is not None else violation_queries():
        for row in graph.query(query.sparql):
            cells = ", ".join(_n3(graph, cell) for cell in row)  # type: ignore[union-attr]
            problems.append(f"{query.name}: {cells}  ({query.guards})")
    if problems:
        raise ValidationFailed("violation queries", problems)


def check_consistency(graph: Graph) -> None:
    """Load the graph into a fresh owlready2 world and run HermiT.

    Raises ValidationFailed when the ontology plus knowledge is inconsistent or has unsatisfiable classes,
    or when Java (needed by HermiT) is missing.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "merged.nt"
        path.write_text(canonical_ntriples(graph), encoding="utf-8")
        world = owlready2.World()
        ontology = world.get_ontology(path.as_uri()).load(format="ntriples")
        try:
            with ontology:
                owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError as exc:
            raise ValidationFailed(CONSISTENCY, [f"the ontology plus knowledge is inconsistent: {exc}"]) from exc
        except FileNotFoundError as exc:
            raise ValidationFailed(CONSISTENCY, [f"Java is required to run HermiT: {exc}"]) from exc
        except owlready2.OwlReadyJavaError as exc:
            raise ValidationFailed(CONSISTENCY, [f"HermiT failed: {str(exc).strip()[:2000]}"]) from exc
        unsatisfiable = sorted(str(cls.iri) for cls in world.inconsistent_classes() if cls is not owlready2.Nothing)
        world.close()
    if unsatisfiable:
        names = [URIRef(iri).n3(graph.namespace_manager) for iri in unsatisfiable]
        raise ValidationFailed(CONSISTENCY, [f"{name} is unsatisfiable" for name in names])


def _first_difference(a: bytes, b: bytes) -> str:
    left, right = a.decode(errors="replace").splitlines(), b.decode(errors="replace").splitlines()
    for number, (x, y) in enumerate(zip(left, right, strict=False), start=1):
        if x != y:
            return f"line {number}: {x[:120]!r} != {y[:120]!r}"
    return f"lengths differ: {len(left)} vs {len(right)} lines"


def compare_builds(first: Path, second: Path, names: list[str]) -> None:
    """Raise ValidationFailed naming each file that differs between two build folders or is missing from one."""
    problems = []
    for name in names:
        missing = [str(folder) for folder in (first, second) if not (folder / name).is_file()]
        if missing:
            problems.append(f"{name} was not written to {' nor '.join(missing)}")
            continue
        a, b = (first / name).read_bytes(), (second / name).read_bytes()
        if a != b:
            problems.append(f"{name} differs between two builds: {_first_difference(a, b)}")
    if problems:
        raise ValidationFailed("determinism", problems)


BuildCommand = Callable[[Path, str], list[str]]


def _cli_build_command(out: Path, seed: str) -> list[str]:
    del seed
    return [sys.executable, "-m", "calcinosis_kg.cli", "build", "--no-validate", "--out", str(out)]


def check_determinism(command: BuildCommand = _cli_build_command) -> None:
    """Build twice in fresh processes with different PYTHONHASHSEED values and compare every artifact."""
    names = [artifact_path(str(fmt.dump_extension)).name for fmt in DUMP_FORMATS]
    names += ["summary.json", "summary.md", "schema.md", SSSOM_EXPORT, CONCEPTMAP_EXPORT, CODE_SYSTEMS_FILE]
    names += [OBOGRAPHS_EXPORT, DIFF_JSON, DIFF_MARKDOWN]
    with tempfile.TemporaryDirectory() as tmp:
        outs = [Path(tmp) / "first", Path(tmp) / "second"]
        for out, seed in zip(outs, ("1", "2"), strict=True):
            env = {**os.environ, "PYTHONHASHSEED": seed}
            done = subprocess.run(command(out, seed), env=env, capture_output=True, text=True, check=False)  # noqa: S603
            if done.returncode != 0:
                raise ValidationFailed("determinism", [f"build failed: {done.stderr.strip()[-2000:]}"])
        compare_builds(outs[0], outs[1], names)


def validate_graph(graph: Graph, *, reasoner: bool = True) -> list[str]:
    """Run SHACL, the violation queries and (optionally) the reasoner; return the names of the checks passed."""
    bind_prefixes(graph)
    check_shacl(graph)
    check_violation_queries(graph)
    passed = ["SHACL shapes", f"{len(violation_queries())} violation queries"]
    if reasoner:
        check_consistency(graph)
        passed.append(CONSISTENCY)
    return passed
