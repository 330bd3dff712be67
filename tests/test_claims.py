"""Claims are recorded as their sources make them: the assertion checklist covers every assertion with who asserted
it, disputed and hedged claims are qualified, and the mis-modelled items of the clinical review stay fixed."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, SKOS
from rdflib.term import Node

from calcinosis_kg.graph.build import ARTICLE_GRAPH, MergedGraph
from calcinosis_kg.ontology import CC, CCO, HAS_EVIDENCE, OBO

CHECKLIST = Path(__file__).resolve().parent.parent / "docs" / "assertion-checklist.md"
ASSERTED_BY = {
    "article": OBO.ECO_0000303,
    "reference": OBO.ECO_0000304,
    "curators": OBO.ECO_0000305,
    "database": OBO.ECO_0000312,
}
ARTICLE = CC["verywell-article"]


def _checklist() -> dict[tuple[str, str, str], dict[str, str]]:
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    lines = [ln for ln in CHECKLIST.read_text(encoding="utf-8").splitlines() if ln.startswith("| cc:")]
    for line in lines:
        subject, prop, obj, who, says, records = (cell.strip() for cell in line.strip("|").split(" | "))
        assert (subject, prop, obj) not in rows, f"listed twice: {line}"
        rows[(subject, prop, obj)] = {"who": who, "says": says, "records": records}
    return rows


def _cell(graph: Graph, node: Node) -> str:
    if isinstance(node, URIRef):
        return node.n3(graph.namespace_manager)
    return '"' + str(node).replace("|", "/") + '"'


def _assertions(graph: Graph) -> dict[tuple[str, str, str], Node]:
    """Every non-mapping assertion axiom of the graph, by (subject, property, object) as the checklist writes them."""
    found = {}
    for axiom in graph.subjects(RDF.type, OWL.Axiom):
        prop = graph.value(axiom, OWL.annotatedProperty)
        if graph.value(axiom, URIRef("https://w3id.org/sssom/object_id")) is not None:
            continue
        s, o = graph.value(axiom, OWL.annotatedSource), graph.value(axiom, OWL.annotatedTarget)
        assert s is not None
        assert o is not None
        assert prop is not None
        found[(_cell(graph, s), _cell(graph, prop), _cell(graph, o))] = axiom
    return found


CHECKLIST_ROWS = _checklist()


@pytest.fixture(scope="module")
def article(kg: Graph) -> Graph:
    """The article's named graph: the checklist lists its assertions (the HPO import, in a graph of its own, is
    checked by tests/test_hpo_graph.py)."""
    assert isinstance(kg, MergedGraph)
    return kg.parts[ARTICLE_GRAPH]


def test_the_checklist_covers_every_assertion_and_nothing_else(article: Graph) -> None:
    listed, asserted = set(CHECKLIST_ROWS), set(_assertions(article))
    assert sorted(asserted - listed) == [], "assertions missing from docs/assertion-checklist.md"
    assert sorted(listed - asserted) == [], "checklist rows that are not assertions of the graph"


def test_who_asserted_each_claim_matches_its_evidence_class(kg: Graph, article: Graph) -> None:
    wrong = []
    for key, axiom in _assertions(article).items():
        expected = ASSERTED_BY[CHECKLIST_ROWS[key]["who"]]
        if set(kg.objects(axiom, HAS_EVIDENCE)) != {expected}:
            wrong.append(key)
    assert wrong == []


def test_claims_marked_disputed_or_hedged_are_qualified_in_the_graph(kg: Graph, article: Graph) -> None:
    assertions = _assertions(article)
    marked = 0
    for key, row in CHECKLIST_ROWS.items():
        certainty = kg.value(assertions[key], CCO.certainty)
        if "dispute" in row["says"]:
            marked += 1
            assert certainty == Literal("disputed"), key
            assert kg.value(assertions[key], SKOS.editorialNote) is not None, f"{key}: no caveat note"
        elif "hedged" in row["says"]:
            marked += 1
            assert certainty == Literal("suspected"), key
        else:
            assert certainty is None, f"{key}: qualified in the graph but not in the checklist"
    assert marked >= 8


def test_the_articles_statements_cite_the_article_only(kg: Graph, article: Graph) -> None:
    """An author statement of the article must not borrow a cited work as a second source it does not support."""
    for key, axiom in _assertions(article).items():
        if CHECKLIST_ROWS[key]["who"] == "article" and (axiom, DCTERMS.source, ARTICLE) in kg:
            assert set(kg.objects(axiom, DCTERMS.source)) == {ARTICLE}, key


DISPUTED = [
    ("tobacco-smoking", CCO.increasesLevelOf, CC.phosphate, "disputed"),
    ("smoking-cessation", CCO.statedMechanism, Literal("smoking increases phosphate levels in the blood"), "disputed"),
    ("sucralfate", CCO.increasesLevelOf, CC.calcium, "disputed"),
    ("iatrogenic-calcinosis-cutis", CCO.hasCause, CC.sucralfate, "disputed"),
    (
        "warfarin",
        CCO.statedMechanism,
        Literal("has effects similar to prednisone and colchicine on calcium deposits"),
        "disputed",
    ),
    ("metastatic-calcinosis-cutis", CCO.hasCause, CC.calciphylaxis, "disputed"),
    ("calcinosis-cutis", CCO.treatedBy, CC.warfarin, "disputed"),
    ("calcinosis-cutis", CCO.claimedTreatment, CC["apple-cider-vinegar"], "suspected"),
    # issue 23: the article's hedges and the claims resting on a disputed premise
    ("calcinosis-cutis", CCO.preventedBy, CC["avoiding-skin-injury"], "suspected"),
    ("calcinosis-cutis", CCO.preventedBy, CC["avoiding-autoimmune-triggers"], "suspected"),
    ("calcinosis-cutis", CCO.preventedBy, CC["avoiding-supplement-overuse"], "suspected"),
    ("calcinosis-cutis", CCO.preventedBy, CC["smoking-cessation"], "disputed"),
    ("iatrogenic-calcinosis-cutis", CCO.affectsPopulation, CC["organ-transplant-recipients"], "disputed"),
    ("prednisone", CCO.statedMechanism, Literal("can reduce inflammation and shrink calcium deposits"), "suspected"),
    ("colchicine", CCO.statedMechanism, Literal("can reduce inflammation and shrink calcium deposits"), "suspected"),
    ("intravenous-calcium", CCO.usedFor, CC.tuberculosis, "disputed"),
    ("calcinosis-cutis", CCO.hasSubtype, CC.calciphylaxis, "disputed"),
    ("dystrophic-calcinosis-cutis", CCO.treatedBy, CC.diltiazem, "suspected"),
]
"""The claims the clinical reviews found stated as facts, with the certainty each must carry."""


@pytest.mark.parametrize(("subject", "prop", "obj", "certainty"), DISPUTED, ids=[f"{d[0]} {d[2]}" for d in DISPUTED])
def test_a_disputed_claim_is_qualified_with_a_caveat(
    kg: Graph, subject: str, prop: URIRef, obj: Node, certainty: str
) -> None:
    axioms = [
        a
        for a in kg.subjects(OWL.annotatedSource, CC[subject])
        if (a, OWL.annotatedProperty, prop) in kg and (a, OWL.annotatedTarget, obj) in kg
    ]
    assert len(axioms) == 1, f"{subject} {prop} {obj} is not asserted once"
    assert kg.value(axioms[0], CCO.certainty) == Literal(certainty)
    assert kg.value(axioms[0], SKOS.editorialNote) is not None


def _axiom(graph: Graph, subject: URIRef, prop: URIRef, obj: Node) -> Node:
    """The one owl:Axiom annotating ``subject prop obj``."""
    axioms = [
        a
        for a in graph.subjects(OWL.annotatedSource, subject)
        if (a, OWL.annotatedProperty, prop) in graph and (a, OWL.annotatedTarget, obj) in graph
    ]
    assert len(axioms) == 1, f"{subject} {prop} {obj} is not asserted once"
    return axioms[0]


def _notes(graph: Graph, node: Node) -> list[str]:
    return [str(n) for n in graph.objects(node, SKOS.editorialNote)]


def test_intravenous_calcium_for_tuberculosis_is_the_articles_claim_without_the_curators_context(kg: Graph) -> None:
    """The article does not date the use: the curators' "historical use" is not put on the article's axiom."""
    axiom = _axiom(kg, CC["intravenous-calcium"], CCO.usedFor, CC.tuberculosis)
    assert set(kg.objects(axiom, HAS_EVIDENCE)) == {OBO.ECO_0000303}
    assert kg.value(axiom, CCO.context) is None
    assert not any("twentieth century" in n for n in _notes(kg, axiom))
    assert any(n.startswith("Curators' note") for n in _notes(kg, CC["intravenous-calcium"]))


def test_prevention_is_the_articles_hedged_suggestion(kg: Graph) -> None:
    """The article hedges its list of ways to avoid calcinosis cutis: none is a plain "prevented by" fact."""
    measures = set(kg.objects(CC["calcinosis-cutis"], CCO.preventedBy))
    assert len(measures) == 4
    for measure in measures:
        axiom = _axiom(kg, CC["calcinosis-cutis"], CCO.preventedBy, measure)
        assert kg.value(axiom, CCO.certainty) in {Literal("suspected"), Literal("disputed")}, measure


def test_iatrogenic_calcinosis_is_local_deposition_with_normal_levels(kg: Graph) -> None:
    """Iatrogenic calcinosis cutis follows calcium put into the tissue, not an excess intake or absorption."""
    for entity in (CC["iatrogenic-calcium-overload"], CC["iatrogenic-calcinosis-cutis"]):
        definition = str(kg.value(entity, SKOS.definition))
        assert "excessive intake" not in definition.lower(), entity
        assert "extravasat" in definition, entity
    assert "electrode" in str(kg.value(CC["iatrogenic-calcium-overload"], SKOS.definition))
    axiom = _axiom(kg, CC["iatrogenic-calcinosis-cutis"], CCO.calciumPhosphateLevels, Literal("normal"))
    assert set(kg.objects(axiom, HAS_EVIDENCE)) == {OBO.ECO_0000305}
    assert set(kg.objects(axiom, DCTERMS.source)) == {CC["statpearls-calcinosis-cutis"]}
    assert all(n.startswith("Curator inference:") for n in _notes(kg, axiom))


def test_chronic_kidney_disease_as_a_kidney_disease_is_the_curators_inference(kg: Graph) -> None:
    axiom = _axiom(kg, CC["chronic-kidney-disease"], CCO.isKindOf, CC["kidney-disease"])
    assert set(kg.objects(axiom, HAS_EVIDENCE)) == {OBO.ECO_0000305}
    assert any(n.startswith("Curator inference:") for n in _notes(kg, axiom))


def test_the_articles_address_is_the_curators_lookup_not_the_articles_statement(kg: Graph) -> None:
    """The seed text gives no web address: the one recorded is the curators' lookup, said so."""
    urls = list(kg.objects(ARTICLE, URIRef("https://schema.org/url")))
    assert len(urls) == 1
    axiom = _axiom(kg, ARTICLE, URIRef("https://schema.org/url"), urls[0])
    assert set(kg.objects(axiom, HAS_EVIDENCE)) == {OBO.ECO_0000305}
    assert any(n.startswith("Curator inference:") for n in _notes(kg, axiom))


