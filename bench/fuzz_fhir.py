"""The FHIR body fuzzer of ``make fuzz``: hypothesis-generated requests to every ``/fhir`` operation and read.

Bodies are Parameters resources shaped as terminology clients send them (``url``, ``valueSet``, ``code``,
``coding``, ``codeableConcept``, ``filter``, ``tx-resource`` code systems, value sets and concept maps...) in
which any element may be replaced by a JSON value of another type, a lone surrogate (``"\\ud800"``), a huge
number, deep nesting or a pathological regular expression; some bodies are not JSON at all, or JSON nested
past any parser's depth. GET requests carry the same parameter names with arbitrary text.

The oracle (:func:`judge`): no answer is a 5xx, and every 4xx is an OperationOutcome whose first issue carries
a message (``details.text`` or ``diagnostics``); each answer comes within :data:`SLOW_SECONDS`. ``make fuzz``
runs :func:`fuzz_fhir` (2,000 requests by default); ``tests/fhir/test_fuzz.py`` a bounded pytest version.
"""

from __future__ import annotations

import json
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

import requests
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning

CS = "https://w3id.org/calcinosis-kg/id"
VS = "https://w3id.org/calcinosis-kg/fhir/ValueSet"
SLOW_SECONDS = 10.0
"""An answer later than this is reported as slow (every FHIR operation is bounded by the query time limit)."""

OPERATIONS = (
    "ValueSet/$expand", "ValueSet/all/$expand", "ValueSet/$validate-code", "CodeSystem/$lookup",
    "CodeSystem/$validate-code", "CodeSystem/calcinosis-kg/$validate-code", "CodeSystem/$subsumes",
    "ConceptMap/$translate",
)  # fmt: skip
READS = ("CodeSystem", "ValueSet", "ConceptMap", "CodeSystem/calcinosis-kg", "ValueSet/all", "metadata")
NAMES = (
    "url", "valueSet", "valueSetVersion", "context", "code", "system", "version", "display", "coding",
    "codeableConcept", "filter", "count", "offset", "activeOnly", "includeDesignations", "designation",
    "property", "displayLanguage", "useSupplement", "tx-resource", "codeA", "codeB", "codingA", "codingB",
    "reverse", "targetsystem", "targetSystem", "sourceCode", "sourceSystem", "targetCode", "conceptMap",
    "inferSystem", "lenient-display-validation", "valueset-membership-only", "excludeNested", "mode", "_id",
    "name", "title", "status",
)  # fmt: skip
REGEXES = (
    "(?=.{28}$)([a-z0-9-]+)+X", "([a-z0-9-]+)+X", "(a*)*b", "(a|aa)+$", r"(\w+\s?)+$", "calc.*", "[", "(a)\\1",
    "x" * 201, ".*cutis", "",
)  # fmt: skip
ODD_TEXT = ("\ud800", "\udfff", "\x00", "", " ", "é", "\u2028", "9" * 40, "-1", "true", "#x", "|", "*")

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(ODD_TEXT),
)
JUNK: st.SearchStrategy[Any] = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)
"""Any JSON value (lone surrogates included): what a wrong-typed element holds."""


