"""The competency questions (queries/*.rq) give exactly the answers read from the article."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from calcinosis_kg.errors import QueryError
from calcinosis_kg.queries.catalog import load_catalog, load_query

ANSWERS: dict[str, dict[str, Any]] = yaml.safe_load(
    (Path(__file__).resolve().parent / "fixtures" / "competency-answers.yaml").read_text(encoding="utf-8")
)
CATALOG = load_catalog()


def _cell(graph: Graph, node: Node | None) -> str:
    if node is None:
        return ""
    if isinstance(node, URIRef):
        return node.n3(graph.namespace_manager)
    return str(node) if isinstance(node, Literal) else node.n3()


def _normalise(value: str) -> str:
    """Cells aggregated with GROUP_CONCAT have no defined order: compare their parts sorted."""
    parts = re.split(r", |; | \| ", value)
    return "\x00".join(sorted(parts))


def test_there_are_at_least_25_competency_questions() -> None:
    assert len(CATALOG) >= 25


def test_every_query_has_an_expected_answer() -> None:
    answered = {spec.get("query", name) for name, spec in ANSWERS.items()}
    assert set(CATALOG) - answered == set()


def test_every_query_is_documented() -> None:
    for query in CATALOG.values():
        assert query.summary, query.name
        assert query.description, query.name
        for param in query.params:
            assert param.description, f"{query.name}: parameter {param.name} has no description"


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_query_parses_and_has_the_form_read_from_its_text(name: str) -> None:
    query = CATALOG[name]
    assert query.query_type == str(query.prepared.algebra.name).removesuffix("Query").upper()


def test_a_query_that_does_not_parse_is_refused_when_first_prepared(tmp_path: Path) -> None:
    path = tmp_path / "broken.rq"
    path.write_text("#+ summary: broken\nPREFIX ex: <http://example.org/select#>\nASK { ?s ?p }\n", encoding="utf-8")
    query = load_query(path)
    assert query.query_type == "ASK"  # not SELECT: words inside IRIs and comments are not the form
    with pytest.raises(QueryError, match=r"broken\.rq: not valid SPARQL"):
        _ = query.prepared


def test_a_file_without_a_query_form_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.rq"
    text = "#+ summary: no query\n# SELECT in a comment\nPREFIX ex: <http://example.org/ask>\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(QueryError, match=r"empty\.rq: no SELECT, ASK, CONSTRUCT or DESCRIBE found"):
        load_query(path)


@pytest.mark.parametrize("case", sorted(ANSWERS))
def test_competency_question_answer(kg: Graph, case: str) -> None:
    spec = ANSWERS[case]
    query = CATALOG[spec.get("query", case)]
    columns: list[str] = spec["columns"]
    unordered = set(spec.get("unordered_cells", []))
    result = query.run(kg, spec.get("params", {}))
    rows = []
    for row in result:
        cells = {c: _cell(kg, row[c]) for c in columns}  # type: ignore[index]
        if all(cells.get(k) == v for k, v in spec.get("filter", {}).items()):
            rows.append(tuple(_normalise(cells[c]) if c in unordered else cells[c] for c in columns))
    expected = {
        tuple(_normalise(str(v)) if c in unordered else str(v) for c, v in zip(columns, row, strict=True))
        for row in spec["rows"]
    }
    assert len(rows) == len(set(rows)), f"{case}: duplicate rows {rows}"
    assert set(rows) == expected


SUBTYPE_HIERARCHY = """sources: [verywell-article]
evidence: IC
entities:
  - id: sub-subtype-example
    type: Subtype
    label: example form of dystrophic calcinosis cutis
    definition: A narrower form of dystrophic calcinosis cutis, placed here by a test.
    relations:
      subtypeOf:
        - {to: dystrophic-calcinosis-cutis, note: "Curator inference: a test places it."}
      treatedBy:
        - {to: diltiazem, evidence_level: case-reports, note: "Curator inference: a test treats it."}
      associatedWith:
        - {to: systemic-sclerosis, note: "Curator inference: a test links it."}