def test_where_the_lesions_occur_anywhere_and_at_the_damaged_tissue(kg: Graph) -> None:
    anywhere = _axiom(kg, CC["calcinosis-cutis"], CCO.locatedAt, CC.skin)
    assert kg.value(anywhere, CCO.context) == Literal("anywhere on the body")
    damage = _axiom(kg, CC["dystrophic-calcinosis-cutis"], CCO.locatedAt, CC.skin)
    assert "tissue damage" in str(kg.value(damage, CCO.context))
    for axiom in (anywhere, damage):
        assert set(kg.objects(axiom, DCTERMS.source)) == {ARTICLE}


def test_the_articles_navigation_links_are_not_clinical_relations(kg: Graph) -> None:
    for linked in (CC["calcific-tendinitis"], CC["calcified-uterine-fibroid"]):
        assert (CC["calcinosis-cutis"], CCO.relatedCondition, linked) not in kg
        assert (linked, CCO.relatedCondition, CC["calcinosis-cutis"]) not in kg


def test_leaving_deposits_untreated_is_a_management_option_not_a_treatment(kg: Graph) -> None:
    assert (CC["calcinosis-cutis"], CCO.treatedBy, CC["no-treatment"]) not in kg
    axiom = _axiom(kg, CC["calcinosis-cutis"], CCO.hasManagementOption, CC["no-treatment"])
    assert "no discomfort or distress" in str(kg.value(axiom, CCO.context))