def maybe(proper: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``proper`` mostly (seven times in eight); sometimes a JSON value of any type in its place."""
    return st.one_of(*[proper] * 7, JUNK)


def element(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object with some of ``fields`` (each value possibly of the wrong type)."""
    return st.fixed_dictionaries({}, optional={name: maybe(value) for name, value in fields.items()})


text = st.one_of(st.text(max_size=20), st.sampled_from(ODD_TEXT))
codes = st.one_of(st.sampled_from(("calcinosis-cutis", "dystrophic-calcinosis-cutis", "a", "b", "L94.2")), text)
systems = st.one_of(st.sampled_from((CS, "http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm", "urn:x")), text)
coding = element(system=systems, code=codes, display=text, version=text, userSelected=st.booleans())
codeable = element(coding=st.lists(maybe(coding), max_size=3), text=text)
extension = element(url=text, valueString=text, valueCode=codes, extension=st.lists(JUNK, max_size=2))
ops = st.sampled_from(("is-a", "descendent-of", "is-not-a", "child-of", "generalizes", "=", "in", "not-in", "regex",
                       "exists", "x"))  # fmt: skip
props = st.sampled_from(("concept", "code", "display", "type", "parent", "inactive", "status", "x"))
filter_item = element(property=props, op=ops, value=st.one_of(st.sampled_from(REGEXES), codes))
include = element(
    system=systems,
    version=text,
    concept=st.lists(maybe(element(code=codes, display=text, designation=st.lists(JUNK, max_size=2))), max_size=3),
    filter=st.lists(maybe(filter_item), max_size=2),
    valueSet=st.lists(st.one_of(st.just("#inner"), st.sampled_from((f"{VS}/all", "urn:vs")), text), max_size=2),
)
concept_def = st.recursive(
    element(code=codes, display=text, definition=text, designation=st.lists(JUNK, max_size=2),
            property=st.lists(element(code=props, valueCode=codes, valueBoolean=st.booleans()), max_size=2)),
    lambda inner: element(code=codes, display=text, concept=st.lists(inner, max_size=3)),
    max_leaves=6,
)  # fmt: skip
code_system = element(
    resourceType=st.just("CodeSystem"), url=systems, version=text, content=st.sampled_from(("complete", "supplement")),
    supplements=systems, caseSensitive=st.booleans(), language=text, concept=st.lists(maybe(concept_def), max_size=4),
    property=st.lists(element(code=props, uri=text, type=text), max_size=2),
)  # fmt: skip
compose = element(
    inactive=st.booleans(),
    include=st.lists(maybe(include), max_size=3),
    exclude=st.lists(maybe(include), max_size=1),
    extension=st.lists(maybe(extension), max_size=1),
)
value_set = element(
    resourceType=st.just("ValueSet"), url=text, version=text, language=text, compose=compose,
    contained=st.lists(element(resourceType=st.just("ValueSet"), id=st.just("inner"), compose=compose), max_size=1),
    expansion=element(contains=st.lists(maybe(coding), max_size=2)), extension=st.lists(maybe(extension), max_size=2),
)  # fmt: skip
target = element(code=codes, display=text, equivalence=text, relationship=text, comment=text)
concept_map = element(
    resourceType=st.just("ConceptMap"), url=text, version=text,
    group=st.lists(element(source=systems, target=systems, element=st.lists(
        element(code=codes, display=text, target=st.lists(maybe(target), max_size=2)), max_size=2)), max_size=2),
)  # fmt: skip
resources = st.one_of(code_system, value_set, concept_map, maybe(value_set))
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "valueString": text, "valueCode": codes, "valueUri": systems, "valueCanonical": systems,
    "valueBoolean": st.booleans(), "valueInteger": st.integers(-5, 2**40), "valueCoding": coding,
    "valueCodeableConcept": codeable, "valueDecimal": st.floats(allow_nan=False, allow_infinity=False),
    "valueFoo": JUNK,
}  # fmt: skip


