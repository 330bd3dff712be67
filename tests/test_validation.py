"""Validation of the real build passes, and each check fails with a clear message on a broken fixture."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from rdflib import Graph

from calcinosis_kg.errors import ValidationFailed
from calcinosis_kg.graph.build import build_graph
from calcinosis_kg.graph.validate import (
    check_consistency,
    check_determinism,
    check_shacl,
    check_violation_queries,
    violation_queries,
)

BROKEN = Path(__file__).resolve().parent / "fixtures" / "broken"


def with_fixture(name: str) -> Graph:
    """The real merged graph plus one deliberately broken Turtle fixture."""
    graph = build_graph()
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


def test_shacl_rejects_entity_without_label() -> None:
    with pytest.raises(ValidationFailed) as failure:
        check_shacl(with_fixture("shacl-missing-label.ttl"))
    assert "cc:broken-site skos:prefLabel: needs exactly one English skos:prefLabel" in str(failure.value)


def test_shacl_rejects_relation_outside_its_range() -> None:
    with pytest.raises(ValidationFailed) as failure:
        check_shacl(with_fixture("shacl-range.ttl"))
    assert "cc:calcinosis-cutis cco:hasCause: values of cco:hasCause must be cco:Cause" in str(failure.value)


def test_violation_query_finds_unsourced_relation() -> None:
    with pytest.raises(ValidationFailed) as failure:
        check_violation_queries(with_fixture("unsourced-relation.ttl"))
    message = str(failure.value)
    assert "relation-without-source-violation: cc:calcinosis-cutis, cco:treatedBy, cc:sucralfate" in message
    assert "1 problem(s)" in message


def test_reasoner_finds_inconsistency() -> None:
    with pytest.raises(ValidationFailed) as failure:
        check_consistency(with_fixture("inconsistent.ttl"))
    assert "OWL consistency (HermiT) failed" in str(failure.value)
    assert "inconsistent" in str(failure.value)


def test_reasoner_reports_unsatisfiable_class() -> None:
    with pytest.raises(ValidationFailed) as failure:
        check_consistency(with_fixture("unsatisfiable.ttl"))
    assert "cco:SiteThatIsATreatment is unsatisfiable" in str(failure.value)


def test_determinism_check_catches_a_nondeterministic_build() -> None:
    script = str(BROKEN / "nondeterministic_build.py")
    with pytest.raises(ValidationFailed) as failure:
        check_determinism(lambda out, seed: [sys.executable, script, str(out)])
    assert "determinism failed" in str(failure.value)
    assert "calcinosis-kg.nt differs between two builds: line" in str(failure.value)


def test_violation_query_finds_misattributed_evidence() -> None:
    with pytest.raises(ValidationFailed) as failure:
        check_violation_queries(with_fixture("misattributed-evidence.ttl"))
    message = str(failure.value)
    assert (
        'misattributed-evidence-violation: cc:calcinosis-cutis, cco:treatedBy, cc:prednisone, "author statement cites '
        "https://w3id.org/calcinosis-kg/id/apple-vinegar-varicosity-trial-2016, which does not describe "
        'https://w3id.org/calcinosis-kg/id/calcinosis-cutis"' in message
    )
    inference = 'cc:skin-biopsy, cco:measures, cc:calcium, "a curator inference is tagged as an author statement"'
    assert inference in message


def test_shacl_rejects_unknown_evidence_and_unexplained_inference() -> None:
    with pytest.raises(ValidationFailed) as failure:
        check_shacl(with_fixture("shacl-evidence.ttl"))
    message = str(failure.value)
    assert "obo:RO_0002558: owl:Axiom needs exactly one evidence class" in message
    assert "a curator inference (ECO:0000305) or a disputed claim needs an editorial note" in message