CITED_WORK_LINKS = [
    ("systemic-sclerosis", "statpearls-calcinosis-cutis"),
    ("dermatomyositis", "statpearls-calcinosis-cutis"),
    ("juvenile-dermatomyositis", "calcinosis-juvenile-dermatomyositis-2014"),
]
"""Connective-tissue diseases that the article's references state give rise to dystrophic calcinosis cutis."""


@pytest.mark.parametrize(("disease", "work"), CITED_WORK_LINKS, ids=[d for d, _ in CITED_WORK_LINKS])
def test_a_cited_work_links_its_disease_to_dystrophic_calcinosis_cutis(kg: Graph, disease: str, work: str) -> None:
    axiom = _axiom(kg, CC["dystrophic-calcinosis-cutis"], CCO.hasCause, CC[disease])
    assert set(kg.objects(axiom, HAS_EVIDENCE)) == {OBO.ECO_0000304}
    assert set(kg.objects(axiom, DCTERMS.source)) == {CC[work]}
    assert (ARTICLE, CCO.cites, CC[work]) in kg


def test_calciphylaxis_is_a_disputed_subtype_sourced_to_a_cited_review(kg: Graph) -> None:
    axiom = _axiom(kg, CC["calcinosis-cutis"], CCO.hasSubtype, CC.calciphylaxis)
    assert set(kg.objects(axiom, HAS_EVIDENCE)) == {OBO.ECO_0000304}
    assert set(kg.objects(axiom, DCTERMS.source)) == {CC["statpearls-calcinosis-cutis"]}
    # the article's own, different placement stays its disputed claim
    cause = _axiom(kg, CC["metastatic-calcinosis-cutis"], CCO.hasCause, CC.calciphylaxis)
    assert kg.value(cause, CCO.certainty) == Literal("disputed")


