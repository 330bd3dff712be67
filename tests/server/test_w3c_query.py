"""The W3C SPARQL 1.0 and 1.1 query test suites, run through the HTTP endpoint: one pytest test per W3C test.

The suites are copied in ``tests/w3c/sparql`` (see its PROVENANCE.md); the helpers are the package
``tests/w3c_suite``. One server (granian, oxigraph engine; with ``KG_TEST_ENGINE=sparql`` the ``sparql`` engine on
an ``oxigraph serve`` holding the same data) is started for the session, loaded with every test's data as named
graphs of one N-Quads file, and every test is sent to it once (four threads, keep-alive sessions); the tests
below only look up their outcome. Tests listed in ``tests/w3c/expected-failures.yaml`` are strict xfails: an
unexpected pass fails too. Any 5xx fails. The same tests run in-process with bare pyoxigraph, and the endpoint must
pass at least as many; the counts go to ``build/w3c-report.md`` (``make w3c`` prints them).
"""

from __future__ import annotations

import pytest

from tests.w3c_suite.manifest import W3CTest, all_tests
from tests.w3c_suite.report import ENGINE, SuiteRun, run_suite, summary, write_report
from tests.w3c_suite.runner import expected_failures

pytestmark = [pytest.mark.engine, pytest.mark.live]

TESTS = all_tests()
EXPECTED = expected_failures()


def _param(test: W3CTest) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=EXPECTED[test.iri].reason)] if test.iri in EXPECTED else []
    return pytest.param(test, id=test.id, marks=marks)


@pytest.fixture(scope="module")
def w3c_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    run = run_suite(tmp_path_factory.mktemp("w3c-query"), TESTS)
    report = write_report(summary(run, EXPECTED))
    print(f"\nW3C SPARQL query suites: report in {report}")
    return run


def test_every_listed_failure_is_a_selected_test() -> None:
    selected = {test.iri for test in TESTS}
    assert sorted(set(EXPECTED) - selected) == []


@pytest.mark.parametrize("test", [_param(test) for test in TESTS])
def test_w3c(test: W3CTest, w3c_run: SuiteRun) -> None:
    outcome = w3c_run.http[test.iri]
    assert outcome.status is None or outcome.status < 500, f"server error {outcome.status}: {outcome.message}"
    assert outcome.passed, f"{test.name} ({test.iri}):\n{outcome.message}"


def test_the_suite_ran_on_the_engine_under_test(w3c_run: SuiteRun) -> None:
    """``KG_TEST_ENGINE=sparql``: the server answered from an Oxigraph server (its /health names the store)."""
    assert ("store" in w3c_run.health) == (ENGINE == "sparql"), w3c_run.health


def test_endpoint_passes_at_least_as_many_as_bare_pyoxigraph(w3c_run: SuiteRun) -> None:
    http = sum(outcome.passed for outcome in w3c_run.http.values())
    bare = sum(outcome.passed for outcome in w3c_run.bare.values())
    print(f"\nW3C SPARQL query suites: {http} of {len(TESTS)} passed through HTTP, {bare} by bare pyoxigraph")
    assert http >= bare, f"through HTTP {http} tests pass, {bare} with bare pyoxigraph"
