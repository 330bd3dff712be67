"""The web UI through the app on the built graph: home, query and resource pages; escaping, local assets, no script."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from calcinosis_kg.queries.catalog import load_catalog
from calcinosis_kg.server.app import create_app, query_pool
from calcinosis_kg.server.views.pages import assets
from calcinosis_kg.server.views.ui import prefilled
from tests.support.web import BROWSER_ACCEPT

CATALOG = load_catalog()


class Page(HTMLParser):
    """The links, assets, scripts and textarea text of an HTML page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.links: list[str] = []
        self.assets: list[str] = []
        self.scripts = 0
        self.inline_scripts = 0
        self.textarea = ""
        self._in_textarea = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        loaded = tag != "link" or values.get("rel") in ("stylesheet", "icon", "preload", "manifest")
        source = values.get("href") or values.get("src")
        if loaded and source and tag in ("link", "img", "script", "iframe", "source"):
            self.assets.append(source)
        self.scripts += tag == "script"
        self.inline_scripts += tag == "script" and not values.get("src")
        self._in_textarea = tag == "textarea"

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._in_textarea = False

    def handle_data(self, data: str) -> None:
        if self._in_textarea:
            self.textarea += data


def page(client: FlaskClient, path: str, status: int = 200, **params: str) -> tuple[TestResponse, Page]:
    response = client.get(path, query_string=params or None, headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == status, response.text[:2000]
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    return response, Page(response.text)


def test_home_page(client: FlaskClient) -> None:
    response, home = page(client, "/")
    assert "/ontology/Cause" in home.links
    assert re.search(r'href="/ontology/Cause"[^>]*>cause</a></td><td class="number">30<', response.text)
    for name, query in CATALOG.items():
        assert f"/query?example={name}" in home.links
        assert f"/queries/{name}" in home.links
        assert query.summary in html.unescape(response.text)
    for link in (
        "/sparql",
        "/.well-known/void",
        "/openapi.json",
        "/dumps/calcinosis-kg.ttl",
        "/dumps/calcinosis-kg.nt",
        "/dumps/calcinosis-kg.jsonld",
        "/dumps/calcinosis-kg.owl",
        "/query",
        "/ontology",
    ):
        assert link in home.links, link


def test_the_home_page_draws_the_knowledge_and_groups_the_questions(client: FlaskClient) -> None:
    response, _ = page(client, "/")
    text = response.text
    picture = text[text.index('<svg class="picture"') : text.index("</svg>")]
    for path in (
        "/id/calcinosis-cutis",
        "/id/metastatic-calcinosis-cutis",
        "/id/chronic-kidney-disease",
        "/id/skin-biopsy",
        "/id/surgical-excision",
    ):
        assert f'href="{path}"' in picture, path
    assert text.index('id="search"') < text.index('id="knowledge"') < text.index('id="questions"')
    assert "<h3>Diagnosis</h3>" in text
    assert text.index('id="classes"') > text.index('id="questions"')
    assert "<details>" in text[text.index('id="classes"') :]


def test_the_search_works_without_javascript(client: FlaskClient) -> None:
    _, found = page(client, "/search", q="kidney disease")
    assert "/id/kidney-disease" in found.links
    assert "/id/chronic-kidney-disease" in found.links
    assert "/id/acne" not in found.links


@pytest.mark.parametrize("path", ["/", "/query", "/id/acne", "/ontology", "/id/no-such-entity", "/search?q=acne"])
def test_pages_load_nothing_from_elsewhere_and_run_no_inline_script(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Accept": BROWSER_ACCEPT})
    parsed = Page(response.text)
    assert parsed.inline_scripts == 0
    assert parsed.assets
    assert all(asset.startswith("/assets/") for asset in parsed.assets), parsed.assets
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    for directive in ("script-src", "style-src", "connect-src", "img-src"):
        assert policy[directive] == "'self'", directive  # no 'unsafe-inline', no 'unsafe-eval', no other host
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path", ["/", "/query", "/ontology", "/ontology/Disease", "/id/calcinosis-cutis", "/id/acne", "/search?q=a"]
)
def test_every_page_weighs_under_one_and_a_half_megabytes(client: FlaskClient, path: str) -> None:
    response, parsed = page(client, path)
    loaded = [asset for asset in parsed.assets if ".css" in asset or ".js" in asset]
    sizes = [len(client.get(html.unescape(asset)).data) for asset in loaded]
    total = len(response.data) + sum(sizes)
    assert total < 1_500_000, (path, total)


def test_the_stylesheet_is_served(client: FlaskClient) -> None:
    response = client.get("/assets/style.css")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/css")


def test_a_resource_page(client: FlaskClient) -> None:
    response, acne = page(client, "/id/acne")
    text = response.text
    assert ">acne</h1>" in text
    assert "inflammatory acne" in text  # a synonym (the source's wording)
    assert "Inflammatory disease of the hair follicles" in text  # the definition
    assert "Source wording" in text  # the editorial note
    assert "/ontology/InflammatoryDisease" in acne.links  # a type
    assert "/id/face" in acne.links  # a relation, with its qualifier and source
    assert "dystrophic calcinosis cutis" in text
    assert "/id/verywell-article" in acne.links
    snomed = "https://browser.ihtsdotools.org/?perspective=full&conceptId1=11381005&edition=MAIN&languages=en"
    assert snomed in acne.links
    assert "Acne (disorder)" in text  # the code's own term
    assert "SNOMED CT" in text
    assert "/id/acne.ttl" in acne.links


def test_a_journal_article_links_its_doi(client: FlaskClient) -> None:
    _, source = page(client, "/id/epidemiology-treatment-calcinosis-cutis-2020")
    assert "https://doi.org/10.4103/ijd.IJD_527_18" in source.links


def test_a_resource_page_shows_codes_first_and_numbered_references(client: FlaskClient) -> None:
    response, _ = page(client, "/id/calcinosis-cutis")
    text = response.text
    assert text.index('id="mappings"') < text.index('id="statements"') < text.index('id="references"')
    assert "ICD10CM:L94.2" in text
    statements = text[text.index('id="statements"') : text.index('id="references"')]
    # a statement gives its source as a marker, not as the source's title (the article itself appears among the
    # statements and in the neighbourhood picture, as the work whose subject calcinosis cutis is)
    marks = re.findall(r'<span class="marks">(.*?)</span></li>', statements)
    assert marks
    assert not any("Calcium Deposits on the Face" in mark for mark in marks)
    assert 'href="#ref-1"' in statements
    assert 'class="evidence-code"' in statements
    references = text[text.index('id="references"') :]
    assert 'id="ref-1"' in references
    assert "Calcium Deposits on the Face" in references
    assert "ECO:0000303" in references  # the evidence class explained once
    assert "certainty: <" in statements or "certainty:" in statements  # a caveat stays visible


def test_a_class_page_shows_its_place_in_the_hierarchy(client: FlaskClient) -> None:
    response, disease = page(client, "/ontology/Disease")
    text = response.text
    assert 'id="hierarchy"' in text
    assert "/ontology/Condition" in disease.links  # a superclass
    assert "/ontology/AutoimmuneDisease" in disease.links  # a subclass
    assert "/ontology/hasCause" in disease.links or "/ontology/treatedBy" in disease.links  # domain or range


def test_the_ontology_page_opens_on_the_class_tree(client: FlaskClient) -> None:
    response, _ = page(client, "/ontology")
    text = response.text
    assert text.index('id="tree"') < text.index("Object properties")
    tree = text[text.index('id="tree"') : text.index("</section>", text.index('id="tree"'))]
    assert "<details open>" in tree
    assert tree.count("<details") > 5
    assert re.search(r'href="/ontology/Subtype"[^>]*>calcinosis cutis subtype</a>\s*<span class="count"[^>]*>4<', tree)


def test_a_class_page_lists_its_members(client: FlaskClient) -> None:
    response, cause = page(client, "/ontology/Cause")
    assert "Members" in response.text
    assert "/id/acne" in cause.links
    assert "/id/chronic-kidney-disease" in cause.links


def test_the_editor_is_served_from_this_server_with_a_long_cache_life(client: FlaskClient) -> None:
    _, query = page(client, "/query")
    scripts = [asset for asset in query.assets if ".js" in asset]
    assert any(asset.startswith("/assets/npm/yasgui.min.js?v=") for asset in scripts), query.assets
    for asset in query.assets:
        served = client.get(html.unescape(asset))
        assert served.status_code == 200, asset
        if asset.startswith("/assets/npm/"):
            assert "immutable" in served.headers["Cache-Control"]
    config = client.get("/query/editor.json").get_json()
    assert config["endpoint"] == "/sparql"
    assert config["prefixes"]["cc"] == "https://w3id.org/calcinosis-kg/id/"
    assert ["https://w3id.org/calcinosis-kg/ontology/Subtype", "calcinosis cutis subtype"] in config["classes"]
    assert any(iri.endswith("/ontology/hasCause") for iri, _ in config["properties"])
    assert ["https://w3id.org/calcinosis-kg/id/chronic-kidney-disease", "chronic kidney disease"] in config["entities"]
    assert {example["name"] for example in config["examples"]} == set(CATALOG)


def test_the_query_page_is_prefilled_from_an_example(client: FlaskClient) -> None:
    _, query = page(client, "/query", example="subtypes")
    assert query.textarea.strip() == prefilled(CATALOG["subtypes"]).strip()
    assert "?parent cco:hasSubtype|^cco:subtypeOf ?subtype" in query.textarea


def test_an_unknown_example_is_404(client: FlaskClient) -> None:
    assert client.get("/query", query_string={"example": "nope"}).status_code == 404


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_example_runs_from_the_query_page(client: FlaskClient, name: str) -> None:
    response, _ = page(client, "/query", query=prefilled(CATALOG[name]))
    assert 'id="results"' in response.text
    assert 'id="error"' not in response.text


def test_select_results_link_to_resource_pages(client: FlaskClient) -> None:
    response = client.post(
        "/query",
        data={"query": "SELECT ?s ?label WHERE { ?s a cco:Subtype ; skos:prefLabel ?label } ORDER BY ?label"},
    )
    assert response.status_code == 200
    results = Page(response.text)
    assert "/id/metastatic-calcinosis-cutis" in results.links
    assert "4 rows" in response.text
    assert "metastatic calcinosis cutis" in response.text


def test_ask_shows_yes_or_no(client: FlaskClient) -> None:
    yes, _ = page(client, "/query", query="ASK { cc:acne a cco:Cause }")
    assert 'id="answer">yes<' in yes.text
    no, _ = page(client, "/query", query="ASK { cc:acne a cco:Drug }")
    assert 'id="answer">no<' in no.text


def test_construct_shows_turtle(client: FlaskClient) -> None:
    response, _ = page(client, "/query", query="DESCRIBE cc:acne")
    assert "Result graph (Turtle)" in response.text
    assert "cc:acne" in response.text


def test_a_syntax_error_is_a_readable_400(client: FlaskClient) -> None:
    response, query = page(client, "/query", status=400, query="SELECT ?s WHERE { ?s ?p }")
    assert 'id="error"' in response.text
    assert "Traceback" not in response.text
    assert query.textarea == "SELECT ?s WHERE { ?s ?p }"  # the query is kept for editing


def test_updates_are_refused_on_the_query_page(client: FlaskClient) -> None:
    response, _ = page(client, "/query", status=403, query="INSERT DATA { cc:a cc:b cc:c }")
    assert 'id="error"' in response.text


def test_the_query_page_offers_the_endpoints_formats(client: FlaskClient) -> None:
    _, result = page(client, "/query", query="SELECT ?s WHERE { ?s a cco:Subtype }")
    downloads = [link for link in result.links if link.startswith("/sparql?")]
    assert len(downloads) == 4
    assert client.get(html.unescape(downloads[2])).headers["Content-Type"].startswith("text/")


def test_hostile_text_is_escaped(hostile_client: FlaskClient) -> None:
    response, hostile = page(hostile_client, "/id/hostile")
    text = response.text
    assert hostile.inline_scripts == 0
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img" not in text
    assert "<iframe" not in text
    assert "javascript:" not in " ".join(hostile.links)
    assert 'onmouseover="' not in text
    _, query = page(hostile_client, "/query", query="SELECT ?label WHERE { ?s skos:definition ?label }")
    assert query.inline_scripts == 0
    assert "</textarea><script>" not in query.textarea


def test_without_npm_the_query_page_says_how_to_get_the_editor(
    build_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assets, "NPM", tmp_path / "no-npm-here")
    app = create_app({"KG_DATA": str(build_dir / "calcinosis-kg.nt"), "KG_QUERY_WORKERS": "1"})
    try:
        client = app.test_client()
        query = client.get("/query", headers={"Accept": BROWSER_ACCEPT})
        assert query.status_code == 200
        text = query.get_data(as_text=True)
        assert 'id="no-editor"' in text
        assert "make static" in text
        assert "<script" not in text
        answered = client.get("/query", query_string={"query": "ASK { cc:acne a cco:Cause }"})
        assert 'id="answer">yes<' in answered.get_data(as_text=True)
        resource = client.get("/id/acne", headers={"Accept": BROWSER_ACCEPT}).get_data(as_text=True)
        assert "<script" not in resource
        assert 'id="neighbourhood-svg"' in resource
    finally:
        query_pool(app).close()


def test_a_treatment_shows_its_evidence_level_beside_its_source_marker(client: FlaskClient) -> None:
    """Issue 23: every treatment assertion shows its evidence level next to its source and evidence markers, the
    level's own source (reference 5 of the article, for the drugs) numbered in the reference list."""
    response, _ = page(client, "/id/calcinosis-cutis")
    text = response.text
    statements = text[text.index('id="statements"') : text.index('id="references"')]
    (item,) = [li for li in re.findall(r"<li>(.*?)</li>", statements, re.S) if 'href="/id/diltiazem"' in li]
    marks = item[item.index('<span class="marks">') :]
    level = re.search(r'<span class="evidence-level">evidence level: (.*?)</span>', marks, re.S)
    assert level is not None, marks
    assert "case series" in level.group(1)
    number = re.search(r'href="#ref-(\d+)"', level.group(1))
    assert number is not None
    references = text[text.index('id="references"') :]
    entry = re.search(rf'<li id="ref-{number.group(1)}"[^>]*>(.*?)</li>', references, re.S)
    assert entry is not None
    assert "Treatment of calcinosis cutis in systemic sclerosis and dermatomyositis" in entry.group(1)
    (vinegar,) = [li for li in re.findall(r"<li>(.*?)</li>", text, re.S) if 'href="/id/apple-cider-vinegar"' in li]
    assert "evidence level: " in vinegar
    assert "no evidence" in vinegar


STATED_SUBTYPES = (
    "dystrophic calcinosis cutis",
    "iatrogenic calcinosis cutis",
    "idiopathic calcinosis cutis",
    "metastatic calcinosis cutis",
)


def test_the_home_page_marks_a_disputed_subtype(client: FlaskClient) -> None:
    """The overview draws calciphylaxis among the subtypes (StatPearls's fifth type) but marked disputed: its name
    followed by "(disputed)", a ``disputed`` box and a dashed line, never a plain subtype box."""
    response, _ = page(client, "/")
    text = response.text
    picture = text[text.index('<svg class="picture"') : text.index("</svg>")]
    boxes = {
        label: kind for kind, label in re.findall(r'<g class="box (subtype[^"]*)"><title>([^<]*)</title>', picture)
    }
    assert boxes == {**{name: "subtype" for name in STATED_SUBTYPES}, "calciphylaxis (disputed)": "subtype disputed"}
    assert picture.count('class="edge disputed"') == 1


def test_the_resource_page_marks_a_disputed_subtype_with_its_note(client: FlaskClient) -> None:
    """The calcinosis cutis page lists calciphylaxis under "has subtype" with its certainty and the note that says
    who disputes it, and its neighbourhood picture names it "calciphylaxis (disputed)"."""
    response, _ = page(client, "/id/calcinosis-cutis")
    text = response.text
    start = text.index('id="statements"')
    end = min(text.index(section, start) for section in ('id="genetic-differential"', 'id="neighbourhood"'))
    rows = re.findall(r"<tr>\s*<th[^>]*>(.*?)</th>\s*<td>(.*?)</td>", text[start:end], re.S)
    (subtypes,) = [cell for head, cell in rows if ">has subtype<" in head]
    items = re.findall(r"<li>(.*?)</li>", subtypes, re.S)
    (calciphylaxis,) = [li for li in items if 'href="/id/calciphylaxis"' in li]
    assert re.search(r'<span class="qualifier caveat">certainty: (?:<[^>]*>)?disputed<', calciphylaxis), calciphylaxis
    assert "StatPearls" in html.unescape(calciphylaxis)  # the note: who classes it so, and who disputes it
    stated = [li for li in items if 'href="/id/calciphylaxis"' not in li]
    assert len(stated) == len(STATED_SUBTYPES)
    assert not any("certainty" in li for li in stated)
    svg = text[text.index('id="neighbourhood-svg"') :]
    svg = svg[: svg.index("</svg>")]
    assert '<g class="box neighbour disputed"><title>calciphylaxis (disputed)</title>' in svg
