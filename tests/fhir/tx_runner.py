"""Run HL7's FHIR terminology test cases (``tests/fhir/tx/``) against a running server and compare the answers.

``python -m tests.fhir.tx_runner URL`` (or a data file to serve: ``make tx-tests``) prints each suite's pass count and
every failure with its reason. What it does, as HL7's runner (``java -jar validator.jar -txtests``) does:

- runs the suites in mode ``general`` with the ``flat`` mode on (this server returns flat expansions, so the
  ``response:flat`` alternatives are used); tests in other modes (``tx.fhir.org``...) are skipped;
- sends each suite's ``setup`` resources with every request as ``tx-resource`` parameters, POSTs the request
  Parameters to the operation (``Accept-Language`` and ``lenient-display`` as the test says);
- compares the answer with the expected file by the suite's rules: array order ignored, properties the
  answer has that the expected file does not fail (except for ``metadata``/``term-caps``, compared as a
  subset), ``$optional$`` / ``$optional-properties$`` / ``$count-arrays$``, the templates ``$$ $id$ $uuid$
  $instant$ $url$ $token$ $string$ $date$ $semver$ $version$ $choice:..$ $fragments:..$`` and
  ``$external:N:fragments$`` (no externals file: messages are checked by their fragments);
- checks the HTTP status (200, or the test's ``http-code``).

R5 -> R4 (the cases are written in R5; the server is R4): setup ConceptMaps get R4's ``target.equivalence``
from R5's ``relationship`` (the spec's R4/R5 map), ``sourceScopeUri``/``targetScopeUri`` become
``sourceUri``/``targetUri``. ``$translate`` answers are read back as R5: ``match.source`` (R4: the map's URL)
is R5's ``originMap``; for a reverse request (R5 ``targetCode``), R4's ``concept`` (the source-side code found)
is R5's ``source``, and R5's ``concept`` is the coding asked about. Request parameter names are sent as
written: the server accepts R5's ``$translate`` names (sourceCode, targetCode...) besides R4's.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.support import BUILT_SETTINGS
from tests.support.live_server import live_server

TX = Path(__file__).resolve().parent / "tx"
EXPECTED_FAILURES = Path(__file__).resolve().parent / "tx-expected-failures.yaml"
FHIR_VERSION = "4.0.1"
MODES = frozenset({"general", "flat"})
OPERATIONS = {
    "expand": "ValueSet/$expand",
    "validate-code": "ValueSet/$validate-code",
    "cs-validate-code": "CodeSystem/$validate-code",
    "lookup": "CodeSystem/$lookup",
    "subsumes": "CodeSystem/$subsumes",
    "translate": "ConceptMap/$translate",
}
RELATIONSHIP_TO_EQUIVALENCE = {
    "equivalent": "equivalent",
    "related-to": "relatedto",
    "source-is-narrower-than-target": "wider",
    "source-is-broader-than-target": "narrower",
    "not-related-to": "disjoint",
}
PATTERNS = {
    "$instant$": r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)"
    r"(\.[0-9]{1,9})?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))",
    "$uuid$": r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "$id$": r"[A-Za-z0-9\-\.]{1,64}",
    "$url$": r"(https?|urn):\S+",
    "$token$": r"\S+",
    "$string$": r"\S(.*\S)?",
    "$date$": r"[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?",
    "$semver$": r"[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?",
}


def load(path: str | Path) -> Any:
    """A JSON file of the test cases (some start with a byte order mark)."""
    return json.loads((TX / path).read_text(encoding="utf-8-sig"))


# ------------------------------------------------------------------------------------------------ comparison
def _optional(item: Any) -> bool:
    """Whether an expected array entry may be left out by this server (R4, modes general and flat)."""
    if not isinstance(item, dict):
        return False
    flag = item.get("$optional$")
    if flag is None:
        return "$only$" in item and not _passes(str(item["$only$"]))
    if flag is True:
        return True
    condition = str(flag)
    if condition.startswith("warning:"):
        return True
    if condition.startswith("version:"):
        return _passes(condition)  # optional when the server's FHIR version matches
    return condition.lstrip("!") not in MODES  # a mode's content is only required in that mode


def _passes(condition: str) -> bool:
    """Whether a mode/version filter (of ``$only$``) holds for this runner."""
    if condition.startswith("version:"):
        return FHIR_VERSION.startswith(condition[len("version:") :])
    if condition.startswith("!"):
        return not _passes(condition[1:])
    return condition in MODES


def match_string(expected: str, actual: str) -> bool:
    """Whether ``actual`` matches the expected string or template."""
    if expected.startswith("$") and expected.endswith("$") and len(expected) > 1:
        if expected == "$$":
            return True
        if expected.startswith("$choice:"):
            return actual in expected[len("$choice:") : -1].split("|")
        if expected.startswith("$fragments:"):
            return all(f.lower() in actual.lower() for f in expected[len("$fragments:") : -1].split("|"))
        if expected.startswith("$external:"):
            parts = expected[1:-1].split(":", 2)
            return len(parts) < 3 or all(f.lower() in actual.lower() for f in parts[2].split("|"))
        if expected == "$version$":
            return actual == FHIR_VERSION
        if expected in PATTERNS:
            return re.fullmatch(PATTERNS[expected], actual) is not None
    return actual == expected.replace("$version$", FHIR_VERSION)


def compare(expected: Any, actual: Any, path: str = "", partial: bool = False) -> str | None:
    """None if ``actual`` matches ``expected`` by the tx test rules, else the first difference."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {actual!r}"
        optional = set(expected.get("$optional-properties$", []))
        counted = set(expected.get("$count-arrays$", []))
        for key, value in actual.items():
            if key not in expected:
                if partial:
                    continue
                return f"{path}: unexpected property {key}"
            if key in counted:
                if len(value) != len(expected[key]):
                    return f"{path}.{key}: {len(value)} items, expected {len(expected[key])}"
                continue
            found = compare(expected[key], value, f"{path}.{key}", partial)
            if found:
                return found
        for key in expected:
            if key.startswith("$") or key in actual or key in optional or "*" in optional:
                continue
            value = expected[key]
            if isinstance(value, list) and all(_optional(item) for item in value):
                continue  # every entry may be left out, so the property may be too
            return f"{path}: missing property {key}"
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{path}: expected an array"
        return _compare_arrays(expected, actual, path, partial)
    if isinstance(expected, str):
        if not isinstance(actual, str) or not match_string(expected, actual):
            return f"{path}: expected {expected!r}, got {actual!r}"
        return None
    if expected != actual or type(expected) is not type(actual):
        return f"{path}: expected {expected!r}, got {actual!r}"
    return None


