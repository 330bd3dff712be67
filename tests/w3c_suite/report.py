"""One run of the whole suite: a live server loaded with every test's data, every test through HTTP and by bare
pyoxigraph, and the counts (``make w3c`` prints them; the pytest module writes them to ``build/w3c-report.md``).

Run from the repository root as ``PYTHONPATH=tests:tests/server python -m w3c_suite.report``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.live_server import PRODUCTION, live_server
from tests.support.store_server import engine_under_test

from .dataset import load_store, write_nquads
from .manifest import SUITES, W3CTest, all_tests
from .runner import ExpectedFailure, Outcome, expected_failures, run_all_http, run_oxigraph

ENGINE = engine_under_test()
"""The engine the suite runs on: ``oxigraph`` (embedded), or with ``KG_TEST_ENGINE=sparql`` the remote-store engine,
whose store (``oxigraph serve``) :func:`live_server.live_server` loads with the same N-Quads file."""
ENGINE_SETTINGS = {"KG_ENGINE": "oxigraph"} if ENGINE == "oxigraph" else {}
SERVER_SETTINGS = {**ENGINE_SETTINGS, "KG_QUERY_WORKERS": "2", "KG_QUERY_TIMEOUT": "20", "KG_CACHE_ENTRIES": "0"}
REPORT = (
    Path(__file__).resolve().parents[2]
    / "build"
    / ("w3c-report.md" if ENGINE == "oxigraph" else f"w3c-report-{ENGINE}.md")
)


@dataclass(frozen=True)
class SuiteRun:
    tests: list[W3CTest]
    http: dict[str, Outcome]
    """Test IRI -> outcome through the endpoint."""
    bare: dict[str, Outcome]
    """Test IRI -> outcome by bare pyoxigraph in-process."""
    seconds: float
    """Wall time of the HTTP run (server start and data load included)."""
    health: dict[str, object]
    """The server's ``/health`` answer during the run (with ``store`` on the ``sparql`` engine)."""


def run_suite(folder: Path, tests: list[W3CTest] | None = None) -> SuiteRun:
    """Load every test's data into one server (in ``folder``) and run every test through it, then in-process."""
    tests = tests if tests is not None else all_tests()
    started = time.perf_counter()
    nquads = write_nquads(tests, folder / "w3c-sparql.nq")
    settings = dict(SERVER_SETTINGS)
    with live_server(folder, [nquads], settings, *PRODUCTION) as live:
        health = requests.get(f"{live.url}/health", timeout=10).json()
        http = {outcome.test.iri: outcome for outcome in run_all_http(tests, live.sparql)}
    seconds = time.perf_counter() - started
    store = load_store(tests)
    bare = {test.iri: run_oxigraph(test, store) for test in tests}
    return SuiteRun(tests, http, bare, seconds, health)


def summary(run: SuiteRun, expected: dict[str, ExpectedFailure]) -> str:
    """The counts per suite (HTTP and bare pyoxigraph) and every test whose outcome is not the expected one."""
    http = Counter[tuple[str, str]]()
    bare = Counter[tuple[str, str]]()
    for test in run.tests:
        outcome = run.http[test.iri]
        listed = test.iri in expected
        state = ("xfail" if not outcome.passed else "XPASS") if listed else ("passed" if outcome.passed else "FAILED")
        http[(test.suite, state)] += 1
        bare[(test.suite, "passed" if run.bare[test.iri].passed else "failed")] += 1
    lines = [
        f"# W3C SPARQL query test suites: {len(run.tests)} tests, engine {ENGINE}, HTTP run {run.seconds:.1f} s",
        "",
        "| suite | tests | HTTP passed | HTTP expected failures | HTTP unexpected failures | HTTP unexpected passes "
        "| bare pyoxigraph passed | bare pyoxigraph failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for suite in [*SUITES, "total"]:

        def count(counter: Counter[tuple[str, str]], state: str, suite: str = suite) -> int:
            return sum(n for (s, st), n in counter.items() if st == state and suite in (s, "total"))

        total = sum(1 for t in run.tests if suite in (t.suite, "total"))
        lines.append(
            f"| {suite} | {total} | {count(http, 'passed')} | {count(http, 'xfail')} | {count(http, 'FAILED')} "
            f"| {count(http, 'XPASS')} | {count(bare, 'passed')} | {count(bare, 'failed')} |"
        )
    http_passed = sum(outcome.passed for outcome in run.http.values())
    bare_passed = sum(outcome.passed for outcome in run.bare.values())
    lines += ["", f"Passed through HTTP: {http_passed}; passed by bare pyoxigraph: {bare_passed}.", ""]
    sections = {
        "Unexpected failures through HTTP": [
            o for o in run.http.values() if not o.passed and o.test.iri not in expected
        ],
        "Unexpected passes through HTTP (listed in expected-failures.yaml)": [
            o for o in run.http.values() if o.passed and o.test.iri in expected
        ],
        "Server errors (5xx)": [o for o in run.http.values() if o.status is not None and o.status >= 500],
        "Passed by bare pyoxigraph, failed through HTTP": [
            o for o in run.http.values() if not o.passed and run.bare[o.test.iri].passed
        ],
        "Failed by bare pyoxigraph, passed through HTTP": [
            o for o in run.http.values() if o.passed and not run.bare[o.test.iri].passed
        ],
    }
    for title, outcomes in sections.items():
        lines.append(f"## {title}: {len(outcomes)}")
        lines.append("")
        for outcome in sorted(outcomes, key=lambda o: o.test.id):
            first = outcome.message.strip().splitlines()[0] if outcome.message.strip() else ""
            lines.append(f"- `{outcome.test.id}` ({outcome.test.iri}): {first[:200]}")
        lines.append("")
    return "\n".join(lines)


def write_report(text: str, path: Path = REPORT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="w3c-sparql-") as folder:
        run = run_suite(Path(folder))
    expected = expected_failures()
    text = summary(run, expected)
    print(text)
    print(f"(written to {write_report(text)})")
    unexpected = [o for o in run.http.values() if o.passed == (o.test.iri in expected)]
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
