"""/lookup over HTTP on the built graph, and the ranking of LabelIndex on a small graph of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from calcinosis_kg.graph.codesystems import CODE_SYSTEMS_FILE, CodeSystems, bioregistry_code_systems
from calcinosis_kg.ontology import CC, CCO, SSSOM
from calcinosis_kg.server.resources.labels import MATCH_KINDS, LabelIndex

pytestmark = [pytest.mark.engine, pytest.mark.live]


def lookup(client: FlaskClient, q: str, limit: int | None = None) -> list[dict[str, Any]]:
    params: dict[str, str | int] = {"q": q} if limit is None else {"q": q, "limit": limit}
    response = client.get("/lookup", query_string=params)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    hits: list[dict[str, Any]] = response.get_json()
    return hits


def in_rank_order(hits: list[dict[str, Any]]) -> bool:
    ranks = [MATCH_KINDS.index(hit["match"]) for hit in hits]
    return ranks == sorted(ranks)


def test_an_exact_label_comes_first(client: FlaskClient) -> None:
    hits = lookup(client, "calcinosis cutis")
    assert hits[0] == {
        "iri": str(CC["calcinosis-cutis"]),
        "label": "calcinosis cutis",
        "type": {"iri": str(CCO.Condition), "label": "condition"},
        "matched": "calcinosis cutis",
        "match": "exact-label",
    }
    assert len(hits) > 3
    assert in_rank_order(hits)
    assert len({hit["iri"] for hit in hits}) == len(hits)


def test_a_synonym_finds_its_entity(client: FlaskClient) -> None:
    (first, *_) = lookup(client, "SLE")
    assert first["iri"] == str(CC["systemic-lupus-erythematosus"])
    assert first["label"] == "systemic lupus erythematosus"
    assert (first["matched"], first["match"]) == ("SLE", "exact-synonym")
    assert first["type"] == {"iri": str(CCO.AutoimmuneDisease), "label": "autoimmune disease"}


def test_a_source_wording_finds_its_entity_named_by_its_preferred_label(client: FlaskClient) -> None:
    """The article's "lupus" is broader than systemic lupus erythematosus: a hidden label, not a synonym."""
    (first, *_) = lookup(client, "lupus")
    assert first["iri"] == str(CC["systemic-lupus-erythematosus"])
    assert first["label"] == "systemic lupus erythematosus"
    assert (first["matched"], first["match"]) == ("lupus", "exact-hidden-label")
    (first, *_) = lookup(client, "whitehea")
    assert (first["iri"], first["label"], first["match"]) == (str(CC.milia), "milia", "hidden-label-prefix")


def test_a_prefix_finds_several_entities_ranked(client: FlaskClient, built_graph: Graph) -> None:
    hits = lookup(client, "calcin", limit=50)
    assert in_rank_order(hits)
    prefixed = [hit for hit in hits if hit["match"] == "label-prefix"]
    assert len(prefixed) >= 3
    assert [h["label"].casefold() for h in prefixed] == sorted(h["label"].casefold() for h in prefixed)
    assert hits[: len(prefixed)] == prefixed
    expected = {
        str(s)
        for s, o in built_graph.subject_objects(SKOS.prefLabel)
        if str(s).startswith(CC) and str(o).casefold().startswith("calcin")
    }
    assert {hit["iri"] for hit in prefixed} == expected
    later = {hit["iri"] for hit in hits[len(prefixed) :]}
    assert str(CC["dystrophic-calcinosis-cutis"]) in later


def test_lookup_is_case_insensitive(client: FlaskClient) -> None:
    expected = lookup(client, "lupus")
    assert lookup(client, "LUPUS") == expected
    assert lookup(client, "  Lupus ") == expected
    assert lookup(client, "Calcinosis  CUTIS")[0]["iri"] == str(CC["calcinosis-cutis"])


def test_a_code_finds_the_entities_mapped_to_it(client: FlaskClient, built_graph: Graph) -> None:
    axiom = next(
        a
        for a in built_graph.subjects(OWL.annotatedSource, CC["systemic-lupus-erythematosus"])
        if str(built_graph.value(a, SSSOM.object_id)).startswith("SCTID:")
    )
    curie = str(built_graph.value(axiom, SSSOM.object_id))
    code_iri = built_graph.value(axiom, OWL.annotatedTarget)
    for form in (curie, curie.lower(), curie.split(":")[1], str(code_iri)):
        (first, *_) = lookup(client, form)
        assert first["iri"] == str(CC["systemic-lupus-erythematosus"]), form
        assert (first["match"], first["matched"]) == ("code", curie)


def test_a_code_shared_by_several_entities_finds_them_all(client: FlaskClient, built_graph: Graph) -> None:
    target = URIRef("https://www.icd10data.com/search?s=L94.2")
    mapped = {str(s) for s, _, o in built_graph.triples((None, None, target)) if str(s).startswith(CC)}
    hits = lookup(client, "ICD10CM:L94.2", limit=100)
    assert {hit["iri"] for hit in hits if hit["match"] == "code"} == mapped
    assert len(mapped) > 1


