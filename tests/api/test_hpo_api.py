"""The HPO import served: its two canned queries through the API, the calcinosis cutis page's genetic differential,
and OMIM/Orphanet codes found by /lookup, the entity-for-code query and FHIR $translate."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, VOID

from calcinosis_kg.graph.imports.hpo_slice import HpoSlice, read_slice
from calcinosis_kg.ontology import CC
from calcinosis_kg.queries.catalog import CannedQuery
from tests.support.api import comparable, reference, results

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def hpo_slice() -> HpoSlice:
    return read_slice()


def _positive(hpo_slice: HpoSlice, hpo_id: str | None = None) -> list[Any]:
    return [a for a in hpo_slice.annotations if a.qualifier != "NOT" and hpo_id in (None, a.hpo_id)]


def test_the_rare_diseases_query_answers_each_hpo_annotation_with_code_frequency_evidence_and_reference(
    client: FlaskClient, built_graph: Graph, catalog: dict[str, CannedQuery], hpo_slice: HpoSlice
) -> None:
    rows = results(client, "rare-diseases-with-calcinosis")["results"]["bindings"]
    assert len(rows) == len(_positive(hpo_slice))
    served = {(r["code"]["value"].replace("Orphanet:", "ORPHA:"), r["referenceLabel"]["value"]) for r in rows}
    assert served == {(a.database_id, a.reference) for a in _positive(hpo_slice)}
    assert all(r["evidence"]["value"].startswith("http://purl.obolibrary.org/obo/ECO_") for r in rows)
    assert all(r["releaseLabel"]["value"].endswith(hpo_slice.release.date) for r in rows)
    narrowed = results(client, "rare-diseases-with-calcinosis", phenotype="HP:0025520")
    assert len(narrowed["results"]["bindings"]) == len(_positive(hpo_slice, "HP:0025520"))
    expected = reference(catalog["rare-diseases-with-calcinosis"], built_graph, {"phenotype": "HP:0025520"})
    assert comparable(narrowed) == comparable(expected)


def test_the_genes_query_lists_each_gene_with_its_ncbi_gene_iri_and_diseases(
    client: FlaskClient, hpo_slice: HpoSlice
) -> None:
    rows = results(client, "genes-implicated")["results"]["bindings"]
    positive = {a.database_id for a in _positive(hpo_slice)}
    expected = {(g.gene_symbol, f"https://www.ncbi.nlm.nih.gov/gene/{g.ncbi_gene_id}") for g in hpo_slice.genes}
    expected = {e for e in expected if any(g.gene_symbol == e[0] and g.disease_id in positive for g in hpo_slice.genes)}
    assert {(r["symbol"]["value"], r["gene"]["value"]) for r in rows} == expected
    samd9 = [r["disease"]["value"] for r in rows if r["symbol"]["value"] == "SAMD9"]
    assert samd9 == [str(CC["omim-610455"])]
    pairs = {(g.gene_symbol, g.disease_id) for g in hpo_slice.genes if g.disease_id in positive}
    assert len(rows) == len(pairs)


def test_a_phenotype_that_is_not_a_code_is_refused(client: FlaskClient) -> None:
    response = client.get("/queries/genes-implicated", query_string={"phenotype": "calcinosis; DROP"})
    assert response.status_code == 400
    assert "phenotype" in response.text


def test_the_calcinosis_cutis_page_shows_the_genetic_differential_with_source_markers(
    client: FlaskClient, hpo_slice: HpoSlice
) -> None:
    page = client.get("/id/calcinosis-cutis", headers={"Accept": "text/html"})
    assert page.status_code == 200
    html = page.text
    section = html[html.index('<section id="genetic-differential">') :]
    section = section[: section.index("</section>")]
    rows = re.findall(r"<tr>\s*<td>.*?</tr>", section, flags=re.S)
    assert len(rows) == len(_positive(hpo_slice))  # calcinosis cutis maps to the slice's three terms
    for row in rows:
        assert re.search(r'class="evidence-code"[^>]*>(PCS|TAS|IEA)<', row), row
        assert re.search(r">(PMID|OMIM|ORPHA):\d+<", row), row
    assert "8/8" in section
    assert "Tumoral calcinosis, normophosphatemic, familial" in section
    assert f"release {hpo_slice.release.date}" in section


def test_a_page_without_an_hpo_mapping_has_no_genetic_differential(client: FlaskClient) -> None:
    page = client.get("/id/diltiazem", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "genetic-differential" not in page.text


@pytest.mark.parametrize(("code", "entity"), [("OMIM:610455", "omim-610455"), ("ORPHA:90291", "systemic-sclerosis")])
def test_omim_and_orphanet_codes_are_found(client: FlaskClient, code: str, entity: str) -> None:
    hits = client.get("/lookup", query_string={"q": code.replace("ORPHA:", "Orphanet:")}).get_json()
    assert str(CC[entity]) in {hit["iri"] for hit in hits}
    rows = results(client, "entity-for-code", code=code.replace("ORPHA:", "Orphanet:"))["results"]["bindings"]
    assert str(CC[entity]) in {row["entity"]["value"] for row in rows}


def test_fhir_translates_an_omim_code_to_its_entity(client: FlaskClient) -> None:
    response = client.get(
        "/fhir/ConceptMap/$translate",
        query_string={"system": "http://www.omim.org", "code": "610455", "reverse": "true"},
    )
    assert response.status_code == 200, response.text
    assert "omim-610455" in response.text
    looked_up = client.get(
        "/fhir/CodeSystem/$lookup", query_string={"system": "https://w3id.org/calcinosis-kg/id", "code": "omim-610455"}
    )
    assert looked_up.status_code == 200, looked_up.text
    assert "Tumoral calcinosis, normophosphatemic, familial" in looked_up.text


def test_void_names_hpo_as_a_source_with_its_licence_and_citation_and_offers_the_quads(
    client: FlaskClient, hpo_slice: HpoSlice
) -> None:
    response = client.get("/.well-known/void", headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    void = Graph().parse(data=response.text, format="turtle")
    release = CC[f"hpo-release-{hpo_slice.release.date}"]
    assert (None, DCTERMS.source, release) in void
    assert void.value(release, DCTERMS.license) == URIRef("https://hpo.jax.org/license")
    citation = str(void.value(release, DCTERMS.bibliographicCitation))
    assert f"Human Phenotype Ontology (release {hpo_slice.release.date})" in citation
    assert "gkad1005" in citation
    dumps = {str(url) for url in void.objects(None, VOID.dataDump)}
    assert any(url.endswith("/dumps/calcinosis-kg.nq") for url in dumps)
    quads = client.get("/dumps/calcinosis-kg.nq")
    assert quads.status_code == 200
    assert "<https://w3id.org/calcinosis-kg/graph/hpo> ." in quads.text
