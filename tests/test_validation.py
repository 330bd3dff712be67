"""Validation of the real build passes, and each check fails with a clear message on a broken fixture."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rdflib import Graph

from calcinosis_kg.errors import ValidationFailed
from calcinosis_kg.graph.validate import (
    check_consistency,
    check_determinism,
    check_shacl,
    check_violation_queries,
    violation_queries,
)

BROKEN = Path(__file__).resolve().parent / "fixtures" / "broken"


def with_fixture(kg: Graph, name: str) -> Graph:
    """A copy of the real merged graph (``kg``, built once per run) plus one deliberately broken Turtle fixture."""
    graph = Graph()
    for prefix, namespace in kg.namespaces():
        graph.bind(prefix, namespace, override=True, replace=True)
    graph += kg
    graph.parse(BROKEN / name, format="turtle")
    return graph


# -- the real build ---------------------------------------------------------------------------------


def test_real_graph_conforms_to_shapes(kg: Graph) -> None:
    check_shacl(kg)


def test_real_graph_has_no_violations(kg: Graph) -> None:
    check_violation_queries(kg)


def test_real_graph_is_consistent(kg: Graph) -> None:
    check_consistency(kg)


def test_two_builds_are_byte_identical() -> None:
    check_determinism()


def test_every_violation_query_says_what_it_guards() -> None:
    queries = violation_queries()
    assert len(queries) >= 5
    for query in queries:
        assert query.guards.startswith("Guards:"), query.name


# -- each check fails on a broken fixture, naming the entity and the rule -------------------------------


BROKEN_GRAPHS = [
    pytest.param(
        check_shacl,
        "shacl-missing-label.ttl",
        ["cc:broken-site skos:prefLabel: needs exactly one English skos:prefLabel"],
        id="shacl-rejects-entity-without-label",
    ),
    pytest.param(
        check_shacl,
        "shacl-range.ttl",
        ["cc:calcinosis-cutis cco:hasCause: values of cco:hasCause must be cco:Cause"],
        id="shacl-rejects-relation-outside-its-range",
    ),
    pytest.param(
        check_violation_queries,
        "unsourced-relation.ttl",
        ["relation-without-source-violation: cc:calcinosis-cutis, cco:treatedBy, cc:sucralfate", "1 problem(s)"],
        id="violation-query-finds-unsourced-relation",
    ),
    pytest.param(
        check_consistency,
        "inconsistent.ttl",
        ["OWL consistency (HermiT) failed", "inconsistent"],
        id="reasoner-finds-inconsistency",
    ),
    pytest.param(
        check_consistency,
        "unsatisfiable.ttl",
        ["cco:SiteThatIsATreatment is unsatisfiable"],
        id="reasoner-reports-unsatisfiable-class",
    ),
    pytest.param(
        check_violation_queries,
        "misattributed-evidence.ttl",
        [
            'misattributed-evidence-violation: cc:calcinosis-cutis, cco:treatedBy, cc:prednisone, "author statement '
            "cites https://w3id.org/calcinosis-kg/id/apple-vinegar-varicosity-trial-2016, which does not describe "
            'https://w3id.org/calcinosis-kg/id/calcinosis-cutis"',
            'cc:skin-biopsy, cco:measures, cc:calcium, "a curator inference is tagged as an author statement"',
        ],
        id="violation-query-finds-misattributed-evidence",
    ),
    pytest.param(
        check_shacl,
        "shacl-evidence.ttl",
        [
            "obo:RO_0002558: owl:Axiom needs exactly one evidence class",
            "a curator inference (ECO:0000305) or a disputed claim needs an editorial note",
        ],
        id="shacl-rejects-unknown-evidence-and-unexplained-inference",
    ),
    pytest.param(
        check_shacl,
        "shacl-treatment-evidence.ttl",
        [
            "cco:evidenceLevel: a treatment assertion needs exactly one cco:evidenceLevel",
            "cco:evidenceLevel must be a concept of cco:EvidenceLevelScheme",
            "cco:evidenceLevelSource: a treatment assertion's evidence level needs at least one "
            "cco:evidenceLevelSource",
        ],
        id="shacl-rejects-treatment-without-evidence-level",
    ),
    pytest.param(
        check_violation_queries,
        "source-wording-synonym.ttl",
        [
            'source-wording-as-synonym-violation: cc:milia, "whiteheads"',
            "synonym-equals-label-violation: cc:milia",  # a synonym and a hidden label of one entity coincide
            "2 problem(s)",
        ],
        id="violation-query-finds-source-wording-offered-as-synonym",
    ),
    pytest.param(
        check_violation_queries,
        "misattributed-evidence-level.ttl",
        [
            "misattributed-evidence-violation: cc:iatrogenic-calcinosis-cutis, cco:treatedBy, cc:prednisone, "
            '"evidence level rests on https://w3id.org/calcinosis-kg/id/apple-vinegar-varicosity-trial-2016, which '
            'describes neither the condition nor the treatment"',
            "1 problem(s)",
        ],
        id="violation-query-finds-evidence-level-resting-on-an-unrelated-source",
    ),
]
"""Each check, a fixture that breaks it, and what its message must say."""


@pytest.mark.parametrize(("check", "fixture", "messages"), BROKEN_GRAPHS)
def test_a_check_fails_on_its_broken_fixture_saying_why(
    kg: Graph, check: Callable[[Graph], object], fixture: str, messages: list[str]
) -> None:
    with pytest.raises(ValidationFailed) as failure:
        check(with_fixture(kg, fixture))
    for message in messages:
        assert message in str(failure.value)


def test_determinism_check_catches_a_nondeterministic_build() -> None:
    script = str(BROKEN / "nondeterministic_build.py")
    with pytest.raises(ValidationFailed) as failure:
        check_determinism(lambda out, seed: [sys.executable, script, str(out)])
    assert "determinism failed" in str(failure.value)
    assert "calcinosis-kg.nt differs between two builds: line" in str(failure.value)
