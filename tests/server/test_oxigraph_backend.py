"""The oxigraph backend: what pyoxigraph evaluates, what rdflib answers instead, SERVICE in disguise, the store.

The answers of both backends are compared by the modules of ``BOTH_BACKENDS`` (tests/conftest.py); these tests cover
what is particular to pyoxigraph.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from live_server import SAMPLE_TTL, SOURCES_TRIG, LiveServer
from probes import Listener
from rdflib import Literal, URIRef

from calcinosis_kg.ontology import CC
from calcinosis_kg.server.backends import make_engine
from calcinosis_kg.server.data import DataLoadError, content_hash, load_dataset, named_graph_names
from calcinosis_kg.server.errors import InternalQueryError
from calcinosis_kg.server.evaluation import Job, QueryEngine
from calcinosis_kg.server.oxigraph_backend import OxigraphEngine, _group_start
from calcinosis_kg.server.oxigraph_store import MARKER, SNAPSHOT, copy_into_memory, ensure_store
from calcinosis_kg.server.pool import QueryPool
from calcinosis_kg.server.settings import Settings

DATA = [SAMPLE_TTL, SOURCES_TRIG]
BASE = "http://localhost/sparql"
DELEGATED = "answered by the rdflib engine"

SUBSTITUTED = "SELECT ?s ?label WHERE { ?s skos:prefLabel ?label }"
VALUES_BOUND = "#+ summary: x\nSELECT ?label (STRLEN(?label) AS ?n) WHERE { ?s skos:prefLabel ?label }"
CONSTRUCTED = "CONSTRUCT { ?s rdfs:label ?label } WHERE { ?s skos:prefLabel ?label }"
CANNED = [SUBSTITUTED, VALUES_BOUND, CONSTRUCTED]


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> tuple[OxigraphEngine, QueryEngine]:
    """An oxigraph engine on the sample data (with the canned texts above prepared) and an rdflib engine."""
    dataset = load_dataset(DATA)
    settings = Settings(backend="oxigraph", store_dir=tmp_path_factory.mktemp("stores"), max_rows=1000)
    engine = make_engine(settings, dataset, DATA, content_hash(DATA))
    assert isinstance(engine, OxigraphEngine)
    engine.prepare(CANNED)
    reference = QueryEngine(dataset, max_rows=1000)
    reference.prepare(CANNED)
    return engine, reference


@pytest.fixture(scope="module")
def routed(engines: tuple[OxigraphEngine, QueryEngine]) -> Iterator[QueryPool]:
    """A one-worker pool of the oxigraph engine whose rdflib engine refuses everything (to see the route)."""
    engine, _ = engines

    def refuse(job: Job) -> None:
        raise InternalQueryError(DELEGATED)

    patch = pytest.MonkeyPatch()
    patch.setattr(engine._rdflib, "execute", refuse)
    pool = QueryPool(engine, size=1, timeout=20)
    pool.start()
    patch.undo()  # the worker was forked with the patch
    yield pool
    pool.close()


ORDERED_CONCAT = """SELECT (GROUP_CONCAT(?name; separator="|") AS ?all) WHERE {
  { SELECT ?name WHERE { ?s a cco:Subtype ; skos:prefLabel ?l BIND (STR(?l) AS ?name) } ORDER BY DESC(?name) }
}"""

FAST = [
    Job(query="SELECT ?s WHERE { ?s a cco:Subtype } ORDER BY ?s", base=BASE),
    Job(query="SELECT * WHERE { ?s a cco:Subtype ; skos:prefLabel ?l }", base=BASE, accept="text/csv"),
    Job(query="ASK { cc:diltiazem a cco:Treatment }", base=BASE),
    Job(query="CONSTRUCT { ?s a cco:Subtype } WHERE { ?s a cco:Subtype }", base=BASE, accept="application/n-triples"),
    Job(query="#+ from a comment line, not the text\nSELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", base=BASE),
    Job(query="SELECT ?s FROM <https://example.org/graph/bibliography> WHERE { ?s ?p ?o }", base=BASE),
    Job(query=SUBSTITUTED, base=BASE, bindings=(("s", CC["diltiazem"]),)),
    Job(query=VALUES_BOUND, base=BASE, bindings=(("s", CC["diltiazem"]),)),
    Job(query=CONSTRUCTED, base=BASE, bindings=(("s", CC["diltiazem"]),)),
    Job(query=ORDERED_CONCAT, base=BASE),
]
SLOW = [
    Job(query="DESCRIBE cc:diltiazem", base=BASE),
    Job(query="SELECT ?s WHERE { ?s ?p 'service' }", base=BASE),
    Job(query="SELECT ?s WHERE { ?s ?p '\\u0041' }", base=BASE),
    Job(query="SELECT ?s WHERE { ?s ?p ?o FILTER REGEX(?o, 'x') }", base=BASE),
    Job(query="SELECT ?s WHERE { ?s skos:prefLabel ?l }", base=BASE, bindings=(("s", CC["diltiazem"]),)),
    Job(query=VALUES_BOUND, base=BASE, bindings=(("s", Literal("back\\slash")),)),
]


@pytest.mark.parametrize("job", FAST)
def test_pyoxigraph_answers_these_and_as_rdflib_does(
    routed: QueryPool, engines: tuple[OxigraphEngine, QueryEngine], job: Job
) -> None:
    served = routed.run(job)
    expected = engines[1].execute(job)
    assert served.content_type == expected.content_type
    if job.query.startswith("CONSTRUCT"):
        assert sorted(served.body.splitlines()) == sorted(expected.body.splitlines())
    elif job.accept == "text/csv":
        served_rows, expected_rows = (answer.body.decode().split("\r\n") for answer in (served, expected))
        assert served_rows[0] == expected_rows[0]  # rdflib's column order for SELECT *
        assert sorted(served_rows) == sorted(expected_rows)
    else:
        assert _rows(served.body) == _rows(expected.body)


@pytest.mark.parametrize("job", SLOW)
def test_rdflib_answers_these(routed: QueryPool, job: Job) -> None:
    with pytest.raises(InternalQueryError, match=DELEGATED):
        routed.run(job)


def _rows(body: bytes) -> object:
    document = json.loads(body)
    if "boolean" in document:
        return document
    rows = sorted(json.dumps(row, sort_keys=True) for row in document["results"]["bindings"])
    return document["head"], rows


def in_subprocess(code: str, *args: str) -> str:
    """Run pyoxigraph in a new interpreter: the test process forks query workers and must not have its threads."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=False)
    return done.stdout + done.stderr


