"""Code lookups both ways (graph/lookup.py) and their SPARQL twins (queries/entity-for-code.rq, codes-of-entity.rq).

Expected values come from the graph's own triples and axioms, not from the lookup code.
"""

from __future__ import annotations

import curies
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, SKOS
from rdflib.query import Result, ResultRow
from rdflib.term import Identifier, Node

from calcinosis_kg.errors import CodeSyntaxError, CurationError, KGError, UnknownCode, UnknownEntity
from calcinosis_kg.graph.codesystems import bioregistry_code_systems
from calcinosis_kg.graph.lookup import (
    codes_for_entity,
    entities_for_code,
    graph_mappings,
    parse_code,
    resolve_entity,
)
from calcinosis_kg.ontology import CC, SSSOM, SSSOM_PREDICATES
from calcinosis_kg.queries.catalog import QUERIES_DIR, CannedQuery, load_catalog, load_query

SNOMED_46742003 = ("SCTID:46742003", URIRef("http://snomed.info/id/46742003"))
PREDICATE_CURIES = {iri: curie for curie, iri in SSSOM_PREDICATES.items()}


def _triples(graph: Graph) -> set[tuple[URIRef, str, URIRef]]:
    """(subject, predicate CURIE, target IRI) of every SKOS mapping triple of a graph entity."""
    return {
        (s, curie, o)
        for curie, predicate in SSSOM_PREDICATES.items()
        for s, o in graph.subject_objects(predicate)
        if isinstance(s, URIRef) and isinstance(o, URIRef) and s.startswith(str(CC))
    }


# ---------------------------------------------------------------------------------------------- parse_code
@pytest.mark.parametrize(
    "text",
    [
        "46742003",
        " 46742003 ",
        "SCTID:46742003",
        "sctid:46742003",
        "snomed:46742003",
        "snomedct:46742003",
        "SNOMEDCT:46742003",
        "SNOMEDCT_US:46742003",
        "http://snomed.info/id/46742003",
        "http://purl.bioontology.org/ontology/SNOMEDCT/46742003",
        "https://identifiers.org/snomedct:46742003",
    ],
)
def test_every_form_of_a_snomed_code_resolves_to_the_same_entity(kg: Graph, text: str) -> None:
    assert parse_code(text) == SNOMED_46742003
    matches = entities_for_code(kg, text)
    assert [(m.subject, m.predicate, m.object_id, m.object_label) for m in matches] == [
        (CC["skin-ulcer"], "skos:exactMatch", "SCTID:46742003", "Skin ulcer (disorder)")
    ]
    assert matches[0].subject_curie == "cc:skin-ulcer"


@pytest.mark.parametrize(
    ("text", "curie", "iri"),
    [
        ("ICD10CM:L94.2", "ICD10CM:L94.2", "https://www.icd10data.com/search?s=L94.2"),
        ("icd10cm:L94.2", "ICD10CM:L94.2", "https://www.icd10data.com/search?s=L94.2"),
        ("MONDO:0002123", "MONDO:0002123", "http://purl.obolibrary.org/obo/MONDO_0002123"),
        ("mondo:0002123", "MONDO:0002123", "http://purl.obolibrary.org/obo/MONDO_0002123"),
        (
            "http://purl.obolibrary.org/obo/MONDO_0002123",
            "MONDO:0002123",
            "http://purl.obolibrary.org/obo/MONDO_0002123",
        ),
        ("https://identifiers.org/mondo:0002123", "MONDO:0002123", "http://purl.obolibrary.org/obo/MONDO_0002123"),
        ("hp:0025520", "HP:0025520", "http://purl.obolibrary.org/obo/HP_0025520"),
        ("icd11:1374802956", "icd11.foundation:1374802956", "http://id.who.int/icd/entity/1374802956"),
        ("orpha:280062", "Orphanet:280062", "http://www.orpha.net/ORDO/Orphanet_280062"),
        ("MeSH:D002114", "MESH:D002114", "http://id.nlm.nih.gov/mesh/D002114"),
    ],
)
def test_prefix_synonyms_and_iris_of_other_systems(text: str, curie: str, iri: str) -> None:
    assert parse_code(text) == (curie, URIRef(iri))