def _compare_arrays(expected: list[Any], actual: list[Any], path: str, partial: bool) -> str | None:
    used: set[int] = set()
    ordered = sorted(range(len(expected)), key=lambda i: _optional(expected[i]))
    for index in ordered:
        item = expected[index]
        reasons = []
        for position, candidate in enumerate(actual):
            if position in used:
                continue
            found = compare(item, candidate, f"{path}[{position}]", partial)
            if found is None:
                used.add(position)
                break
            if (
                not isinstance(item, dict)
                or not isinstance(candidate, dict)
                or (item.get("name"), item.get("code")) == (candidate.get("name"), candidate.get("code"))
            ):
                reasons.append(found)
        else:
            if not _optional(item):
                closest = min(reasons, key=len) if reasons else "no item left"
                return f"{path}: no match for expected item {index} ({closest})"
    if not partial and len(used) < len(actual):
        extra = next(i for i in range(len(actual)) if i not in used)
        return f"{path}[{extra}]: unexpected item {json.dumps(actual[extra])[:200]}"
    return None


# ------------------------------------------------------------------------------------------------ R5 -> R4
def to_r4(resource: dict[str, Any]) -> dict[str, Any]:
    """A setup resource converted to R4 where R4 differs (ConceptMap)."""
    resource = copy.deepcopy(resource)
    if resource.get("resourceType") == "ConceptMap":
        for r5, r4 in (("sourceScopeUri", "sourceUri"), ("targetScopeUri", "targetUri")):
            if r5 in resource:
                resource[r4] = resource.pop(r5)
        for group in resource.get("group", []):
            group.pop("unmapped", None)
            for element in group.get("element", []):
                for target in element.get("target", []):
                    if "relationship" in target:
                        target["equivalence"] = RELATIONSHIP_TO_EQUIVALENCE[target.pop("relationship")]
    return resource


