"""The HPO import in the pages (issue 27): the home page's genetic differential (the calcinosis cutis page's rows, with
their genes and source markers) and the HPO part of the calcinosis cutis page's neighbourhood graph, marked as from
the HPO named graph."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from calcinosis_kg.graph.imports.hpo_rdf import HPO_GRAPH
from calcinosis_kg.graph.imports.hpo_slice import Annotation, HpoSlice, read_slice
from calcinosis_kg.server.views.pages import genetics

pytestmark = pytest.mark.live

NCBI_GENE = "https://www.ncbi.nlm.nih.gov/gene/"
REFERENCE_LINK = re.compile(
    r'<a href="(https://pubmed\.ncbi\.nlm\.nih\.gov/\d+/|https://omim\.org/entry/\d+|https://www\.orpha\.net/[^"]+)"'
    r"[^>]*>(PMID|OMIM|ORPHA):\d+</a>"
)
"""A row's reference marker: HPO's reference as a link to its PubMed, OMIM or Orphanet page."""


@pytest.fixture(scope="module")
def hpo_slice() -> HpoSlice:
    return read_slice()


def _positive(hpo_slice: HpoSlice) -> list[Annotation]:
    return [a for a in hpo_slice.annotations if a.qualifier != "NOT"]


def _genes_of(hpo_slice: HpoSlice, disease_id: str) -> set[str]:
    return {g.gene_symbol for g in hpo_slice.genes if g.disease_id == disease_id}


def _section(text: str, name: str) -> str:
    section = text[text.index(f'<section id="{name}">') :]
    return section[: section.index("</section>")]


def _rows(section: str) -> list[str]:
    return re.findall(r"<tr>\s*<td>.*?</tr>", section, flags=re.S)


def _cells(row: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_the_home_page_shows_the_genetic_differential_with_genes_and_source_markers(
    client: FlaskClient, hpo_slice: HpoSlice
) -> None:
    """One row per positive HPO annotation of the terms calcinosis cutis is mapped to (all three of the slice), each
    with the genes HPO links to its disease (linked to NCBI Gene), its frequency, and its reference as a link to the
    source with HPO's evidence code; the acknowledgement HPO's licence asks for names the release."""
    response = client.get("/")
    assert response.status_code == 200
    section = _section(response.text, "genetic-differential")
    rows = _rows(section)
    positive = _positive(hpo_slice)
    assert len(rows) == len(positive)
    for row in rows:
        assert re.search(r'class="evidence-code"[^>]*>(PCS|TAS|IEA)<', row), row
        assert REFERENCE_LINK.search(row), row
    references = [REFERENCE_LINK.search(row).group(2) for row in rows]  # type: ignore[union-attr]
    assert len(set(references)) == 3  # PMID, OMIM and ORPHA
    shown = sorted(re.sub(r"<[^>]+>", "", row.rsplit("<td>", 1)[-1]).split()[0] for row in rows)
    assert shown == sorted(a.reference for a in positive)
    (samd9,) = [row for row in rows if "PMID:16960814" in row]
    assert f'href="{NCBI_GENE}54809"' in samd9
    assert _cells(samd9)[1] == "SAMD9"
    assert "8/8" in samd9
    for row in rows:
        (code,) = re.findall(r'<span class="code">((?:OMIM|Orphanet):\d+)</span>', row)
        symbols = set(filter(None, _cells(row)[1].split(", ")))
        assert symbols == _genes_of(hpo_slice, code.replace("Orphanet:", "ORPHA:")), row
    assert f"release {hpo_slice.release.date}" in section
    # calcinosis cutis's own HPO term first, then the narrower, then the broader one (graph/mappings: exact
    # HP:0025520, narrow HP:0007618, broad HP:0003761)
    label = {term.hpo_id: term.label for term in hpo_slice.terms}
    order = [label[hpo_id] for hpo_id in ("HP:0025520", "HP:0007618", "HP:0003761")]
    shown_terms = [_cells(row)[2] for row in rows]
    assert shown_terms == sorted(shown_terms, key=order.index)
    assert [shown_terms.count(term) for term in order] == [
        sum(a.hpo_id == hpo_id for a in positive) for hpo_id in ("HP:0025520", "HP:0007618", "HP:0003761")
    ]


def test_the_home_page_rows_are_those_of_the_calcinosis_cutis_page(client: FlaskClient) -> None:
    """One definition: both sections are the same rows (disease, genes, HPO term, frequency, source)."""
    home = _rows(_section(client.get("/").text, "genetic-differential"))
    page = client.get("/id/calcinosis-cutis", headers={"Accept": "text/html"})
    rows = _rows(_section(page.text, "genetic-differential"))

    on_home = [_cells(row) for row in home]  # disease and code, genes, HPO term, frequency, source
    on_page = [_cells(row) for row in rows]  # disease, code, genes, HPO term and match, frequency, source
    assert on_home
    assert [(c[0], c[1], c[3], c[4]) for c in on_home] == [(f"{c[0]} {c[1]}", c[2], c[4], c[5]) for c in on_page]
    assert all(p[3].startswith(h[2]) for h, p in zip(on_home, on_page, strict=True))


def _elements(text: str) -> list[dict[str, Any]]:
    found = re.search(r'id="neighbourhood-graph" class="graph" data-elements="([^"]*)"', text)
    assert found is not None
    elements: list[dict[str, Any]] = json.loads(html.unescape(found.group(1)))
    return elements


def test_the_neighbourhood_graph_includes_the_hpo_diseases_and_their_genes_marked_as_from_the_hpo_graph(
    client: FlaskClient, hpo_slice: HpoSlice
) -> None:
    """The calcinosis cutis page's interactive graph has a "← has phenotype (HPO)" group holding every disease with
    a positive annotation and an "associated gene (HPO)" group holding their genes, each gene linked from its
    diseases (not from calcinosis cutis); every one of those elements names the HPO graph. The SVG drawn without
    JavaScript shows the same groups with the ``hpo`` class."""
    response = client.get("/id/calcinosis-cutis", headers={"Accept": "text/html"})
    assert response.status_code == 200
    elements = [element["data"] for element in _elements(response.text)]
    relations = {data["label"]: data for data in elements if data.get("kind") == "relation"}
    diseases_group = relations["← has phenotype (HPO)"]
    genes_group = relations["associated gene (HPO)"]
    assert diseases_group["graph"] == genes_group["graph"] == str(HPO_GRAPH)
    diseases = {data["id"]: data for data in elements if data.get("parent") == diseases_group["id"]}
    genes = {data["id"]: data for data in elements if data.get("parent") == genes_group["id"]}
    assert all(data["graph"] == str(HPO_GRAPH) for data in [*diseases.values(), *genes.values()])
    assert len(diseases) == len({a.database_id for a in _positive(hpo_slice)})
    positive = {a.database_id for a in _positive(hpo_slice)}
    assert {data["label"] for data in genes.values()} == {
        g.gene_symbol for g in hpo_slice.genes if g.disease_id in positive
    }
    assert {data["href"] for data in genes.values()} >= {f"{NCBI_GENE}54809"}
    edges = [data for data in elements if "source" in data]
    into_genes = [edge for edge in edges if edge["target"] in genes]
    assert {edge["target"] for edge in into_genes} == set(genes)
    assert all(edge["source"] in diseases and edge["graph"] == str(HPO_GRAPH) for edge in into_genes)
    (samd9,) = [node for node, data in genes.items() if data["label"] == "SAMD9"]
    assert [diseases[edge["source"]]["href"] for edge in into_genes if edge["target"] == samd9] == ["/id/omim-610455"]
    assert not any(edge["target"] == genes_group["id"] or edge["source"] == genes_group["id"] for edge in edges)
    svg = response.text[response.text.index('id="neighbourhood-svg"') :]
    svg = svg[: svg.index("</svg>")]
    assert "<title>← has phenotype (HPO)</title>" in svg
    assert "<title>associated gene (HPO)</title>" in svg
    first_gene = min(data["label"] for data in genes.values())
    assert f'<g class="box neighbour hpo"><title>{first_gene}</title>' in svg
    assert 'href="#genetic-differential"' in svg  # "+ n more" diseases: the section lists them all


def test_a_page_without_an_hpo_mapping_has_no_hpo_part_in_its_neighbourhood(client: FlaskClient) -> None:
    response = client.get("/id/diltiazem", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert not any("graph" in element["data"] for element in _elements(response.text))
    assert "(HPO)" not in response.text


def test_the_pages_name_the_hpo_graph_the_build_writes() -> None:
    """The server does not import the compiler; its copy of the HPO graph's IRI is the build's."""
    assert str(HPO_GRAPH) == genetics.HPO_GRAPH
