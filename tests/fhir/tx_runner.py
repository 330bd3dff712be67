"""Run HL7's FHIR terminology test cases (``tests/fhir/tx/``) against a running server, judged as HL7's runner does.

``python -m tests.fhir.tx_runner URL|DATA_FILE [SUITE]`` (``make tx-tests``) prints each suite's count and every
failure with its reason. It is a port of HL7's Java runner (``TxTester``, ``java -jar validator.jar -txtests``, in
hapifhir/org.hl7.fhir.core) for a server that reports FHIR 4.0.1:

- modes ``general`` and ``flat`` (this server's expansions are flat, so ``request:flat``/``response:flat`` files are
  used where a test has them); suites and tests of other modes (``tx.fhir.org``...) are not run;
- each request: the test's request file, then the suite's ``setup`` resources as ``tx-resource`` parameters, then the
  test's ``profile`` parameters (``parameters-default.json`` unless the test names one), converted to R4 and POSTed
  to the operation with ``application/fhir+json; fhirVersion=4.0``, the test's ``Accept-Language`` and an
  ``X-Request-Id``; ``metadata``/``term-caps`` are GETs;
- each answer: read as R4 (what R4 does not define is left out, as HL7's R4 parser does) and converted to R5
  (``tests.fhir.tx_r4``), scrubbed and sorted, then compared in order with the expected file, and its HTTP status
  checked (``2xx`` unless the test gives an ``http-code``) (``tests.fhir.tx_compare``);
- besides HL7's rules, every answer must be valid R4 (``fhir.resources`` R4B models): a test passes when both hold.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.fhir import tx_compare as hl7
from tests.fhir.tx_r4 import answer_to_r5, r4_only, r4_problems, request_to_r4
from tests.support import BUILT_SETTINGS
from tests.support.live_server import live_server

TX = Path(__file__).resolve().parent / "tx"
EXPECTED_FAILURES = Path(__file__).resolve().parent / "tx-expected-failures.yaml"
FHIR_VERSION = "4.0.1"
MODES = frozenset({"general", "flat"})
R4_JSON = "application/fhir+json; fhirVersion=4.0"
OPERATIONS = {
    "expand": "ValueSet/$expand",
    "validate-code": "ValueSet/$validate-code",
    "cs-validate-code": "CodeSystem/$validate-code",
    "lookup": "CodeSystem/$lookup",
    "subsumes": "CodeSystem/$subsumes",
    "translate": "ConceptMap/$translate",
    "batch-validate": "ValueSet/$batch-validate-code",
}


def load(path: str | Path) -> Any:
    """A JSON file of the test cases (some start with a byte order mark; decimals kept as written)."""
    return json.loads((TX / path).read_text(encoding="utf-8-sig"), parse_float=Decimal)


def _plain(value: Any) -> Any:
    """JSON with :class:`Decimal` numbers, ready for ``requests`` (which cannot serialise them)."""
    return json.loads(json.dumps(value, default=lambda d: float(d) if isinstance(d, Decimal) else str(d)))


def scrub_and_sort(operation: str, answer: dict[str, Any], ok: bool) -> None:
    """HL7's scrubbers and sorters for ``operation``'s answer (``TxTester.expand``, ``validate``... in Java)."""
    kind = answer.get("resourceType")
    if operation == "metadata":
        hl7.sort_capability_statement(answer)
    elif operation == "term-caps":
        hl7.sort_terminology_capabilities(answer)
    elif not ok:
        if kind != "OperationOutcome":
            return
        if operation == "cs-validate-code":
            answer.pop("text", None)  # TxTester.validateCS only drops the text of an error
        else:
            hl7.scrub_operation_outcome(answer)
    elif kind == "ValueSet":
        hl7.scrub_domain_resource(answer)
        hl7.sort_value_set(answer)
    elif kind == "Parameters":
        hl7.scrub_parameters(answer)
        hl7.sort_parameters(answer)


# ------------------------------------------------------------------------------------------------ running
@dataclass
class Outcome:
    """The result of one test: HL7's verdict (None: passed, else its message) and the answer's R4 problems."""

    suite: str
    name: str
    hl7: str | None
    r4: list[str] = field(default_factory=list)
    status: int = 0

    @property
    def passed(self) -> bool:
        return self.hl7 is None and not self.r4

    @property
    def reason(self) -> str:
        if self.hl7 is not None:
            return self.hl7
        return f"not valid R4: {'; '.join(self.r4)[:300]}" if self.r4 else ""


@dataclass
class SuiteResult:
    """The results of one suite."""

    name: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes)

    @property
    def hl7_passed(self) -> int:
        return sum(o.hl7 is None for o in self.outcomes)

    @property
    def r4_valid(self) -> int:
        return sum(not o.r4 for o in self.outcomes)


def runnable(item: dict[str, Any]) -> bool:
    """Whether a suite or test runs in this runner's modes (``TxTester.passesModes``)."""
    modes = list(item.get("modes", [])) + ([item["mode"]] if "mode" in item else [])
    return not modes or any(mode in MODES for mode in modes)


