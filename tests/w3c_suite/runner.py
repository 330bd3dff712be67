"""Running one W3C test through the HTTP endpoint or by bare pyoxigraph, and the expected failures.

Both paths send the same query text: the query file prefixed with ``BASE <its file IRI>`` (so that relative IRIs,
``FROM <data.ttl>`` included, resolve as the suite expects; a second BASE in the query itself is allowed by the
grammar), over the same dataset (see :mod:`.dataset`):

- the test's ``qt:data`` graphs are the default graph and its ``qt:graphData`` graphs the named graphs
  (``default-graph-uri``/``named-graph-uri``; pyoxigraph's ``default_graph``/``named_graphs``);
- a query with its own ``FROM``/``FROM NAMED`` gets no dataset parameters: its clauses name the loaded graphs;
- a test with neither gets no parameters either: the served default graph is empty (every file is a named
  graph). N-Quads cannot hold an empty named graph, and the endpoint refuses names of graphs it does not hold.

SELECT and ASK results are asked for as SPARQL JSON, CONSTRUCT and DESCRIBE as N-Triples; the result format tests
(expected ``.srj``, ``.tsv``, ``.csv`` files of the ``results`` suite) ask for that format. A syntax test passes
when a positive query is answered with a 2xx and a negative one with 400. Any 5xx fails.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import requests
import yaml

from .compare import compare
from .dataset import has_triples
from .manifest import ROOT, W3CTest, from_graphs, local_path
from .terms import (
    Results,
    as_csv,
    from_oxigraph,
    read_csv,
    read_expected,
    read_rdf,
    read_srj,
    read_srx,
    read_tsv,
    solution,
)

EXPECTED_FAILURES = Path(__file__).resolve().parents[1] / "w3c" / "expected-failures.yaml"
TIMEOUT = 30
JSON = "application/sparql-results+json"
N_TRIPLES = "application/n-triples"
ACCEPT = {".srj": JSON, ".tsv": "text/tab-separated-values", ".csv": "text/csv"}
DEFAULT_ACCEPT = f"{JSON}, {N_TRIPLES};q=0.9"
EVALUATION_ERROR = "The query failed during evaluation"
"""How the endpoint's 400 for a query it parsed but could not evaluate begins (not a syntax error)."""
OX_FORMATS = {
    ".srj": ox.QueryResultsFormat.JSON,
    ".tsv": ox.QueryResultsFormat.TSV,
    ".csv": ox.QueryResultsFormat.CSV,
}


@dataclass(frozen=True)
class Outcome:
    """The outcome of one test: passed or not, why not, and the HTTP status (None in-process)."""

    test: W3CTest
    passed: bool
    message: str = ""
    status: int | None = None


def query_text(test: W3CTest, root: Path = ROOT) -> str:
    return f"BASE <{test.query}>\n" + local_path(test.query, root).read_text(encoding="utf-8")


def dataset_of(test: W3CTest, root: Path = ROOT) -> tuple[list[str], list[str]] | None:
    """(default graphs, named graphs) to send, or None to send none (see the module docstring).

    Files without triples (``empty.ttl``) are not graphs of the dataset and are left out; if nothing is left
    the test gets no parameters (the served default graph is empty).
    """
    if test.kind != "evaluation" or from_graphs(test, root):
        return None
    default = [iri for iri in test.data if has_triples(iri, root)]
    named = [iri for iri in test.graph_data if has_triples(iri, root)]
    return (default, named) if default or named else None


def result_suffix(test: W3CTest) -> str:
    """The suffix of the expected result file if the test is a result format test ('' otherwise)."""
    suffix = Path(test.result or "").suffix
    return suffix if test.suite == "results" and suffix in ACCEPT else ""


def expected_results(test: W3CTest, root: Path = ROOT) -> Results:
    if test.result is None:
        raise ValueError(f"{test.iri} has no mf:result")
    return read_expected(local_path(test.result, root), test.result)


def _judge(test: W3CTest, actual: Results, text: str, root: Path) -> tuple[bool, str]:
    expected = expected_results(test, root)
    if Path(test.result or "").suffix == ".csv":
        actual = (
            as_csv(actual)
            if actual.solutions and actual.solutions[0] and any(term.kind != "text" for _, term in actual.solutions[0])
            else actual
        )
    message = compare(expected, actual, text)
    return message is None, message or ""


# --- HTTP -------------------------------------------------------------------------------------------------------


def parse_response(response: requests.Response) -> Results:
    """The results in a response body, read by its media type."""
    media = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    body = response.content
    if media == JSON:
        return read_srj(body.decode("utf-8"))
    if media == "application/sparql-results+xml":
        return read_srx(body.decode("utf-8"))
    if media == "text/tab-separated-values":
        return read_tsv(body.decode("utf-8"))
    if media == "text/csv":
        return read_csv(body.decode("utf-8"))
    if media == N_TRIPLES:
        return Results("graph", triples=read_rdf(body, ox.RdfFormat.N_TRIPLES))
    if media == "text/turtle":
        return Results("graph", triples=read_rdf(body, ox.RdfFormat.TURTLE))
    raise ValueError(f"unexpected response type {media!r}")


