"""The curated-knowledge compiler writes provenance for every assertion and refuses malformed input
with a message naming the file, the entity and the problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rdflib import Graph, Literal
from rdflib.namespace import DCTERMS, OWL, RDF, SKOS, XSD

from calcinosis_kg.errors import CurationError
from calcinosis_kg.graph.compiler import compile_knowledge
from calcinosis_kg.ontology import CC, CCO, HAS_EVIDENCE, OBO

SOURCE = """
  - id: a-source
    type: WebArticle
    label: A source
    definition: A web article.
"""


@pytest.fixture
def compile_entities(tmp_path: Path, ontology: Graph) -> Callable[[str], Graph]:
    """Compiles ``entities`` (YAML list items) after SOURCE, as the file test.yaml citing a-source with NAS."""

    def compile_text(entities: str) -> Graph:
        path = tmp_path / "test.yaml"
        path.write_text(f"sources: [a-source]\nevidence: NAS\nentities:{SOURCE}{entities}", encoding="utf-8")
        return compile_knowledge(ontology, [path])

    return compile_text


def test_relation_gets_direct_triple_and_sourced_axiom(compile_entities: Callable[[str], Graph]) -> None:
    graph = compile_entities(
        """
  - id: cond
    type: Condition
    label: a condition
    definition: A condition.
    relations:
      hasSymptom:
        - {to: itch, frequency: often, stage: early}
  - id: itch
    type: Symptom
    label: itch
    source_wording: [{label: itchiness, note: the source's word}]
    definition: An itch.
""",
    )
    assert (CC.cond, CCO.hasSymptom, CC.itch) in graph
    axioms = list(graph.subjects(OWL.annotatedSource, CC.cond))
    assert len(axioms) == 1
    axiom = axioms[0]
    assert (axiom, RDF.type, OWL.Axiom) in graph
    assert (axiom, OWL.annotatedProperty, CCO.hasSymptom) in graph
    assert (axiom, OWL.annotatedTarget, CC.itch) in graph
    assert (axiom, DCTERMS.source, CC["a-source"]) in graph
    assert (axiom, HAS_EVIDENCE, OBO.ECO_0000303) in graph
    assert (axiom, CCO.frequency, Literal("often")) in graph
    assert (axiom, CCO.stage, Literal("early")) in graph
    assert (CC.itch, SKOS.hiddenLabel, Literal("itchiness", lang="en")) in graph
    assert (CC.itch, SKOS.altLabel, Literal("itchiness", lang="en")) not in graph  # a wording is not a synonym
    assert (CC.itch, SKOS.editorialNote, Literal('Source wording "itchiness": the source\'s word', lang="en")) in graph
    assert (CC.itch, CCO.supportedBy, CC["a-source"]) in graph


def test_values_are_typed_by_the_property_range(compile_entities: Callable[[str], Graph]) -> None:
    graph = compile_entities(
        """
  - id: ccb
    type: DrugClass
    label: a class
    definition: A drug class.
    values:
      isFirstLine: true
      statedMechanism: works
""",
    )
    assert (CC.ccb, CCO.isFirstLine, Literal(True)) in graph
    assert graph.value(CC.ccb, CCO.isFirstLine).datatype == XSD.boolean  # type: ignore[union-attr]
    assert (CC.ccb, CCO.statedMechanism, Literal("works")) in graph


def test_a_treatment_assertion_carries_its_evidence_level_and_the_source_of_it(
    compile_entities: Callable[[str], Graph],
) -> None:
    graph = compile_entities(
        """
  - id: a-review
    type: JournalArticle
    label: A review
    definition: A review of the treatments.
  - id: cond
    type: Subtype
    label: a subtype
    definition: A form of the condition.
    relations:
      treatedBy:
        - {to: pill, evidence_level: case-series, evidence_level_sources: [a-review]}
        - {to: cut, evidence_level: expert-opinion}
  - id: pill
    type: Drug
    label: pill
    definition: A drug.
  - id: cut
    type: Procedure
    label: cut
    definition: A procedure.
""",
    )
    pill = graph.value(predicate=OWL.annotatedTarget, object=CC.pill)
    assert graph.value(pill, CCO.evidenceLevel) == CCO.CaseSeriesLevel
    assert set(graph.objects(pill, CCO.evidenceLevelSource)) == {CC["a-review"]}
    assert set(graph.objects(pill, DCTERMS.source)) == {CC["a-source"]}  # the level's source is not the assertion's
    cut = graph.value(predicate=OWL.annotatedTarget, object=CC.cut)
    assert graph.value(cut, CCO.evidenceLevel) == CCO.ExpertOpinionLevel
    assert set(graph.objects(cut, CCO.evidenceLevelSource)) == {CC["a-source"]}  # by default the assertion's


@pytest.mark.parametrize(
    ("entities", "message"),
    [
        (
            "\n  - id: x\n    type: Condition\n    label: x\n    definition: d.\n"
            "    relations: {treatedBy: [{to: a-source, evidence_level: anecdote}]}\n",
            "treatedBy: evidence_level must be one of ['case-reports', 'case-series', 'cohort-study', "
            "'expert-opinion', 'no-evidence', 'randomized-controlled-trial', 'systematic-review'], got 'anecdote'",
        ),
        (
            "\n  - id: x\n    type: Condition\n    label: x\n    definition: d.\n"
            "    relations: {treatedBy: [{to: a-source, evidence_level_sources: [a-source]}]}\n",
            "treatedBy: evidence_level_sources without an evidence_level",
        ),
        (
            "\n  - id: x\n    type: Planet\n    label: x\n    definition: d.\n",
            "test.yaml: x: type 'Planet' is not a class of the ontology",
        ),
        (
            "\n  - id: x\n    type: Condition\n    label: x\n    definition: d.\n    relations: {orbits: [a-source]}\n",
            "test.yaml: x: 'orbits' is not an object property of the ontology",
        ),
        (
            "\n  - id: x\n    type: Condition\n    label: x\n    definition: d.\n"
            "    relations: {hasCause: [nowhere]}\n",
            "test.yaml: x: refers to unknown entity 'nowhere'",
        ),
        ("\n  - id: x\n    type: Condition\n    label: x\n", "test.yaml: x: missing 'definition'"),
        (
            "\n  - id: a-source\n    type: Condition\n    label: x\n    definition: d.\n",
            "test.yaml: a-source: id already defined in test.yaml",
        ),
        (
            "\n  - id: x\n    type: Condition\n    label: x\n    definition: d.\n    colour: red\n",
            "test.yaml: x: unknown key(s) ['colour']",
        ),
        (
            "\n  - id: x\n    type: DrugClass\n    label: x\n    definition: d.\n    values: {isFirstLine: maybe}\n",
            "takes http://www.w3.org/2001/XMLSchema#boolean, got 'maybe'",
        ),
        (
            "\n  - id: x\n    type: Condition\n    label: x\n    definition: d.\n"
            "    relations: {hasSymptom: [{to: a-source, frequency: always}]}\n",
            "frequency must be one of ['often', 'rarely', 'sometimes', 'usually'], got 'always'",
        ),
        (
            "\n  - id: x\n    type: Condition\n    label: x\n    definition: d.\n"
            "    relations: {hasSymptom: [{to: a-source, evidence: HUNCH}]}\n",
            "evidence must be one of ['DB', 'IC', 'NAS', 'TAS'], got 'HUNCH'",
        ),
        (
            "\n  - id: x\n    type: Condition\n    label: x\n    definition: d.\n"
            "    relations: {hasCause: [a-source, a-source]}\n",
            "is asserted twice",
        ),
    ],
    ids=[
        "unknown-evidence-level",
        "evidence-level-sources-without-level",
        "unknown-type",
        "unknown-property",
        "unknown-target",
        "no-definition",
        "duplicate-id",
        "unknown-key",
        "ill-typed-value",
        "bad-qualifier",
        "bad-evidence",
        "duplicate-assertion",
    ],
)
def test_malformed_curation_is_refused(compile_entities: Callable[[str], Graph], entities: str, message: str) -> None:
    with pytest.raises(CurationError) as failure:
        compile_entities(entities)
    assert message in str(failure.value)


def test_invalid_yaml_names_the_file(tmp_path: Path, ontology: Graph) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("entities: [unclosed", encoding="utf-8")
    with pytest.raises(CurationError, match=r"bad\.yaml: not valid YAML"):
        compile_knowledge(ontology, [path])


@pytest.mark.parametrize(
    ("shorthand", "eco"),
    [("NAS", OBO.ECO_0000303), ("TAS", OBO.ECO_0000304), ("IC", OBO.ECO_0000305), ("DB", OBO.ECO_0000312)],
)
def test_each_evidence_shorthand_becomes_its_eco_class(
    compile_entities: Callable[[str], Graph], shorthand: str, eco: object
) -> None:
    graph = compile_entities(
        f"""
  - id: cond
    type: Condition
    label: a condition
    definition: A condition.
    relations:
      hasSymptom: [{{to: itch, evidence: {shorthand}, note: "Curator inference: why."}}]
  - id: itch
    type: Symptom
    label: itch
    definition: An itch.
""",
    )
    axiom = graph.value(predicate=OWL.annotatedSource, object=CC.cond)
    assert list(graph.objects(axiom, HAS_EVIDENCE)) == [eco]
