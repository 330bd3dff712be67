"""The SPARQL 1.1 Service Description (https://www.w3.org/TR/sparql11-service-description/) of the endpoint.

Served on a GET of the endpoint without a query, in any RDF format. It states the endpoint's URL as the
client reached it, the language (SPARQL 1.1 Query only: the endpoint is read-only), every result format,
the features that hold, and the dataset: the default graph's size (with ``KG_UNION_DEFAULT_GRAPH``, of the union
of all graphs, and said so) and each named graph's name and size.
"""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF, VOID, XSD

from calcinosis_kg.formats import FORMATS, W3C_FORMATS, Family
from calcinosis_kg.server.resources.data import DatasetSummary

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
ENTAILMENT = Namespace("http://www.w3.org/ns/entailment/")
UNION_DESCRIPTION = "The union of all graphs of the dataset: the unnamed graph and every named graph."
"""What the default graph is with ``KG_UNION_DEFAULT_GRAPH`` (also stated as ``sd:feature sd:UnionDefaultGraph``)."""


def service_description(endpoint: str, summary: DatasetSummary) -> Graph:
    """The description of the endpoint reached at ``endpoint``, serving the dataset ``summary`` describes."""
    graph = Graph()
    graph.bind("sd", SD)
    graph.bind("void", VOID)
    graph.bind("formats", W3C_FORMATS)
    graph.bind("ent", ENTAILMENT)

    service = BNode("service")
    graph.add((service, RDF.type, SD.Service))
    graph.add((service, SD.endpoint, URIRef(endpoint)))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    graph.add((service, SD.defaultEntailmentRegime, ENTAILMENT.Simple))
    for fmt in FORMATS:
        if fmt.family is not Family.DATASET:  # the dumps' format, not one a query is answered in
            graph.add((service, SD.resultFormat, fmt.w3c))
    if summary.union_default_graph:
        graph.add((service, SD.feature, SD.UnionDefaultGraph))

    dataset = BNode("dataset")
    graph.add((service, SD.defaultDataset, dataset))
    graph.add((dataset, RDF.type, SD.Dataset))
    default_graph = BNode("defaultGraph")
    graph.add((dataset, SD.defaultGraph, default_graph))
    graph.add((default_graph, RDF.type, SD.Graph))
    graph.add((default_graph, VOID.triples, Literal(summary.default_triples, datatype=XSD.integer)))
    if summary.union_default_graph:
        graph.add((default_graph, DCTERMS.description, Literal(UNION_DESCRIPTION, lang="en")))
    for index, (name, triples) in enumerate(summary.named_graphs.items()):
        named_graph = BNode(f"namedGraph{index}")
        graph_node = BNode(f"graph{index}")
        graph.add((dataset, SD.namedGraph, named_graph))
        graph.add((named_graph, RDF.type, SD.NamedGraph))
        graph.add((named_graph, SD.name, URIRef(name)))
        graph.add((named_graph, SD.graph, graph_node))
        graph.add((graph_node, RDF.type, SD.Graph))
        graph.add((graph_node, VOID.triples, Literal(triples, datatype=XSD.integer)))
    return graph
