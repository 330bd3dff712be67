"""Queries are parsed once: prepared canned queries, the per-worker LRU, and what depends on the base IRI."""

from __future__ import annotations

import json

import pytest
from live_server import SAMPLE_TTL, SOURCES_TRIG
from rdflib.plugins.sparql.sparql import Query

from calcinosis_kg.server import evaluation
from calcinosis_kg.server.data import load_dataset
from calcinosis_kg.server.errors import MalformedQuery, ServiceRefused
from calcinosis_kg.server.evaluation import Job, QueryEngine, depends_on_base


@pytest.fixture(scope="module")
def engine() -> QueryEngine:
    return QueryEngine(load_dataset([SAMPLE_TTL, SOURCES_TRIG]), max_rows=1000)


def values(engine: QueryEngine, query: str, base: str) -> list[str]:
    body = json.loads(engine.execute(Job(query=query, base=base)).body)
    return [binding["x"]["value"] for binding in body["results"]["bindings"]]


def test_a_text_is_parsed_once(engine: QueryEngine) -> None:
    query = "SELECT ?s WHERE { ?s a cco:Subtype }"
    first = engine.checked(query, "http://one/sparql")
    assert engine.checked(query, "http://two/sparql") is first


def test_prepared_texts_are_kept_for_good(engine: QueryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = "ASK { cc:diltiazem a cco:Treatment }"
    engine.prepare([prepared, "SELECT * { SERVICE <http://x/> { ?s ?p ?o } }", "SELECT ?x { BIND(<x> AS ?x) }"])
    assert engine.prepared(prepared) is not None
    assert engine.prepared("SELECT ?x { BIND(<x> AS ?x) }") is None  # depends on the base
    monkeypatch.setattr(evaluation, "PARSE_CACHE_ENTRIES", 1)
    for n in range(3):
        engine.checked(f"ASK {{ ?s ?p {n} }}", "http://localhost/")
    assert engine.checked(prepared, "http://localhost/") is engine.prepared(prepared)


def test_registered_texts_are_parsed_on_first_use_only(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = QueryEngine(load_dataset([SAMPLE_TTL]), max_rows=1000)
    texts = ["ASK { ?s ?p 1 }", "SELECT * { SERVICE <http://x/> { ?s ?p ?o } }", "ASK { ?s ?p 2 }"]
    parsed: list[str] = []  # every text the engine parses (the real parser still runs)
    parse = QueryEngine._parse_checked

    def recording_parse(text: str, base: str) -> Query:
        parsed.append(text)
        return parse(text, base)

    monkeypatch.setattr(QueryEngine, "_parse_checked", staticmethod(recording_parse))
    engine.prepare(texts)
    assert parsed == []  # nothing at registration (the server's start-up)
    kept = engine.checked(texts[0], "http://localhost/")
    assert engine.checked(texts[0], "http://other/") is kept
    assert engine.prepared(texts[0]) is kept
    assert parsed == [texts[0]]
    for _ in range(2):  # a refused text is refused on each use
        with pytest.raises(ServiceRefused):
            engine.checked(texts[1], "http://localhost/")


def test_the_lru_is_bounded(engine: QueryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluation, "PARSE_CACHE_ENTRIES", 2)
    parsed = [engine.checked(f"ASK {{ ?s ?p {n} }}", "http://localhost/") for n in range(3)]
    assert engine.checked("ASK { ?s ?p 2 }", "http://localhost/") is parsed[2]
    assert engine.checked("ASK { ?s ?p 0 }", "http://localhost/") is not parsed[0]


def test_refusals_are_given_each_time(engine: QueryEngine) -> None:
    for _ in range(2):
        with pytest.raises(MalformedQuery):
            engine.checked("SELECT * WHERE {", "http://localhost/")
        with pytest.raises(ServiceRefused):
            engine.checked("SELECT * { SERVICE <http://x/> { ?s ?p ?o } }", "http://localhost/")


def test_relative_iris_resolve_against_each_requests_base(engine: QueryEngine) -> None:
    query = "SELECT ?x WHERE { BIND(<relative> AS ?x) }"
    assert values(engine, query, "http://one/sparql") == ["http://one/relative"]
    assert values(engine, query, "http://two/sparql") == ["http://two/relative"]


def test_iri_function_resolves_against_each_requests_base(engine: QueryEngine) -> None:
    query = "SELECT ?x WHERE { BIND(IRI('relative') AS ?x) }"
    assert not depends_on_base(query)
    assert values(engine, query, "http://one/sparql") == ["http://one/relative"]
    assert values(engine, query, "http://two/sparql") == ["http://two/relative"]


@pytest.mark.parametrize(
    ("query", "dependent"),
    [
        ("SELECT * WHERE { ?s ?p <http://example.org/x> }", False),
        ("SELECT * WHERE { ?s ?p <x> }", True),
        ("SELECT * WHERE { ?s ?p <> }", True),
        ("SELECT * WHERE { ?s ?p <\\u0078> }", True),
        ("BASE <http://example.org/> SELECT * WHERE { ?s ?p <x> }", True),
        ("PREFIX ex: <relative/> SELECT * WHERE { ?s ?p ex:x }", True),
        ("SELECT * WHERE { ?s ?p ?o FILTER(?o < 3 && ?o > 1) }", False),
        ("SELECT ?database WHERE { ?database ?p ?o }", False),
    ],
)
def test_what_depends_on_the_base(query: str, dependent: bool) -> None:
    assert depends_on_base(query) is dependent