def named(name: str, key: str, value: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The parameter ``name`` with ``key`` (``valueCode``, ``resource``...) holding a draw of ``value``."""
    return st.builds(lambda v: {"name": name, key: v}, maybe(value))


vs_urls = st.sampled_from((f"{VS}/all", f"{VS}/class-Subtype", f"{VS}/forms-of-calcinosis-cutis", "urn:vs"))
CORE: dict[str, list[st.SearchStrategy[dict[str, Any]]]] = {
    "$expand": [named("url", "valueUri", vs_urls), named("valueSet", "resource", value_set)],
    "$validate-code": [
        named("url", "valueUri", st.one_of(vs_urls, st.just(CS))), named("valueSet", "resource", value_set),
        named("code", "valueCode", codes), named("system", "valueUri", systems),
        named("coding", "valueCoding", coding), named("codeableConcept", "valueCodeableConcept", codeable),
    ],
    "$lookup": [named("system", "valueUri", systems), named("code", "valueCode", codes),
                named("coding", "valueCoding", coding), named("property", "valueCode", props)],
    "$subsumes": [named("system", "valueUri", systems), named("codeA", "valueCode", codes),
                  named("codeB", "valueCode", codes), named("codingA", "valueCoding", coding),
                  named("codingB", "valueCoding", coding)],
    "$translate": [named("system", "valueUri", systems), named("code", "valueCode", codes),
                   named("coding", "valueCoding", coding), named("reverse", "valueBoolean", st.booleans()),
                   named("conceptMap", "resource", concept_map), named("targetCode", "valueCode", codes)],
}  # fmt: skip
"""Per operation, the parameters that carry its request (drawn mostly well typed, so the rest is reached)."""
EXTRAS = [
    named("filter", "valueString", st.one_of(text, st.sampled_from(REGEXES))),
    named("count", "valueInteger", st.integers(-1, 2**40)),
    named("offset", "valueInteger", st.integers(-1, 2**40)), named("activeOnly", "valueBoolean", st.booleans()),
    named("displayLanguage", "valueCode", st.sampled_from(("de", "en", "*; q=0", "de,*; q=0", "x;q=abc"))),
    named("includeDesignations", "valueBoolean", st.booleans()), named("designation", "valueString", text),
    named("property", "valueString", props), named("useSupplement", "valueCanonical", systems),
    named("tx-resource", "resource", resources),
]  # fmt: skip


@st.composite
def parameter(draw: st.DrawFn) -> dict[str, Any]:
    """Any parameter: a known name with a value of some type, a resource, parts, or a wrong shape."""
    kind = draw(st.integers(0, 19))
    if kind == 19:
        return cast(dict[str, Any], draw(JUNK))
    item: dict[str, Any] = {"name": draw(st.sampled_from(NAMES)) if kind else draw(JUNK)}
    if kind < 12:
        key = draw(st.sampled_from(sorted(VALUES)))
        item[key] = draw(maybe(VALUES[key]))
    elif kind < 17:
        item["resource"] = draw(resources)
    else:
        item["part"] = draw(maybe(st.lists(element(name=st.sampled_from(NAMES), valueString=text), max_size=2)))
    return item


@st.composite
def body(draw: st.DrawFn, path: str) -> str:
    """A request body for the operation at ``path``: mostly a Parameters resource with its :data:`CORE`
    parameters, some :data:`EXTRAS` and any other parameter; sometimes not JSON, not Parameters, or too deep."""
    kind = draw(st.integers(0, 39))
    if kind == 0:
        depth = draw(st.sampled_from((100, 999, 1000, 5000, 100_000)))
        inner = draw(st.sampled_from(("[", '{"a":')))
        close = "]" if inner == "[" else "}"
        return '{"resourceType":"Parameters","parameter":' + inner * depth + "1" + close * depth + "}"
    if kind == 1:
        return draw(st.sampled_from(("", "{", "null", "[]", '"x"', '{"resourceType":"Parameters"', "\ud800")))
    if kind == 2:
        return json.dumps({"resourceType": draw(JUNK), "parameter": draw(JUNK)})
    core = CORE[path[path.rindex("$") :]]
    items = draw(st.lists(st.one_of(*core), min_size=1, max_size=4))
    items += draw(st.lists(st.one_of(*EXTRAS), max_size=2)) + draw(
        st.lists(parameter(), max_size=1 if kind > 20 else 3)
    )
    return json.dumps({"resourceType": "Parameters", "parameter": items})


queries = st.lists(st.tuples(st.one_of(st.sampled_from(NAMES), text), st.one_of(text, codes, st.sampled_from(REGEXES))),
                   max_size=5)  # fmt: skip


@st.composite
def request(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, str]], str | None]:
    """(method, path, query parameters, body or None): a POST of :func:`body` or a GET with parameters."""
    if draw(st.booleans()):
        path = draw(st.sampled_from(OPERATIONS))
        return "POST", path, [], draw(body(path))
    path = draw(st.sampled_from(OPERATIONS + READS))
    return "GET", path, draw(queries), None


def judge(status: int, content_type: str, text_: str) -> str | None:
    """Why an answer is wrong (see the module docstring), or None."""
    if status >= 500:
        return f"status {status}"
    if status < 400:
        return None
    if not content_type.startswith("application/fhir+json"):
        return f"{status} answered as {content_type!r}"
    try:
        outcome = json.loads(text_)
    except ValueError:
        return f"{status} with a body that is not JSON"
    issues = outcome.get("issue") if isinstance(outcome, dict) else None
    if outcome.get("resourceType") != "OperationOutcome" or not issues:
        return f"{status} without an OperationOutcome with issues"
    first = issues[0]
    message = first.get("diagnostics") or (first.get("details") or {}).get("text")
    return None if message else f"{status} OperationOutcome without a message"


@dataclass
class FhirFuzzReport:
    """What a FHIR fuzz run saw: statuses, the failures (request and answer) and the slowest answer."""

    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)
    slowest: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        return (
            f"FHIR: {self.sent} requests; statuses {statuses}; failures {len(self.failures)}; "
            f"slowest {self.slowest * 1000:.0f} ms"
        )


def send(session: requests.Session, base: str, method: str, path: str, query: list[tuple[str, str]],
         payload: str | None) -> requests.Response:  # fmt: skip
    """One request to ``{base}/{path}`` (a JSON body is sent as UTF-8, lone surrogates passed through)."""
    data = None if payload is None else payload.encode("utf-8", "surrogatepass")
    headers = {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}
    safe = [(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass")) for k, v in query]
    return session.request(method, f"{base}/{path}", params=safe, data=data, headers=headers, timeout=60)


def fuzz_fhir(base: str, count: int, rng_seed: int = 1) -> FhirFuzzReport:
    """Send ``count`` generated requests to the FHIR API at ``base`` (``.../fhir``) and judge every answer."""
    report = FhirFuzzReport()
    session = requests.Session()

    @seed(rng_seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(request())
    def one(case: tuple[str, str, list[tuple[str, str]], str | None]) -> None:
        method, path, query, payload = case
        started = time.monotonic()
        try:
            response = send(session, base, method, path, query, payload)
        except requests.RequestException as error:
            report.failures.append({"request": case, "error": repr(error)})
            return
        elapsed = time.monotonic() - started
        report.sent += 1
        report.statuses[response.status_code] += 1
        report.slowest = max(report.slowest, elapsed)
        wrong = judge(response.status_code, response.headers.get("Content-Type", ""), response.text)
        if elapsed > SLOW_SECONDS:
            wrong = f"{wrong or 'answered'} after {elapsed:.1f} s"
        if wrong:
            report.failures.append({"request": case, "why": wrong, "answer": response.text[:300]})

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HypothesisWarning)  # the repr of the nested strategies is long: not needed
        one()
    return report
