"""No FHIR request stalls the server or ends in a 500 (issue 24, items 1 and 8).

- A ``regex`` filter runs on RE2 (linear time): the pattern that backtracked for 71-107 s per request in Python's
  ``re`` answers at once, with its length guard (a lookahead RE2 refuses: 400) and without (200), while
  ``/health`` on the same server process stays fast.
- Every operation has the query time limit: value sets importing each other ten times over, nine levels deep
  (10^9 expansions), end in a 422 ``too-costly`` at the limit instead of running for hours, /health fast meanwhile.
- The malformed bodies that gave 500s (wrong JSON types, lone surrogates, deep nesting) are 400 OperationOutcomes
  naming what is wrong and where.

The stalling cases run on a server of their own (one granian worker, a 2 s query time limit), so that a
regression stalls that server only.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.live_server import PRODUCTION, LiveServer, live_server

pytestmark = [pytest.mark.engine, pytest.mark.live]

CS = "https://w3id.org/calcinosis-kg/id"
TIME_LIMIT = 2
GUARDED = "(?=.{28}$)([a-z0-9-]+)+X"
"""The probe of issue 24: a lookahead choosing the 28-character codes (``damaged-tissue-calcification``...),
then a nested quantifier that Python's ``re`` backtracks over 2^27 ways per code."""
UNGUARDED = "([a-z0-9-]+)+X"
"""The same without the guard: against the 44-character codes about 2^16 times longer still in ``re``."""
HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