def translate_to_r5(answer: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """An R4 ``$translate`` answer read as R5 (see the module's docstring)."""
    given = {p["name"]: p for p in request.get("parameter", [])}
    reverse = "targetCode" in given
    for match in (p for p in answer.get("parameter", []) if p.get("name") == "match"):
        parts = []
        for part in match.get("part", []):
            if part["name"] == "source" and "valueUri" in part:
                part = {"name": "originMap", "valueCanonical": part["valueUri"]}
            elif reverse and part["name"] == "concept":
                asked = {
                    "system": given.get("targetSystem", {}).get("valueUri"),
                    "code": given["targetCode"]["valueCode"],
                }
                parts.append({"name": "concept", "valueCoding": {k: v for k, v in asked.items() if v}})
                part = {"name": "source", "valueCoding": part["valueCoding"]}
            parts.append(part)
        match["part"] = parts
    return answer


# ------------------------------------------------------------------------------------------------ running
@dataclass
class Outcome:
    """The result of one test."""

    suite: str
    name: str
    passed: bool
    reason: str = ""


@dataclass
class SuiteResult:
    """The results of one suite."""

    name: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes)


def runnable(item: dict[str, Any]) -> bool:
    """Whether a suite or test runs in this runner's modes."""
    mode = item.get("mode")
    return mode is None or mode in MODES


def run_test(
    base: str, suite: dict[str, Any], test: dict[str, Any], session: requests.Session
) -> tuple[str | None, Any]:
    """Run one test; (None or the failure's reason, the server's answer)."""
    operation = test["operation"]
    headers = {"Accept": "application/fhir+json"}
    if test.get("Accept-Language"):
        headers["Accept-Language"] = test["Accept-Language"]
    partial = operation in ("metadata", "term-caps")
    request: dict[str, Any] = {}
    if operation == "metadata":
        response = session.get(f"{base}/metadata", headers=headers, timeout=30)
    elif operation == "term-caps":
        response = session.get(f"{base}/metadata", params={"mode": "terminology"}, headers=headers, timeout=30)
    else:
        request = load(test["request"])
        params = list(request.get("parameter", []))
        if test.get("lenient-display"):
            params.append({"name": "lenient-display-validation", "valueBoolean": True})
        params += [{"name": "tx-resource", "resource": to_r4(load(f))} for f in suite.get("setup", [])]
        body = {"resourceType": "Parameters", "parameter": params}
        headers["Content-Type"] = "application/fhir+json"
        response = session.post(f"{base}/{OPERATIONS[operation]}", json=body, headers=headers, timeout=30)
    expected = load(test.get("response:flat") or test["response"])
    wanted = str(test.get("http-code", "200"))
    status = str(response.status_code)
    try:
        answer = response.json()
    except ValueError:
        return f"HTTP {status}: not JSON", None
    if not (status == wanted or (wanted.endswith("xx") and status[0] == wanted[0])):
        return f"HTTP {status}, expected {wanted}: {json.dumps(answer)[:300]}", answer
    if operation == "translate":
        answer = translate_to_r5(answer, request)
    return compare(expected, answer, partial=partial), answer


def run(base: str, only: str | None = None) -> Iterator[SuiteResult]:
    """Run every runnable suite (or the one named ``only``) against the server at ``base`` (``.../fhir``)."""
    cases = load("test-cases.json")
    with requests.Session() as session:
        for suite in cases["suites"]:
            if not runnable(suite) or (only and suite["name"] != only):
                continue
            result = SuiteResult(suite["name"])
            for test in suite["tests"]:
                if not runnable(test):
                    continue
                reason, _ = run_test(base, suite, test, session)
                result.outcomes.append(Outcome(suite["name"], test["name"], reason is None, reason or ""))
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
    total = passed = 0
    unforeseen: list[str] = []
    for result in run(base, argv[1] if len(argv) > 1 else None):
        count = len(result.outcomes)
        total += count
        passed += result.passed
        share = 100 * result.passed / count if count else 100
        print(f"{result.name}: {result.passed}/{count} ({share:.0f}%)")
        for outcome in result.outcomes:
            if not outcome.passed:
                why = expected.get(f"{outcome.suite}/{outcome.name}")
                label = f"expected ({why})" if why else "UNEXPECTED"
                print(f"  FAIL {outcome.name}: {label}: {outcome.reason[:400]}")
        unforeseen += surprises(result, expected)
    print(f"total: {passed}/{total}")
    for line in unforeseen:
        print(f"UNFORESEEN {line}")
    return 1 if unforeseen else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