def _chosen(test: dict[str, Any], name: str) -> str | None:
    """The test's file for ``name`` in this runner's modes (``TxTester.chooseParam``)."""
    for mode in sorted(MODES):
        if f"{name}:{mode}" in test:
            return str(test[f"{name}:{mode}"])
    return test.get(name)


def _status_ok(wanted: str, status: int) -> bool:
    return str(status).startswith(wanted[0]) if wanted.endswith("xx") else str(status) == wanted


def request_body(suite: dict[str, Any], test: dict[str, Any]) -> dict[str, Any]:
    """The R4 request HL7's runner sends for ``test``: its file, the suite's setup and the test's profile."""
    request = load(str(_chosen(test, "request")))
    setup = [{"name": "tx-resource", "resource": load(f)} for f in suite.get("setup", [])]
    profile = load(test.get("profile", "parameters-default.json")).get("parameter", [])
    request["parameter"] = [*request.get("parameter", []), *setup, *profile]
    body: dict[str, Any] = _plain(request_to_r4(request))
    return body


def run_test(base: str, suite: dict[str, Any], test: dict[str, Any], session: requests.Session) -> Outcome:
    """Run one test as HL7's runner does (see the module docstring)."""
    operation = test["operation"]
    headers = {"Accept": R4_JSON, "X-Request-Id": f"txTests:{suite['name']}/{test['name']}"}
    if test.get("Accept-Language"):
        headers["Accept-Language"] = test["Accept-Language"]
    header = test.get("header")
    if isinstance(header, dict) and ("mode" not in header or header["mode"] in MODES):
        headers[header["name"]] = header["value"]
    if operation in ("metadata", "term-caps"):
        params = {"mode": "terminology"} if operation == "term-caps" else {}
        response = session.get(f"{base}/metadata", params=params, headers=headers, timeout=60)
    else:
        headers["Content-Type"] = R4_JSON
        body = request_body(suite, test)
        response = session.post(f"{base}/{OPERATIONS[operation]}", json=body, headers=headers, timeout=60)
    outcome = Outcome(suite["name"], test["name"], None, status=response.status_code)
    try:
        answer = json.loads(response.text, parse_float=Decimal)
    except ValueError:
        outcome.hl7 = f"HTTP {response.status_code}: the answer is not JSON: {response.text[:200]!r}"
        return outcome
    outcome.r4 = r4_problems(answer)
    ok = 200 <= response.status_code < 300
    actual = answer_to_r5(r4_only(answer))
    if not ok and actual.get("resourceType") != "OperationOutcome":
        outcome.hl7 = f"HTTP {response.status_code} without an OperationOutcome"
        return outcome
    scrub_and_sort(operation, actual, ok)
    expected = load(str(_chosen(test, "response")))
    pattern = operation in ("metadata", "term-caps")
    try:
        diff = hl7.Comparer(MODES, FHIR_VERSION, pattern).compare(expected, actual)
    except ValueError as error:
        diff = str(error)
    wanted = str(test.get("http-code", "2xx"))
    if not pattern and not _status_ok(wanted, response.status_code):
        diff = f"Response Code fail: should be '{wanted}' but is '{response.status_code}'" + (
            f" ({json.dumps(_plain(actual))[:300]})" if diff else ""
        )
    outcome.hl7 = diff
    return outcome