def test_a_treatment_is_attached_to_the_subtype_its_source_names(kg: Graph) -> None:
    axiom = _axiom(kg, CC["dystrophic-calcinosis-cutis"], CCO.treatedBy, CC.diltiazem)
    assert CC["calcinosis-ssc-dm-treatment-review-2020"] in set(kg.objects(axiom, DCTERMS.source))
    assert "systemic sclerosis and dermatomyositis" in str(kg.value(axiom, CCO.context))


def test_first_line_is_said_of_the_drug_class_only(kg: Graph) -> None:
    first_line = set(kg.subjects(CCO.isFirstLine, Literal(True)))
    assert first_line == {CC["calcium-channel-blocker"]}
    assert all((s, RDF.type, CCO.DrugClass) in kg for s in first_line)


def test_no_synonym_is_narrower_than_its_concept(kg: Graph) -> None:
    assert Literal("acne vulgaris", lang="en") not in set(kg.objects(CC.acne, SKOS.altLabel))
    assert Literal("photoaging", lang="en") not in set(kg.objects(CC["sun-damage"], SKOS.altLabel))
    synonyms = {str(s) for s in kg.objects(CC["familial-tumoral-calcinosis"], SKOS.altLabel)}
    assert not any("hyperphosphatemic" in s for s in synonyms)


def test_varicose_veins_are_not_typed_inflammatory(kg: Graph) -> None:
    assert (CC["varicose-veins"], RDF.type, CCO.InflammatoryDisease) not in kg
    assert (CC["varicose-veins"], RDF.type, CCO.Disease) in kg


def test_preventive_measures_avoid_triggers_and_damage_not_the_diseases(kg: Graph) -> None:
    avoided = set(kg.objects(None, CCO.avoids))
    assert avoided.isdisjoint({CC["rheumatoid-arthritis"], CC.gout, CC.acne})
    assert (CC["autoimmune-disease-trigger"], CCO.triggers, CC["rheumatoid-arthritis"]) in kg
    assert (CC["acne-skin-damage"], CCO.hasCause, CC.acne) in kg


def _axiom(kg: Graph, subject: Node, prop: URIRef, obj: Node) -> Node:
    (axiom,) = [
        a
        for a in kg.subjects(OWL.annotatedSource, subject)
        if (a, OWL.annotatedProperty, prop) in kg and (a, OWL.annotatedTarget, obj) in kg
    ]
    return axiom


def test_home_remedy_is_unproven_and_not_a_treatment(kg: Graph) -> None:
    remedy = CC["apple-cider-vinegar"]
    assert (CC["calcinosis-cutis"], CCO.treatedBy, remedy) not in kg
    axiom = _axiom(kg, CC["calcinosis-cutis"], CCO.claimedTreatment, remedy)
    assert kg.value(axiom, CCO.evidenceLevel) == CCO.NoEvidenceLevel
    assert set(kg.objects(axiom, CCO.evidenceLevelSource)) == {ARTICLE}