def test_a_code_systems_term_is_matched(client: FlaskClient, built_graph: Graph) -> None:
    """A term of a code system finds the entity mapped to the code, unless its own texts match better."""
    checked = 0
    for axiom, term in sorted(built_graph.subject_objects(SSSOM.object_label)):
        entity = built_graph.value(axiom, OWL.annotatedSource)
        own = [
            str(o).casefold()
            for p in (SKOS.prefLabel, SKOS.altLabel, SKOS.hiddenLabel)
            for o in built_graph.objects(entity, p)
        ]
        if any(text.startswith(str(term).casefold()) for text in own):
            continue
        hits = {hit["iri"]: hit for hit in lookup(client, str(term), limit=100)}
        assert hits[str(entity)]["match"] == "exact-code-label", term
        assert hits[str(entity)]["matched"].casefold() == str(term).casefold()
        checked += 1
    assert checked > 20


def test_the_limit_is_applied(client: FlaskClient) -> None:
    assert len(lookup(client, "a", limit=1)) == 1
    assert len(lookup(client, "a")) == 10
    assert len(lookup(client, "a", limit=100)) == 100
    assert lookup(client, "a", limit=5) == lookup(client, "a", limit=100)[:5]


def test_nothing_found_is_an_empty_list(client: FlaskClient) -> None:
    assert lookup(client, "zzzz-not-a-term") == []
    assert lookup(client, "SCTID:404684003") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Give the text to look up as the parameter q"),
        ("?q=", "Give the text to look up as the parameter q"),
        ("?q=%20%20", "Give the text to look up as the parameter q"),
        ("?limit=5", "Give the text to look up as the parameter q"),
        ("?q=a&limit=0", "limit must be an integer from 1 to 100, got '0'"),
        ("?q=a&limit=101", "limit must be an integer from 1 to 100, got '101'"),
        ("?q=a&limit=ten", "limit must be an integer from 1 to 100, got 'ten'"),
        ("?q=a&limit=-1", "limit must be an integer from 1 to 100"),
        ("?q=a&q=b", "The parameter q is given 2 times"),
        ("?q=a&limit=1&limit=2", "The parameter limit is given 2 times"),
        ("?q=a&lang=en", "Unknown parameter(s) lang"),
        ("?q=" + "a" * 201, "longer than 200 characters"),
    ],
)
def test_bad_lookups_are_refused(client: FlaskClient, query: str, message: str) -> None:
    response = client.get("/lookup" + query)
    assert response.status_code == 400
    assert message in response.text


# --- ranking, on a graph of its own ---------------------------------------------------------------------


def _small_graph() -> Graph:
    graph = Graph()
    for cls, parent, label in [
        (CCO.Entity, None, "entity"),
        (CCO.Condition, CCO.Entity, "condition"),
        (CCO.Disease, CCO.Condition, "disease"),
        (CCO.Cause, CCO.Entity, "cause"),
    ]:
        graph.add((cls, SKOS.prefLabel, Literal(label, lang="en")))
        if parent is not None:
            graph.add((cls, RDFS.subClassOf, parent))
    entities = {
        "stone": ("stone", ["calculus"], [CCO.Disease, CCO.Cause, CCO.Condition]),
        "stones": ("stones", ["stone disease"], [CCO.Condition]),
        "kidney-stone": ("kidney stone", ["renal stone"], [CCO.Disease]),
        "calculus-x": ("calculus of x", [], [CCO.Cause]),
        "bloodstone": ("bloodstone", ["stone"], []),
        "milestone": ("milestone", [], [CCO.Entity]),
        "gallstones": ("gallstones", [], []),
        "pebble": ("pebble", [], []),
        "boulder": ("boulder", [], []),
    }
    for local, (label, synonyms, types) in entities.items():
        graph.add((CC[local], SKOS.prefLabel, Literal(label, lang="en")))
        for synonym in synonyms:
            graph.add((CC[local], SKOS.altLabel, Literal(synonym, lang="en")))
        for cls in types:
            graph.add((CC[local], RDF.type, cls))
    graph.add((CC.pebble, SKOS.hiddenLabel, Literal("stone", lang="en")))  # a source's (loose) wording
    graph.add((CC.boulder, SKOS.hiddenLabel, Literal("big stone", lang="en")))  # found by its start only
    code = URIRef("http://snomed.info/id/95570007")
    graph.add((CC.milestone, SKOS.closeMatch, code))
    axiom = BNode()
    for p, o in [
        (RDF.type, OWL.Axiom),
        (OWL.annotatedSource, CC.milestone),
        (OWL.annotatedProperty, SKOS.closeMatch),
        (OWL.annotatedTarget, code),
        (SSSOM.object_id, Literal("SCTID:95570007")),
        (SSSOM.object_label, Literal("Kidney stone")),
    ]:
        graph.add((axiom, p, o))
    return graph