def test_every_code_iri_and_curie_of_the_graph_parses_back_to_itself(kg: Graph) -> None:
    converter = curies.Converter.from_prefix_map(bioregistry_code_systems().prefix_map)
    for _, _, target in _triples(kg):
        curie = converter.compress_strict(str(target))
        assert parse_code(str(target)) == (curie, target)
        assert parse_code(curie) == (curie, target)
        assert parse_code(curie.lower() if curie.startswith("SCTID") else curie) == (curie, target)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("6595007", "not a valid Verhoeff check digit"),
        ("SCTID:6595007", "not a valid Verhoeff check digit"),
        ("SCTID:", "expected PREFIX:LOCAL_ID"),
        (":6595006", "expected PREFIX:LOCAL_ID"),
        ("L94.2", "expected PREFIX:LOCAL_ID"),
        ("", "empty code"),
        ("XYZ:123", r"unknown code-system prefix 'XYZ' \(known: ATC, DOID, .*SCTID"),
        ("ICD10CM:L9", "ICD-10-CM code 'L9' is malformed"),
        ("MONDO:2123", "exactly 7 digits"),
        ("SCTID:6595 006", "an SCTID is 6 to 18 digits"),
        ("LOINC:2000-9", "check digit of 2000 is 8, not 9"),
        ("http://example.org/codes/6595006", r"not the IRI of a code in a known code system \(known: .*SCTID"),
        ("http://snomed.info/sct/6595006", "not the IRI of a code"),
    ],
)
def test_malformed_codes_raise_code_syntax_error(kg: Graph, text: str, message: str) -> None:
    with pytest.raises(CodeSyntaxError, match=message):
        parse_code(text)
    with pytest.raises(CodeSyntaxError, match=message):
        entities_for_code(kg, text)


@pytest.mark.parametrize("text", ["SCTID:404684003", "ICD10CM:A00.0", "MONDO:0000001", "LOINC:2345-7"])
def test_well_formed_codes_mapped_to_nothing_raise_unknown_code(kg: Graph, text: str) -> None:
    with pytest.raises(UnknownCode, match=rf"{text} \(<.+>\) is a well-formed code, but no entity"):
        entities_for_code(kg, text)


def test_lookup_errors_are_user_facing_kg_errors() -> None:
    for error in (CodeSyntaxError, UnknownCode, UnknownEntity):
        assert issubclass(error, KGError)


# ---------------------------------------------------------------------------------------------- round trip
def test_round_trip_for_every_mapping_of_the_graph(kg: Graph) -> None:
    triples = _triples(kg)
    assert len(triples) > 200
    for subject, predicate, target in triples:
        curie = str(kg.value(_axiom(kg, subject, predicate, target), SSSOM.object_id))
        matches = entities_for_code(kg, curie)
        assert (subject, predicate) in {(m.subject, m.predicate) for m in matches}, curie
        codes = codes_for_entity(kg, str(subject))
        assert (curie, predicate, target) in {(c.object_id, c.predicate, c.object) for c in codes}, subject


def _axiom(graph: Graph, subject: URIRef, predicate: str, target: URIRef) -> Node:
    axioms = [
        ax
        for ax in graph.subjects(OWL.annotatedSource, subject)
        if graph.value(ax, OWL.annotatedProperty) == SSSOM_PREDICATES[predicate]
        and graph.value(ax, OWL.annotatedTarget) == target
    ]
    assert len(axioms) == 1
    return axioms[0]


def test_entities_for_code_are_sorted_by_label(kg: Graph) -> None:
    matches = entities_for_code(kg, "ICD10CM:L94.2")
    assert [m.subject_label for m in matches] == sorted(m.subject_label for m in matches)
    target = URIRef("https://www.icd10data.com/search?s=L94.2")
    assert {m.subject for m in matches} == {s for s, _, o in _triples(kg) if o == target}
    assert len(matches) == 7
    exact = [m.subject_curie for m in matches if m.predicate == "skos:exactMatch"]
    assert exact == ["cc:calcinosis-cutis"]


def test_codes_for_entity_carry_the_axiom_evidence_sorted_by_code(kg: Graph) -> None:
    codes = codes_for_entity(kg, "cc:skin-ulcer")
    assert [c.object_id for c in codes] == sorted((c.object_id for c in codes), key=str.casefold)
    snomed = [c for c in codes if c.system == "SCTID"]
    assert len(snomed) == 1
    axiom = next(iter(kg.subjects(SSSOM.object_id, Literal("SCTID:46742003"))))
    assert snomed[0].object_label == str(kg.value(axiom, SSSOM.object_label)) == "Skin ulcer (disorder)"
    assert snomed[0].confidence == pytest.approx(float(str(kg.value(axiom, SSSOM.confidence))))
    assert set(snomed[0].see_also) == {str(s) for s in kg.objects(axiom, SSSOM.see_also)}
    assert snomed[0].comment == str(kg.value(axiom, SSSOM.comment))


# ---------------------------------------------------------------------------------------------- entities
@pytest.mark.parametrize(
    "text",
    [
        "https://w3id.org/calcinosis-kg/id/acne",
        "<https://w3id.org/calcinosis-kg/id/acne>",
        "cc:acne",
        "acne",
        " acne ",
    ],
)
def test_every_form_of_an_entity_resolves(kg: Graph, text: str) -> None:
    assert resolve_entity(kg, text) == CC.acne
    assert {c.object_id for c in codes_for_entity(kg, text)} >= {"SCTID:11381005", "MONDO:0011438", "ICD10CM:L70"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cc:not-an-entity", "'cc:not-an-entity' names no entity of the graph"),
        ("calcinosis_cutis", "did you mean cc:calcinosis-cutis"),
        ("https://example.org/acne", "expected an IRI under https://w3id.org/calcinosis-kg/id/"),
        ("cc:acne extra", "names no entity"),
        ("", "names no entity"),
    ],
)
def test_unknown_entities_raise_unknown_entity(kg: Graph, text: str, message: str) -> None:
    with pytest.raises(UnknownEntity, match=message):
        codes_for_entity(kg, text)