"""
"""A subtype of a subtype (linked from below with ``subtypeOf``), with a treatment and a disease it occurs in: the
shapes the clinical placements take (issue 23, item 6)."""


def test_subtypes_form_a_hierarchy_that_takes_treatments(tmp_path: Path) -> None:
    """A subtype of a subtype, treated and linked to a disease, passes validation and appears in the queries."""
    from calcinosis_kg.graph.build import build_graph
    from calcinosis_kg.graph.compiler import KNOWLEDGE_DIR
    from calcinosis_kg.graph.validate import check_shacl, check_violation_queries

    extra = tmp_path / "zz-subtypes.yaml"
    extra.write_text(SUBTYPE_HIERARCHY, encoding="utf-8")
    kg = build_graph([*sorted(KNOWLEDGE_DIR.glob("*.yaml")), extra])
    check_shacl(kg)
    check_violation_queries(kg)
    subtypes = {(str(r["subtypeLabel"]), str(r["parentLabel"])) for r in CATALOG["subtypes"].run(kg, {})}  # type: ignore[index]
    assert ("example form of dystrophic calcinosis cutis", "dystrophic calcinosis cutis") in subtypes
    options = {
        (str(r["conditionLabel"]), str(r["treatmentLabel"]), str(r["level"]))
        for r in CATALOG["management-options"].run(kg, {})
    }  # type: ignore[index]
    assert ("example form of dystrophic calcinosis cutis", "diltiazem", "case reports") in options
    weak = {
        (str(r["conditionLabel"]), str(r["treatmentLabel"])) for r in CATALOG["weak-evidence-treatments"].run(kg, {})
    }  # type: ignore[index]
    assert ("example form of dystrophic calcinosis cutis", "diltiazem") in weak


BELOW_A_DISPUTED_LINK = """sources: [verywell-article]
evidence: IC
entities:
  - id: calciphylaxis-form-example
    type: Subtype
    label: example form of calciphylaxis
    definition: A narrower form of calciphylaxis, placed here by a test.
    relations:
      subtypeOf:
        - {to: calciphylaxis, note: "Curator inference: a test places it."}
      treatedBy:
        - {to: diltiazem, evidence_level: case-reports, note: "Curator inference: a test treats it."}
      hasCause:
        - {to: chronic-kidney-disease, note: "Curator inference: a test gives it a cause."}
"""
"""A stated form of calciphylaxis, whose own place under calcinosis cutis is disputed: the walks from calcinosis
cutis reach it only through the disputed link."""


def test_the_subtype_walks_mark_what_lies_below_a_disputed_link(tmp_path: Path) -> None:
    """Every canned query that walks the subtypes from calcinosis cutis gives the certainty of the walked node's
    place: "disputed" for calciphylaxis and for a form below it, empty for a form below a stated subtype."""
    from calcinosis_kg.graph.build import build_graph
    from calcinosis_kg.graph.compiler import KNOWLEDGE_DIR

    (tmp_path / "zz-disputed.yaml").write_text(BELOW_A_DISPUTED_LINK, encoding="utf-8")
    (tmp_path / "zz-stated.yaml").write_text(SUBTYPE_HIERARCHY, encoding="utf-8")
    kg = build_graph([*sorted(KNOWLEDGE_DIR.glob("*.yaml")), *sorted(tmp_path.glob("*.yaml"))])
    below, stated = "example form of calciphylaxis", "example form of dystrophic calcinosis cutis"

    def certainty(
        query: str, label_column: str, certainty_column: str = "subtypeCertainty", **params: str
    ) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for row in CATALOG[query].run(kg, params):
            value = row[certainty_column]  # type: ignore[index]
            found.setdefault(str(row[label_column]), set()).add("" if value is None else str(value))  # type: ignore[index]
        return found

    for query, column in [("management-options", "conditionLabel"), ("weak-evidence-treatments", "conditionLabel")]:
        marks = certainty(query, column)
        assert marks[below] == {"disputed"}, query
        assert marks[stated] == {""}, query
        assert marks["calcinosis cutis"] == {""}, query
    for marks in (
        certainty("causes-by-subtype", "subtypeLabel"),
        certainty("causes-of-kind", "subtypeLabel", kind="cco:Disease"),
    ):
        assert marks[below] == {"disputed"}
        assert marks["metastatic calcinosis cutis"] == {""}
    for query in ("subtypes", "subtype-mechanisms"):
        marks = certainty(query, "subtypeLabel", "certainty")
        assert marks["calciphylaxis"] == {"disputed"}, query
        assert marks[below] == {"disputed"}, query
        assert marks[stated] == {""}, query


def test_every_subtype_walk_uses_the_one_placement_marker() -> None:
    """One definition: a canned query that walks ``(cco:hasSubtype|^cco:subtypeOf)`` marks the certainty of what it
    reaches with :func:`~calcinosis_kg.ontology.subtypes.placement_certainty`, not a pattern of its own."""
    from calcinosis_kg.ontology.subtypes import placement_certainty

    def flat(text: str) -> str:
        return " ".join(text.split())

    walking = [q for q in CATALOG.values() if "(cco:hasSubtype|^cco:subtypeOf)" in q.sparql]
    assert {"management-options", "weak-evidence-treatments", "subtypes", "subtype-mechanisms"} <= {
        q.name for q in walking
    }
    for query in walking:
        names = set(re.findall(r"\?(\w+)", query.sparql))
        markers = [flat(placement_certainty(node, mark)) for node in names for mark in names]
        assert any(marker in flat(query.sparql) for marker in markers), query.name