def test_the_ranking_order() -> None:
    index = LabelIndex.from_graph(_small_graph())
    assert index.size == 9
    found = [(hit.entity.iri.removeprefix(CC), hit.match, hit.matched) for hit in index.search("stone", 10)]
    assert found == [
        ("stone", "exact-label", "stone"),
        ("bloodstone", "exact-synonym", "stone"),
        ("pebble", "exact-hidden-label", "stone"),
        ("stones", "label-prefix", "stones"),
        ("kidney-stone", "word-prefix", "kidney stone"),
        ("milestone", "word-prefix", "Kidney stone"),  # a word of its code's term, before a mere substring
        ("gallstones", "substring", "gallstones"),
    ]
    found = [(hit.entity.iri.removeprefix(CC), hit.match) for hit in index.search("kidney stone", 10)]
    assert found == [("kidney-stone", "exact-label"), ("milestone", "exact-code-label")]
    found = [(hit.entity.iri.removeprefix(CC), hit.match) for hit in index.search("calcul", 10)]
    assert found == [("calculus-x", "label-prefix"), ("stone", "synonym-prefix")]
    assert [(h.match, h.matched) for h in index.search("95570007", 10)] == [("code", "SCTID:95570007")]
    assert [h.match for h in index.search("SCTID:9557", 10)] == ["code-prefix"]
    found = [(hit.entity.iri.removeprefix(CC), hit.match, hit.entity.label) for hit in index.search("big st", 10)]
    assert found == [("boulder", "hidden-label-prefix", "boulder")]


def test_the_type_is_the_most_specific_class() -> None:
    index = LabelIndex.from_graph(_small_graph())
    types = {hit.entity.iri.removeprefix(CC): hit.entity.type for hit in index.search("s", 10)}
    stone = types["stone"]
    assert stone is not None
    assert (stone.iri, stone.label) == (str(CCO.Disease), "disease")  # not its superclass Condition, nor Cause
    assert types["bloodstone"] is None
    milestone = types["milestone"]
    assert milestone is not None
    assert milestone.label == "entity"


def test_ties_are_broken_by_label(client: FlaskClient) -> None:
    hits = lookup(client, "c", limit=100)
    for kind in {hit["match"] for hit in hits}:
        labels = [hit["label"].casefold() for hit in hits if hit["match"] == kind]
        assert labels == sorted(labels), kind


# --- the code-systems table at start-up -----------------------------------------------------------------

_START_AND_LOOK_UP = """
import json, logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
from calcinosis_kg.server.app import create_app, query_pool
imported = "bioregistry" in sys.modules
app = create_app({"KG_DATA": [sys.argv[1]], "KG_QUERY_WORKERS": 1})
started = "bioregistry" in sys.modules
with app.test_client() as client:
    hits = client.get("/lookup", query_string={"q": sys.argv[2]}).get_json()
after = "bioregistry" in sys.modules
query_pool(app).close()
found = sorted(hit["iri"] for hit in hits if hit["match"] == "code")
print(json.dumps({"imported": imported, "started": started, "after": after, "found": found}))
"""
MONDO_IRI = "http://purl.obolibrary.org/obo/MONDO_0002123"


def _start_and_look_up(built_nt: Path, build_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """Create the app in a fresh process with ``KG_BUILD_DIR=build_dir`` and look up an OBO PURL of a code.

    Returns (whether the Bioregistry was imported by the import, by create_app and by the first lookup, which
    builds the label index; the entities found by code) and the log lines of graph.codesystems.
    """
    env = {**os.environ, "KG_BUILD_DIR": str(build_dir)}
    done = subprocess.run(
        [sys.executable, "-c", _START_AND_LOOK_UP, str(built_nt), MONDO_IRI],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result, [line for line in done.stderr.splitlines() if line.startswith("calcinosis_kg.graph.codesystems")]


def _mapped_to(graph: Graph, iri: str) -> list[str]:
    return sorted(str(s) for s, _, o in graph.triples((None, None, URIRef(iri))) if str(s).startswith(CC))


def test_the_server_reads_codes_with_the_built_table_without_the_bioregistry(
    built_nt: Path, built_graph: Graph
) -> None:
    assert CodeSystems.load(built_nt.parent / CODE_SYSTEMS_FILE) == bioregistry_code_systems()
    result, log = _start_and_look_up(built_nt, built_nt.parent)
    assert result == {"imported": False, "started": False, "after": False, "found": _mapped_to(built_graph, MONDO_IRI)}
    assert result["found"]
    assert log == []


def test_without_a_built_table_the_server_computes_it_and_says_so(
    built_nt: Path, built_graph: Graph, tmp_path: Path
) -> None:
    result, log = _start_and_look_up(built_nt, tmp_path)
    assert result == {"imported": False, "started": False, "after": True, "found": _mapped_to(built_graph, MONDO_IRI)}
    (line,) = log
    table = tmp_path / CODE_SYSTEMS_FILE
    assert line.startswith(f"calcinosis_kg.graph.codesystems INFO no code-systems table at {table} ")
    assert "computing it from the Bioregistry, which takes about 2 s" in line