def test_an_entity_without_mappings_has_no_codes(kg: Graph) -> None:
    mapped = {s for s, _, _ in _triples(kg)}
    unmapped = sorted(
        s
        for s in kg.subjects(RDF.type, OWL.NamedIndividual)
        if isinstance(s, URIRef) and s.startswith(str(CC)) and s not in mapped
    )
    assert unmapped
    assert codes_for_entity(kg, str(unmapped[0])) == []


def test_a_mapping_without_its_axiom_is_refused() -> None:
    graph = Graph()
    graph.add((CC.acne, SKOS.exactMatch, URIRef("http://snomed.info/id/11381005")))
    with pytest.raises(CurationError, match="has 0 owl:Axiom annotations"):
        graph_mappings(graph)


# ---------------------------------------------------------------------------------------------- SPARQL twins
def _select(result: Result) -> list[dict[str, Identifier]]:
    """The rows of a SELECT result as dictionaries of their bound variables."""
    rows = []
    for row in result:
        assert isinstance(row, ResultRow)
        rows.append({str(k): v for k, v in row.asdict().items()})
    return rows


@pytest.fixture(scope="module")
def entity_for_code() -> CannedQuery:
    return load_query(QUERIES_DIR / "entity-for-code.rq")


@pytest.fixture(scope="module")
def codes_of_entity() -> CannedQuery:
    return load_query(QUERIES_DIR / "codes-of-entity.rq")


def test_the_canned_lookup_queries_are_in_the_catalog(
    entity_for_code: CannedQuery, codes_of_entity: CannedQuery
) -> None:
    catalog = load_catalog()
    assert {"entity-for-code", "codes-of-entity"} <= set(catalog)
    (code,) = entity_for_code.params
    assert (code.name, code.type) == ("code", "code")
    assert parse_code(code.default or "")[0] == "ICD10CM:L94.2"
    (entity,) = codes_of_entity.params
    assert (entity.name, entity.type, entity.default) == ("entity", "iri", str(CC["calcinosis-cutis"]))


@pytest.mark.parametrize("text", ["ICD10CM:L94.2", "46742003", "HP:0025520", "MONDO:0011438", "LOINC:2000-8"])
def test_entity_for_code_query_agrees_with_the_lookup(kg: Graph, entity_for_code: CannedQuery, text: str) -> None:
    _, iri = parse_code(text)
    rows = _select(kg.query(entity_for_code.prepared, initBindings={"code": iri}))
    found = [
        (r["entity"], PREDICATE_CURIES[URIRef(r["predicate"])], str(r["objectId"]), str(r["codeLabel"])) for r in rows
    ]
    expected = [(m.subject, m.predicate, m.object_id, m.object_label) for m in entities_for_code(kg, text)]
    assert found == expected


def test_entity_for_code_query_without_a_code_lists_every_mapping(kg: Graph, entity_for_code: CannedQuery) -> None:
    rows = _select(kg.query(entity_for_code.prepared))
    found = [(r["entity"], PREDICATE_CURIES[URIRef(r["predicate"])], r["code"]) for r in rows]
    assert len(found) == len(set(found))
    assert set(found) == _triples(kg)


@pytest.mark.parametrize("entity", ["calcinosis-cutis", "scleroderma", "acne", "familial-tumoral-calcinosis"])
def test_codes_of_entity_query_agrees_with_the_lookup(kg: Graph, codes_of_entity: CannedQuery, entity: str) -> None:
    rows = _select(codes_of_entity.run(kg, {"entity": str(CC[entity])}))
    found = [
        (
            str(r["objectId"]),
            PREDICATE_CURIES[URIRef(r["predicate"])],
            str(r.get("codeLabel", "")),  # unbound for an attested code without a verified term
            float(str(r["confidence"])),
            frozenset(str(r["seeAlso"]).split(" | ")),
            str(r["system"]),
        )
        for r in rows
    ]
    expected = [
        (c.object_id, c.predicate, c.object_label, c.confidence, frozenset(c.see_also), c.system)
        for c in codes_for_entity(kg, entity)
    ]
    assert sorted(found, key=repr) == sorted(expected, key=repr)


def test_codes_of_entity_default_is_calcinosis_cutis(kg: Graph, codes_of_entity: CannedQuery) -> None:
    codes = {str(r["objectId"]) for r in _select(codes_of_entity.run(kg))}
    assert codes == {c.object_id for c in codes_for_entity(kg, "calcinosis-cutis")}
    assert "HP:0025520" in codes
