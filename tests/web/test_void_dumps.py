"""The VoID/DCAT description at /.well-known/void and the full dumps at /dumps/ (the app on the built graph)."""

from __future__ import annotations

from collections import Counter

import pytest
from flask.testing import FlaskClient
from rdflib import Dataset, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, VOID

from calcinosis_kg.ontology import ONTOLOGY_IRI, load_ontology
from tests.support.web import RDF_ACCEPT, URI_SPACE, instances, isomorphic, parse

DUMPS = {
    "calcinosis-kg.ttl": ("text/turtle", "turtle"),
    "calcinosis-kg.nt": ("application/n-triples", "nt"),
    "calcinosis-kg.jsonld": ("application/ld+json", "json-ld"),
    "calcinosis-kg.owl": ("application/rdf+xml", "xml"),
    "calcinosis-kg.nq": ("application/n-quads", "nquads"),  # the named graphs apart; their union is the graph
}
DCAT = Namespace("http://www.w3.org/ns/dcat#")  # rdflib's closed DCAT namespace warns when pytest inspects it
IANA = Namespace("https://www.iana.org/assignments/media-types/")


def void_of(client: FlaskClient, rdf_format: str = "turtle") -> Graph:
    response = client.get("/.well-known/void", headers={"Accept": RDF_ACCEPT[rdf_format]})
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == RDF_ACCEPT[rdf_format]
    assert "Accept" in response.headers["Vary"]
    return parse(response.data, rdf_format)


def root_url(client: FlaskClient) -> str:
    """The URL the app is reached at, as its requests see it (no slash at the end)."""
    return str(client.get("/health").request.root_url).rstrip("/")


def the_dataset(void: Graph) -> URIRef:
    datasets = set(void.subjects(RDF.type, VOID.Dataset))
    assert len(datasets) == 1
    dataset = datasets.pop()
    assert isinstance(dataset, URIRef)
    assert (dataset, RDF.type, DCAT.Dataset) in void
    return dataset


def number(void: Graph, subject: object, predicate: URIRef) -> int:
    values = [value.toPython() for value in void.objects(subject, predicate) if isinstance(value, Literal)]
    assert len(values) == 1, f"{predicate}: {values}"
    value: int = values[0]
    return value


@pytest.mark.parametrize("rdf_format", sorted(RDF_ACCEPT))
def test_the_description_parses_in_every_format(client: FlaskClient, rdf_format: str) -> None:
    void = void_of(client, rdf_format)
    the_dataset(void)


def test_the_counts_are_the_served_graphs(client: FlaskClient, built_graph: Graph) -> None:
    void = void_of(client)
    dataset = the_dataset(void)
    subjects = set(built_graph.subjects())
    members = instances(built_graph)
    triples_per_property = Counter(built_graph.predicates(unique=False))

    assert number(void, dataset, VOID.triples) == len(built_graph)
    assert number(void, dataset, VOID.entities) == len(
        {s for s in subjects if isinstance(s, URIRef) and s.startswith(URI_SPACE)}
    )
    assert number(void, dataset, VOID.distinctSubjects) == len(subjects)
    assert number(void, dataset, VOID.distinctObjects) == len(set(built_graph.objects()))
    assert number(void, dataset, VOID.classes) == len(members)
    assert number(void, dataset, VOID.properties) == len(triples_per_property)

    class_partitions = list(void.objects(dataset, VOID.classPartition))
    partitions = {void.value(p, VOID["class"]): number(void, p, VOID.entities) for p in class_partitions}
    assert partitions == {class_: len(subjects_) for class_, subjects_ in members.items()}
    property_partitions = list(void.objects(dataset, VOID.propertyPartition))
    properties = {void.value(p, VOID.property): number(void, p, VOID.triples) for p in property_partitions}
    assert properties == dict(triples_per_property)


def test_the_description_of_the_dataset(client: FlaskClient) -> None:
    void = void_of(client)
    dataset = the_dataset(void)
    assert (dataset, VOID.uriSpace, Literal(URI_SPACE)) in void
    assert (dataset, VOID.sparqlEndpoint, URIRef(f"{root_url(client)}/sparql")) in void
    assert (dataset, DCTERMS.license, URIRef("https://creativecommons.org/licenses/by/4.0/")) in void
    assert (dataset, OWL.versionInfo, load_ontology().value(URIRef(ONTOLOGY_IRI), OWL.versionInfo)) in void
    assert void.value(dataset, DCTERMS.title) is not None
    assert void.value(dataset, DCTERMS.description) is not None
    examples = list(void.objects(dataset, VOID.exampleResource))
    assert URIRef(URI_SPACE + "calcinosis-cutis") in examples
    vocabularies = set(void.objects(dataset, VOID.vocabulary))
    assert URIRef("http://www.w3.org/2004/02/skos/core#") in vocabularies
    assert URIRef("https://w3id.org/calcinosis-kg/ontology/") in vocabularies


def test_the_dumps_are_listed_with_their_sizes(client: FlaskClient) -> None:
    void = void_of(client)
    dataset = the_dataset(void)
    dumps = {str(url) for url in void.objects(dataset, VOID.dataDump)}
    assert dumps == {f"{root_url(client)}/dumps/{name}" for name in DUMPS}
    distributions = list(void.objects(dataset, DCAT.distribution))
    assert len(distributions) == len(DUMPS)
    for distribution in distributions:
        url = str(void.value(distribution, DCAT.downloadURL))
        media_type, _ = DUMPS[url.rsplit("/", 1)[1]]
        assert (distribution, DCAT.mediaType, IANA[media_type]) in void
        size = void.value(distribution, DCAT.byteSize)
        assert isinstance(size, Literal)
        assert size.toPython() == len(client.get(url).data)


@pytest.mark.parametrize("name", sorted(DUMPS))
def test_the_dumps_are_the_served_graph(client: FlaskClient, built_graph: Graph, name: str) -> None:
    media_type, rdf_format = DUMPS[name]
    response = client.get(f"/dumps/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == media_type
    if rdf_format == "nquads":
        union = Graph()
        for s, p, o, _ in Dataset().parse(data=response.data, format="nquads").quads():
            union.add((s, p, o))
        assert isomorphic(union, built_graph)
    else:
        assert isomorphic(parse(response.data, rdf_format), built_graph)


def test_an_unknown_dump_is_404(client: FlaskClient) -> None:
    assert client.get("/dumps/calcinosis-kg.csv").status_code == 404


def test_the_void_counts_match_the_service_description(client: FlaskClient) -> None:
    void = void_of(client)
    response = client.get("/sparql", headers={"Accept": "text/turtle"})
    description = parse(response.data, "turtle")
    default_graph_triples = {value.toPython() for value in description.objects(None, VOID.triples)}
    assert number(void, the_dataset(void), VOID.triples) in default_graph_triples