def test_control_pyoxigraph_follows_service(listener: Listener) -> None:
    """Why the backend never lets a SERVICE through: pyoxigraph would send the pattern over HTTP."""
    code = "import pyoxigraph, sys; list(pyoxigraph.Store().query(sys.argv[1]))"
    output = in_subprocess(code, f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}")
    assert "Error" in output
    assert listener.connections > 0


DISGUISED = [
    "SELECT * WHERE { \\u0053ERVICE <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { \\U00000053ERVICE <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { sErViCe <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { \u017fervice <{url}> { ?s ?p ?o } }",
    "# a comment\nSELECT * WHERE { SERVICE <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE {\n# a comment \\u000A SERVICE <{url}> { ?s ?p ?o }\n}",
    "SELECT * WHERE {\n# \"quoted\"\nSERVICE <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { BIND('''\n# x\n''' AS ?x) SERVICE <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o }\r#\rSERVICE <{url}> { ?s ?p ?o }",
    "SELECT * FROM <{url}> WHERE { SERVICE <{url}> { ?s ?p ?o } }",
]


@pytest.mark.parametrize("backend", ["oxigraph"], indirect=True, scope="session")
@pytest.mark.parametrize("template", DISGUISED)
def test_service_in_disguise_never_connects(server: LiveServer, listener: Listener, template: str) -> None:
    """Refused (403), or not SERVICE at all for rdflib, which then answers (a lone CR does not end its comment)."""
    query = template.replace("{url}", listener.url)
    response = requests.get(server.sparql, params={"query": query}, timeout=10)
    assert response.status_code in (200, 400, 403), response.text
    assert listener.connections == 0