@pytest.fixture(scope="module")
def own_server(built_nt: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of this module's own: one web process, ``KG_QUERY_TIMEOUT`` = 2 s."""
    settings = {"KG_QUERY_TIMEOUT": str(TIME_LIMIT), "KG_QUERY_WORKERS": "2"}
    with live_server(tmp_path_factory.mktemp("fhir-safety"), [built_nt], settings, *PRODUCTION) as server:
        requests.get(f"{server.url}/fhir/CodeSystem/calcinosis-kg", timeout=30).raise_for_status()  # built
        yield server


def regex_expansion(pattern: str) -> dict[str, Any]:
    include = {"system": CS, "filter": [{"property": "code", "op": "regex", "value": pattern}]}
    value_set = {"resourceType": "ValueSet", "status": "active", "compose": {"include": [include]}}
    return {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": value_set}]}


def while_health_is_probed(server: LiveServer, work: list[tuple[str, dict[str, Any]]]) -> tuple[list[Any], float]:
    """POST each of ``work`` (path, body) at once while ``/health`` is asked every 50 ms; the answers (or the
    exception) and the slowest ``/health``."""
    answers: list[Any] = [None] * len(work)
    health: list[float] = []
    done = threading.Event()

    def post(index: int, path: str, body: dict[str, Any]) -> None:
        try:
            answers[index] = requests.post(f"{server.url}/fhir/{path}", json=body, headers=HEADERS, timeout=15)
        except requests.RequestException as error:
            answers[index] = error

    def probe() -> None:
        while not done.is_set():
            started = time.monotonic()
            try:
                requests.get(f"{server.url}/health", timeout=15)
            finally:
                health.append(time.monotonic() - started)
            time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    posters = [threading.Thread(target=post, args=(i, *item)) for i, item in enumerate(work)]
    for thread in posters:
        thread.start()
    for thread in posters:
        thread.join()
    done.set()
    prober.join()
    return answers, max(health)


def outcome_text(response: requests.Response) -> str:
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    return str(outcome["issue"][0]["details"]["text"])


def test_pathological_regexes_answer_at_once_while_health_stays_fast(own_server: LiveServer) -> None:
    work = [("ValueSet/$expand", regex_expansion(p)) for p in (GUARDED, UNGUARDED, GUARDED, UNGUARDED)]
    started = time.monotonic()
    answers, slowest_health = while_health_is_probed(own_server, work)
    elapsed = time.monotonic() - started
    assert all(isinstance(a, requests.Response) for a in answers), answers
    guarded, unguarded = answers[0], answers[1]
    assert guarded.status_code == 400
    assert "not supported" in outcome_text(guarded)
    assert "lookaround" in outcome_text(guarded)
    assert unguarded.status_code == 200
    assert unguarded.json()["expansion"]["total"] == 0
    assert elapsed < 5  # where each request took 71-107 s
    assert slowest_health < 2  # where /health timed out


def test_regex_filters_match_the_whole_code(own_server: LiveServer) -> None:
    answer = requests.post(
        f"{own_server.url}/fhir/ValueSet/$expand", json=regex_expansion("[a-z-]*-calcification"), timeout=30
    ).json()
    codes = {c["code"] for c in answer["expansion"]["contains"]}
    assert "damaged-tissue-calcification" in codes
    assert all(code.endswith("-calcification") for code in codes)


def test_an_operation_past_the_time_limit_is_too_costly(own_server: LiveServer) -> None:
    """Nine levels of contained value sets (the most imports allow), each importing the next ten times: 10^9
    expansions of the code system."""
    contained = [
        {"resourceType": "ValueSet", "id": f"v{level}", "compose": {"include": [{"valueSet": [f"#v{level + 1}"]}] * 10}}
        for level in range(9)
    ]
    contained.append({"resourceType": "ValueSet", "id": "v9", "compose": {"include": [{"system": CS}]}})
    value_set = {"resourceType": "ValueSet", "contained": contained, "compose": {"include": [{"valueSet": ["#v0"]}]}}
    body = {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": value_set}]}
    started = time.monotonic()
    answers, slowest_health = while_health_is_probed(own_server, [("ValueSet/$expand", body)])
    elapsed = time.monotonic() - started
    (answer,) = answers
    assert isinstance(answer, requests.Response), answer
    assert answer.status_code == 422
    assert answer.json()["issue"][0]["code"] == "too-costly"
    assert f"{TIME_LIMIT} s limit (KG_QUERY_TIMEOUT)" in outcome_text(answer)
    assert elapsed < TIME_LIMIT + 3
    assert slowest_health < 2


def parameters(*items: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(items)}


def vs_with(**fields: Any) -> dict[str, Any]:
    return parameters({"name": "valueSet", "resource": {"resourceType": "ValueSet", **fields}})


SURROGATE = json.dumps(parameters({"name": "system", "valueUri": CS}, {"name": "code", "valueCode": "\ud800"}))
"""A lone surrogate as JSON writes it (``"\\ud800"``: valid JSON, but no Unicode text)."""
DEEP = '{"resourceType":"Parameters","parameter":' + "[" * 1000 + "]" * 1000 + "}"
DEEPER = '{"resourceType":"Parameters","parameter":' + "[" * 100_000 + "]" * 100_000 + "}"
INCLUDE = "Parameters.parameter[0].resource.compose.include"
MALFORMED: dict[str, tuple[str, str | dict[str, Any], str]] = {
    "include a string": ("ValueSet/$expand", vs_with(compose={"include": "x"}), INCLUDE),
    "include a number": ("ValueSet/$expand", vs_with(compose={"include": 1.5}), INCLUDE),
    "compose extension a list": (
        "ValueSet/$expand",
        vs_with(compose={"include": [{"system": CS}], "extension": [[]]}),
        "compose.extension[0]",
    ),
    "extension null": ("ValueSet/$expand", vs_with(url="urn:x", extension=[None]), "resource.extension[0]"),
    "coding a string": (
        "CodeSystem/$lookup",
        parameters({"name": "system", "valueUri": CS}, {"name": "coding", "valueCoding": "x"}),
        "valueCoding",
    ),
    "coding code a list": (
        "CodeSystem/$lookup",
        parameters({"name": "coding", "valueCoding": {"system": CS, "code": ["x"]}}),
        "valueCoding.code",
    ),
    "codeableConcept coding a number": (
        "ValueSet/$validate-code",
        parameters(
            {"name": "url", "valueUri": "https://w3id.org/calcinosis-kg/fhir/ValueSet/all"},
            {"name": "codeableConcept", "valueCodeableConcept": {"coding": 1.5}},
        ),
        "valueCodeableConcept.coding",
    ),
    "codeableConcept coding of lists": (
        "CodeSystem/$validate-code",
        parameters(
            {"name": "url", "valueUri": CS}, {"name": "codeableConcept", "valueCodeableConcept": {"coding": [["x"]]}}
        ),
        "valueCodeableConcept.coding[0]",
    ),
    "lone surrogate": ("CodeSystem/$lookup", SURROGATE, "lone surrogate"),
    "nested 1,000 levels": ("CodeSystem/$lookup", DEEP, "nested more than 100 levels"),
    "nested 100,000 levels": ("CodeSystem/$lookup", DEEPER, "nested more than 100 levels"),
}  # fmt: skip
"""Bodies that gave 500s (found by the fuzzer of ``make fuzz``; issue 24 reported the include, surrogate and
nesting ones), and a Coding given as a string (read as no coding at all): operation, body, what the message
names."""


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_bodies_are_400_operation_outcomes(fhir_base: str, case: str) -> None:
    path, body, named = MALFORMED[case]
    data = body if isinstance(body, str) else json.dumps(body)
    response = requests.post(f"{fhir_base}/{path}", data=data.encode(), headers=HEADERS, timeout=30)
    assert response.status_code == 400, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    issue = response.json()["issue"][0]
    assert issue["code"] in ("structure", "invalid")
    assert named in issue["details"]["text"]


def test_a_chunked_body_over_the_limit_is_refused(fhir_base: str) -> None:
    """A chunked body has no Content-Length to refuse it by: it is read up to the limit (5 MiB), then refused."""
    lookup = parameters({"name": "system", "valueUri": CS}, {"name": "code", "valueCode": "calcinosis-cutis"})

    def chunks(padding: int) -> Iterator[bytes]:
        yield from (b" " * 1024 * 1024 for _ in range(padding))
        yield json.dumps(lookup).encode()

    small = requests.post(f"{fhir_base}/CodeSystem/$lookup", data=chunks(1), headers=HEADERS, timeout=30)
    assert small.status_code == 200
    large = requests.post(f"{fhir_base}/CodeSystem/$lookup", data=chunks(6), headers=HEADERS, timeout=30)
    assert large.status_code == 413
    assert large.json()["issue"][0]["code"] == "too-long"
