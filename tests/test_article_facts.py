"""Every fact of the seed article is in the graph, traceable to the article.

The facts are listed in tests/fixtures/article-facts.tsv, written from the article independently of the
curated YAML; names are resolved the way a reader would look them up (label, synonym, the article's own wording
recorded as a hidden label, brand name, title).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, SKOS

from calcinosis_kg.ontology import CC, CCO, PREFIXES

FACTS_FILE = Path(__file__).resolve().parent / "fixtures" / "article-facts.tsv"
ARTICLE_TITLE = "Calcium Deposits on the Face: Causes and Treatment"


def _facts() -> list[tuple[str, str, str]]:
    lines = [line for line in FACTS_FILE.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(r["subject"], r["property"], r["object"]) for r in rows]


FACTS = _facts()


def resolve(graph: Graph, name: str) -> URIRef:
    """The one cc: entity a reader means by ``name``: by preferred label, synonym, hidden label (a source's wording),
    brand name, title, prefix."""
    wanted = name.casefold()
    for prop in (SKOS.prefLabel, SKOS.altLabel, SKOS.hiddenLabel, CCO.brandName, DCTERMS.title):
        hits = {s for s, o in graph.subject_objects(prop) if str(o).casefold() == wanted and str(s).startswith(str(CC))}
        if len(hits) == 1:
            return URIRef(hits.pop())
        assert len(hits) < 2, f"{name!r} is ambiguous: {sorted(hits)}"
    hits = {
        s
        for s, o in graph.subject_objects(SKOS.prefLabel)
        if str(o).casefold().startswith(wanted) and str(s).startswith(str(CC))
    }
    assert len(hits) == 1, f"no single entity is named {name!r} (found {sorted(hits)})"
    return URIRef(hits.pop())


def expand(curie: str) -> URIRef:
    prefix, local = curie.split(":", 1)
    return URIRef(PREFIXES[prefix][local])


def test_fact_list_is_substantial() -> None:
    assert len(FACTS) >= 200


@pytest.mark.parametrize(("subject", "prop", "obj"), FACTS, ids=[f"{s} {p} {o}" for s, p, o in FACTS])
def test_fact_is_in_graph_with_the_article_as_source(kg: Graph, subject: str, prop: str, obj: str) -> None:
    article = resolve(kg, ARTICLE_TITLE)
    s, p = resolve(kg, subject), expand(prop)
    if obj.startswith('"'):
        text = obj.strip('"')
        values = [o for o in kg.objects(s, p) if isinstance(o, Literal) and str(o) == text]
        assert values, f"{s} {p} has no value {text!r}; it has {sorted(map(str, kg.objects(s, p)))}"
        o = values[0]
    else:
        o = resolve(kg, obj)
        assert (s, p, o) in kg, f"missing triple {s} {p} {o}"
    sources = {
        src
        for ax in kg.subjects(OWL.annotatedSource, s)
        if (ax, OWL.annotatedProperty, p) in kg and (ax, OWL.annotatedTarget, o) in kg
        for src in kg.objects(ax, DCTERMS.source)
    }
    assert article in sources, f"{s} {p} {o} is not sourced to the article (sources: {sorted(sources)})"