@pytest.mark.parametrize("backend", ["oxigraph"], indirect=True, scope="session")
def test_a_service_word_in_a_string_is_answered(server: LiveServer, listener: Listener) -> None:
    query = f"SELECT ?x WHERE {{ BIND('SERVICE <{listener.url}> {{}}' AS ?x) }}"
    response = requests.get(server.sparql, params={"query": query, "format": "csv"}, timeout=10)
    assert response.status_code == 200
    assert "SERVICE" in response.text
    assert listener.connections == 0


def test_the_store_is_built_once_per_data_version(tmp_path: Path) -> None:
    dataset = load_dataset(DATA)
    first = ensure_store(dataset, "version-1", tmp_path)
    built = json.loads((first / MARKER).read_text())["built"]
    assert ensure_store(dataset, "version-1", tmp_path) == first
    assert json.loads((first / MARKER).read_text())["built"] == built
    second = ensure_store(dataset, "version-2", tmp_path)
    assert second != first
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([first.name, second.name])
    triples = in_subprocess("import pyoxigraph, sys; print(len(pyoxigraph.Store.read_only(sys.argv[1])))", str(second))
    assert int(triples) == sum(len(graph) for graph in dataset.graphs())


def test_the_in_memory_copy_holds_what_the_store_holds(tmp_path: Path) -> None:
    dataset = load_dataset(DATA)
    path = ensure_store(dataset, "version-1", tmp_path)
    named = named_graph_names(dataset)
    copy = copy_into_memory(path, named)
    code = (
        "import pyoxigraph, sys; s = pyoxigraph.Store.read_only(sys.argv[1]);"
        "print('\\n'.join(sorted(str(q) for q in s)))"
    )
    on_disk = in_subprocess(code, str(path)).splitlines()
    assert sorted(str(quad) for quad in copy) == on_disk  # blank-node labels included
    assert any("_:" in line for line in on_disk)
    assert {graph.value for graph in copy.named_graphs()} == {str(name) for name in named}


def test_a_store_without_its_snapshot_is_refused_with_a_way_out(tmp_path: Path) -> None:
    path = ensure_store(load_dataset(DATA), "version-1", tmp_path)
    (path / SNAPSHOT).unlink()
    with pytest.raises(DataLoadError, match="delete that directory to rebuild it"):
        copy_into_memory(path)


def test_the_store_has_rdflibs_terms(engines: tuple[OxigraphEngine, QueryEngine], routed: QueryPool) -> None:
    """Typed literals come out as rdflib normalizes them, plain literals without a datatype."""
    job = Job(query="SELECT ?o WHERE { cc:diltiazem ?p ?o FILTER(isLiteral(?o)) }", base=BASE)
    assert _rows(routed.run(job).body) == _rows(engines[1].execute(job).body)


@pytest.mark.parametrize(
    ("text", "after"),
    [
        ("SELECT ?s WHERE { ?s ?p ?o }", "SELECT ?s WHERE {"),
        ("SELECT ?s { ?s ?p ?o }", "SELECT ?s {"),
        ("SELECT (EXISTS { ?s ?p ?o } AS ?e) WHERE { ?s ?p ?o }", "SELECT (EXISTS { ?s ?p ?o } AS ?e) WHERE {"),
        ("# {\nSELECT ?s WHERE { ?s <x:{> '{' }", "# {\nSELECT ?s WHERE {"),
    ],
)
def test_the_values_block_goes_into_the_outermost_group(text: str, after: str) -> None:
    assert _group_start(text) == len(after)


def test_no_place_for_a_values_block_is_said() -> None:
    assert _group_start("SELECT ?s") is None
    assert _group_start("SELECT ?s WHERE ) {") is None


def test_a_string_value_bound_by_values_is_a_plain_literal(routed: QueryPool) -> None:
    hostile = 'x" } UNION { ?s ?p ?label } #'
    job = Job(query=VALUES_BOUND, base=BASE, bindings=(("s", Literal(hostile)),))
    assert json.loads(routed.run(job).body)["results"]["bindings"] == []
    iri = Job(query=VALUES_BOUND, base=BASE, bindings=(("s", URIRef("http://x> } UNION { ?s ?p ?label")),))
    with pytest.raises(InternalQueryError, match=DELEGATED):  # not an IRI one may write: rdflib binds it
        routed.run(iri)
