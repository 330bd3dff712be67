"""DESCRIBE: outgoing and incoming triples, OWL axiom annotations with their closure, labels of neighbours.

The description is computed over a pyoxigraph store; the graphs of these tests are written to N-Triples and read
by Oxigraph, and the description is read back by rdflib to compare with the source graph.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyoxigraph as ox
import pytest
from flask.testing import FlaskClient
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS
from rdflib.term import Node

from calcinosis_kg.server.errors import ResultTooLarge
from calcinosis_kg.server.resources.data import to_rdflib
from calcinosis_kg.server.sparql.describe import GraphView
from calcinosis_kg.server.sparql.describe import describe as describe_in_store

pytestmark = pytest.mark.engine

CC = Namespace("https://w3id.org/calcinosis-kg/id/")
CCO = Namespace("https://w3id.org/calcinosis-kg/ontology/")
DCTERMS = Namespace("http://purl.org/dc/terms/")
ECO_TAS = URIRef("http://purl.obolibrary.org/obo/ECO_0000304")
HAS_EVIDENCE = URIRef("http://purl.obolibrary.org/obo/RO_0002558")


def describe(graph: Graph, resources: Iterable[Node], max_triples: int) -> Graph:
    """The description of ``resources`` in ``graph`` (blank nodes keep their labels both ways)."""
    store = ox.Store()
    store.extend(ox.parse(graph.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES))
    targets = [ox.NamedNode(str(r)) for r in resources if isinstance(r, URIRef)]
    description = Graph()
    for triple in describe_in_store(GraphView(store, union=False), targets, max_triples):
        description.add((to_rdflib(triple.subject), to_rdflib(triple.predicate), to_rdflib(triple.object)))
    return description


def test_description_of_a_condition(sample_graph: Graph) -> None:
    resource = CC["dystrophic-calcinosis-cutis"]
    description = describe(sample_graph, [resource], max_triples=1000)
    # outgoing
    assert set(sample_graph.triples((resource, None, None))) <= set(description)
    # the axiom annotation and everything hanging from it
    axiom = sample_graph.value(predicate=OWL.annotatedSource, object=resource)
    assert isinstance(axiom, BNode)
    assert set(sample_graph.triples((axiom, None, None))) <= set(description)
    assert (axiom, HAS_EVIDENCE, ECO_TAS) in description
    # labels of what it links to, including through the axiom
    assert (CC["systemic-sclerosis"], RDFS.label, Literal("systemic sclerosis", lang="en")) in description
    assert (CC["review-2019"], RDFS.label, Literal("Calcinosis cutis: a review")) in description
    assert (CCO.hasCause, RDFS.label, Literal("has cause", lang="en")) in description
    # and their types
    assert (CC["systemic-sclerosis"], RDF.type, CCO.Condition) in description


def test_description_includes_incoming_triples_and_pref_labels(sample_graph: Graph) -> None:
    description = describe(sample_graph, [CC["calcinosis-cutis"]], max_triples=1000)
    for subtype in ("dystrophic-calcinosis-cutis", "metastatic-calcinosis-cutis"):
        assert (CC[subtype], CCO.subtypeOf, CC["calcinosis-cutis"]) in description
        assert (CC[subtype], RDFS.label, None) in description
    kidney = describe(sample_graph, [CC["metastatic-calcinosis-cutis"]], max_triples=1000)
    label = Literal("chronic kidney disease", lang="en")
    assert (CC["chronic-kidney-disease"], SKOS.prefLabel, label) in kidney


def test_blank_node_objects_are_followed() -> None:
    graph = Graph()
    restriction, members = BNode(), BNode()
    graph.add((CC.x, RDFS.subClassOf, restriction))
    graph.add((restriction, RDF.type, OWL.Restriction))
    graph.add((restriction, OWL.onProperty, CCO.hasCause))
    graph.add((restriction, OWL.someValuesFrom, members))
    graph.add((members, OWL.unionOf, RDF.nil))
    graph.add((CC.unrelated, RDFS.label, Literal("unrelated")))
    description = describe(graph, [CC.x], max_triples=100)
    assert len(description) == len(graph) - 1
    assert (CC.unrelated, None, None) not in description
    assert (None, OWL.someValuesFrom, None) in description


def test_literals_are_not_described(sample_graph: Graph) -> None:
    assert len(describe(sample_graph, [Literal("x"), URIRef("http://example.org/none")], max_triples=10)) == 0


def test_description_size_is_limited(sample_graph: Graph) -> None:
    with pytest.raises(ResultTooLarge, match="more than 5 triples"):
        describe(sample_graph, [CC["dystrophic-calcinosis-cutis"]], max_triples=5)


def test_describe_on_the_real_knowledge_graph(kg: Graph) -> None:
    """Every axiom annotation about the most annotated resource comes with its sources and evidence."""
    resource = CC["calcinosis-cutis"]
    axioms = set(kg.subjects(OWL.annotatedSource, resource))
    assert axioms
    description = describe(kg, [resource], max_triples=100_000)
    for axiom in axioms:
        assert set(kg.triples((axiom, None, None))) <= set(description)
    for target in description.objects(None, OWL.annotatedTarget):
        if isinstance(target, URIRef) and (target, RDFS.label, None) in kg:
            assert (target, RDFS.label, None) in description


def test_describe_with_a_where_clause(client: FlaskClient) -> None:
    query = "DESCRIBE ?t WHERE { ?t a cco:Treatment }"
    response = client.get("/sparql", query_string={"query": query, "format": "ntriples"})
    assert response.status_code == 200
    graph = Graph().parse(data=response.get_data(), format="nt")
    assert {CC.diltiazem, CC["sodium-thiosulfate"]} <= set(graph.subjects())
    assert (CC["dystrophic-calcinosis-cutis"], CCO.treatedBy, CC.diltiazem) in graph
    # the axioms of the assertions about the treatments come with their sources
    for axiom in graph.subjects(OWL.annotatedTarget, CC.diltiazem):
        assert (axiom, DCTERMS.source, None) in graph