def run(base: str, only: str | None = None) -> Iterator[SuiteResult]:
    """Run every runnable suite (or the one named ``only``) against the server at ``base`` (``.../fhir``)."""
    cases = load("test-cases.json")
    with requests.Session() as session:
        for suite in cases["suites"]:
            if not runnable(suite) or (only and suite["name"] != only):
                continue
            result = SuiteResult(suite["name"])
            for test in suite["tests"]:
                if runnable(test) and not test.get("disabled"):
                    result.outcomes.append(run_test(base, suite, test, session))
            yield result


def expected_failures(path: Path = EXPECTED_FAILURES) -> dict[str, str]:
    """``suite/test`` -> why it is expected to fail, from ``tx-expected-failures.yaml``."""
    groups = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return {test: " ".join(str(group["reason"]).split()) for group in groups for test in group["tests"]}


def surprises(result: SuiteResult, expected: dict[str, str]) -> list[str]:
    """The outcomes of ``result`` that the expected failures do not foresee (a new failure, or a listed pass)."""
    found = []
    for outcome in result.outcomes:
        key = f"{outcome.suite}/{outcome.name}"
        if not outcome.passed and key not in expected:
            found.append(f"{key}: unexpected failure: {outcome.reason[:400]}")
        elif outcome.passed and key in expected:
            found.append(f"{key}: passes, but is listed in {EXPECTED_FAILURES.name}")
    return found


def main(argv: list[str]) -> int:
    """``python -m tests.fhir.tx_runner BASE_URL|DATA_FILE [SUITE]``: each suite's pass count and failures.

    A data file (``make tx-tests`` gives ``build/calcinosis-kg.nt``) is served by a live server for the run.
    Returns 1 when a failure is not listed in ``tx-expected-failures.yaml``.
    """
    if not argv[0].startswith(("http://", "https://")):
        with (
            tempfile.TemporaryDirectory() as folder,
            live_server(Path(folder), [Path(argv[0])], BUILT_SETTINGS) as server,
        ):
            return main([f"{server.url}/fhir", *argv[1:]])
    base = argv[0].rstrip("/")
    expected = expected_failures()
    total = passed = hl7_passed = valid = errors = 0
    unforeseen: list[str] = []
    for result in run(base, argv[1] if len(argv) > 1 else None):
        count = len(result.outcomes)
        total += count
        passed += result.passed
        hl7_passed += result.hl7_passed
        valid += result.r4_valid
        errors += sum(o.status >= 500 for o in result.outcomes)
        print(
            f"{result.name}: {result.passed}/{count} (HL7 rules {result.hl7_passed}/{count}, "
            f"valid R4 {result.r4_valid}/{count})"
        )
        for outcome in result.outcomes:
            if not outcome.passed:
                why = expected.get(f"{outcome.suite}/{outcome.name}")
                label = "expected" if why else "UNEXPECTED"
                print(f"  FAIL {outcome.name}: {label}: {outcome.reason[:400]}")
        unforeseen += surprises(result, expected)
    print(f"total: {passed}/{total} (HL7 rules {hl7_passed}/{total}, valid R4 {valid}/{total}, 5xx answers {errors})")
    for line in unforeseen:
        print(f"UNFORESEEN {line}")
    return 1 if unforeseen else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
