"""A bounded run of the FHIR body fuzzer (``make fuzz`` runs 2,000 requests): 300 generated requests to the
operations and reads (Parameters bodies with wrong types, lone surrogates, deep nesting, hostile regexes; GET
parameters), deterministic for its seed. No answer is a 5xx; every 4xx is an OperationOutcome with a message."""

from __future__ import annotations

import pytest

from bench.fuzz_fhir import fuzz_fhir

pytestmark = [pytest.mark.engine, pytest.mark.live]


def test_no_fhir_request_gets_a_5xx_and_every_4xx_is_an_operation_outcome(fhir_base: str) -> None:
    report = fuzz_fhir(fhir_base, 300, rng_seed=24)
    print(report.summary())
    assert report.sent == 300
    assert not report.failures, report.failures[:5]
    assert {200, 400} <= set(report.statuses)  # both answers and refusals were reached