REVIEW = CC["calcinosis-ssc-dm-treatment-review-2020"]
"""Reference 5 of the article: its review of the treatment literature finds case reports and small series only."""


def test_every_treatment_assertion_has_one_evidence_level_with_its_source(kg: Graph) -> None:
    levels = set(kg.subjects(SKOS.inScheme, CCO.EvidenceLevelScheme))
    treatment_axioms = [
        axiom for prop in (CCO.treatedBy, CCO.claimedTreatment) for axiom in kg.subjects(OWL.annotatedProperty, prop)
    ]
    assert len(treatment_axioms) >= 14
    for axiom in treatment_axioms:
        target = kg.value(axiom, OWL.annotatedTarget)
        assert len(set(kg.objects(axiom, CCO.evidenceLevel))) == 1, target
        assert kg.value(axiom, CCO.evidenceLevel) in levels, target
        assert set(kg.objects(axiom, CCO.evidenceLevelSource)), target


def test_every_drug_treatment_rests_on_case_series_per_reference_5(kg: Graph) -> None:
    drugs = [
        t
        for t in kg.objects(CC["calcinosis-cutis"], CCO.treatedBy)
        if (t, RDF.type, CCO.Drug) in kg or (t, RDF.type, CCO.DrugClass) in kg
    ]
    assert len(drugs) == 7
    for drug in drugs:
        axiom = _axiom(kg, CC["calcinosis-cutis"], CCO.treatedBy, drug)
        assert kg.value(axiom, CCO.evidenceLevel) == CCO.CaseSeriesLevel, drug
        assert set(kg.objects(axiom, CCO.evidenceLevelSource)) == {REVIEW}, drug
        assert set(kg.objects(axiom, DCTERMS.source)) == {ARTICLE}, drug  # the treatment itself is the article's


def test_first_line_status_names_its_source_and_evidence_level(kg: Graph) -> None:
    axiom = _axiom(kg, CC["calcium-channel-blocker"], CCO.isFirstLine, Literal(True))
    assert set(kg.objects(axiom, DCTERMS.source)) == {ARTICLE}
    assert kg.value(axiom, CCO.evidenceLevel) == CCO.CaseSeriesLevel
    assert set(kg.objects(axiom, CCO.evidenceLevelSource)) == {REVIEW}
    assert "first-line" in str(kg.value(axiom, SKOS.editorialNote))


def test_warfarin_is_recorded_as_a_risk_factor_for_calciphylaxis_by_the_curators(kg: Graph) -> None:
    axiom = _axiom(kg, CC.warfarin, CCO.hasRisk, CC.calciphylaxis)
    assert kg.value(axiom, HAS_EVIDENCE) == OBO.ECO_0000305
    assert str(kg.value(axiom, SKOS.editorialNote)).startswith("Curator inference: ")
    treated = _axiom(kg, CC["calcinosis-cutis"], CCO.treatedBy, CC.warfarin)
    assert "calciphylaxis" in str(kg.value(treated, SKOS.editorialNote))
    assert kg.value(treated, CCO.evidenceLevel) == CCO.CaseSeriesLevel


def test_a_procedure_context_agrees_with_its_indication(kg: Graph) -> None:
    for procedure in kg.objects(CC["calcinosis-cutis"], CCO.treatedBy):
        indications = {str(i) for i in kg.objects(procedure, CCO.indication)}
        if not indications or "cosmetic removal" in indications:
            continue
        axiom = next(
            a
            for a in kg.subjects(OWL.annotatedSource, CC["calcinosis-cutis"])
            if (a, OWL.annotatedProperty, CCO.treatedBy) in kg and (a, OWL.annotatedTarget, procedure) in kg
        )
        assert "cosmetic" not in str(kg.value(axiom, CCO.context) or ""), procedure


def test_imaging_shows_the_extent_rather_than_diagnosing(kg: Graph) -> None:
    for test in (CC["computed-tomography"], CC["bone-scan"]):
        assert (CC["calcinosis-cutis"], CCO.diagnosedBy, test) not in kg
        assert (CC["calcinosis-cutis"], CCO.extentAssessedBy, test) in kg


def test_the_articles_update_date_is_not_its_publication_year(kg: Graph) -> None:
    assert kg.value(ARTICLE, CCO.publicationYear) is None
    assert str(kg.value(ARTICLE, URIRef("https://schema.org/dateModified"))) == "2023-03-11"