def run_http(test: W3CTest, session: requests.Session, endpoint: str, root: Path = ROOT) -> Outcome:
    text = query_text(test, root)
    form: dict[str, str | list[str]] = {"query": text}
    dataset = dataset_of(test, root)
    if dataset is not None:
        form["default-graph-uri"], form["named-graph-uri"] = dataset
    accept = ACCEPT.get(result_suffix(test), DEFAULT_ACCEPT)
    try:
        response = session.post(endpoint, data=form, headers={"Accept": accept}, timeout=TIMEOUT)
    except requests.RequestException as error:
        return Outcome(test, False, f"request failed: {error}")
    status = response.status_code
    body = response.text[:2000]
    if status >= 500:
        return Outcome(test, False, f"HTTP {status} (a server error):\n{body}", status)
    if test.kind == "negative-syntax":
        return Outcome(test, status == 400, "" if status == 400 else f"HTTP {status}, expected 400:\n{body}", status)
    if test.kind == "positive-syntax" and status == 400 and body.startswith(EVALUATION_ERROR):
        return Outcome(test, True, body, status)  # parsed, then refused while evaluating (an unknown function)
    if status != 200:
        return Outcome(test, False, f"HTTP {status}:\n{body}", status)
    if test.kind == "positive-syntax":
        return Outcome(test, True, "", status)
    try:
        actual = parse_response(response)
    except (ValueError, SyntaxError, KeyError) as error:
        return Outcome(test, False, f"unreadable response: {error}\n{body}", status)
    passed, message = _judge(test, actual, text, root)
    return Outcome(test, passed, message, status)


def run_all_http(tests: Iterable[W3CTest], endpoint: str, threads: int = 4, root: Path = ROOT) -> list[Outcome]:
    """Every test through ``endpoint`` (one keep-alive session per thread)."""
    local = threading.local()

    def run(test: W3CTest) -> Outcome:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        return run_http(test, session, endpoint, root)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, tests))


# --- bare pyoxigraph ----------------------------------------------------------------------------------------------


def oxigraph_results(answer: object, suffix: str) -> Results:
    if isinstance(answer, ox.QueryBoolean):
        return Results("boolean", boolean=bool(answer))
    if isinstance(answer, ox.QuerySolutions):
        if suffix:
            data = answer.serialize(format=OX_FORMATS[suffix]) or b""
            reader: Callable[[str], Results] = {".srj": read_srj, ".tsv": read_tsv, ".csv": read_csv}[suffix]
            return reader(data.decode("utf-8"))
        variables = [variable.value for variable in answer.variables]
        rows = [
            solution({name: from_oxigraph(row[name]) for name in variables if row[name] is not None}) for row in answer
        ]
        return Results("solutions", variables=variables, solutions=rows)
    if isinstance(answer, ox.QueryTriples):
        return Results("graph", triples=[tuple(map(from_oxigraph, triple)) for triple in answer])  # type: ignore[misc]
    raise TypeError(f"unexpected pyoxigraph answer {answer!r}")


def run_oxigraph(test: W3CTest, store: ox.Store, root: Path = ROOT) -> Outcome:
    text = query_text(test, root)
    dataset = dataset_of(test, root)
    options: dict[str, object] = {}
    if dataset is not None:
        options["default_graph"] = [ox.NamedNode(name) for name in dataset[0]]
        options["named_graphs"] = [ox.NamedNode(name) for name in dataset[1]]
    try:
        answer = store.query(text, **options)  # type: ignore[arg-type]
        actual = oxigraph_results(answer, result_suffix(test))
    except SyntaxError as error:
        if test.kind == "negative-syntax":
            return Outcome(test, True)
        return Outcome(test, False, f"SyntaxError: {error}")
    except (OSError, ValueError, TypeError, RuntimeError) as error:
        # Parsed, then refused while evaluating (an unknown function...): enough for a syntax test.
        if test.kind == "positive-syntax":
            return Outcome(test, True)
        return Outcome(test, False, f"{type(error).__name__}: {error}")
    if test.kind == "negative-syntax":
        return Outcome(test, False, "accepted, expected a syntax error")
    if test.kind == "positive-syntax":
        return Outcome(test, True)
    passed, message = _judge(test, actual, text, root)
    return Outcome(test, passed, message)


# --- expected failures --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedFailure:
    iri: str
    reason: str


def expected_failures(path: Path = EXPECTED_FAILURES) -> dict[str, ExpectedFailure]:
    """Test IRI -> why it is expected to fail, from the groups of ``expected-failures.yaml``."""
    if not path.is_file():
        return {}
    groups = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    failures: dict[str, ExpectedFailure] = {}
    for group in groups:
        reason = group["reason"].strip()
        if group.get("issue"):
            reason += f" ({group['issue']})"
        for iri in group["tests"]:
            if iri in failures:
                raise ValueError(f"{iri} is listed twice in {path.name}")
            failures[iri] = ExpectedFailure(iri, reason)
    return failures
