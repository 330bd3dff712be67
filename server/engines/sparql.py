"""The remote-store engine (``KG_ENGINE=sparql``): every query evaluated by an external SPARQL 1.1 store.

The store (Oxigraph server, Fuseki, Virtuoso, QLever...) is reached over the SPARQL 1.1 Protocol at
``KG_STORE_URL`` with a pooled HTTP client (urllib3, keep-alive). Our own layers stay on top and run before
anything is sent (:mod:`.common`): the lexer's size and depth limits, updates and ``SERVICE`` refused, graphs
the store does not hold refused, then the text is parsed by pyoxigraph's parser (not evaluated) so that a
syntax error is the same 400 as on the embedded engine. The store answers in SPARQL JSON results or
N-Triples; the answer is parsed into pyoxigraph terms and written by our own writers
(:mod:`calcinosis_kg.server.sparql.results`), with the same row and answer-size limits.

What is sent: the query with a first line declaring ``BASE`` (the endpoint's URL, against which the embedded
engine resolves relative IRIs) and the predeclared prefixes the query uses without declaring them; the
request's ``default-graph-uri``/``named-graph-uri``, else the query's own ``FROM``/``FROM NAMED`` graphs as
those (the same dataset: ``oxigraph serve --union-default-graph`` ignores a query's ``FROM``, not the
protocol's); a canned query's parameters as a ``VALUES`` block at the start of its WHERE group (the store has no
substitutions); with ``KG_STORE_TIMEOUT_PARAM`` the time limit in milliseconds. The store's own default graph
is the default graph (start Oxigraph with ``--union-default-graph`` for ``KG_UNION_DEFAULT_GRAPH``), unless
``KG_STORE_DEFAULT_GRAPH`` names one of its graphs: then a query naming no dataset (neither ``FROM`` nor
``default-graph-uri``) is sent with that graph as ``default-graph-uri`` and the store's other graphs as
``named-graph-uri``, for stores whose own default graph is the union of all their graphs (Virtuoso).

Queries are not evaluated in the query worker processes (their sandbox forbids the network): the
:class:`StoreRunner` evaluates them in the server process, each job in a thread of its own with the stack of a
worker's answering thread (pyoxigraph's parser recurses over the query, and a query within the lexer's limits
overflows the small stack of a web server thread, which would kill the server process), under a client-side
deadline equal to the time limit that covers every request a job makes (a DESCRIBE makes several). A store
that refuses connections or answers with a server error gives
:class:`~calcinosis_kg.server.errors.StoreUnavailable` (502), one that does not answer in time
:class:`~calcinosis_kg.server.errors.StoreTimeout` (504); both name the store.

:class:`StoreGraphView` gives the start-up indexes and DESCRIBE the triple patterns they read, as CONSTRUCT
queries. Blank nodes cannot be named in a query, so the triples with a blank node are read once, at start-up,
and patterns naming a blank node are answered from that copy; this needs a store whose blank-node labels are
stable from one answer to the next (Oxigraph, Fuseki and Virtuoso keep theirs).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyoxigraph as ox
from rdflib import URIRef

from calcinosis_kg.server.engines.anchored_view import AnchoredStoreView
from calcinosis_kg.server.engines.common import (
    QUERY_PREFIXES,
    WRITTEN_PREFIXES,
    outer_group_start,
    oxigraph_term,
    screen,
    select_of_describe,
    syntax_message,
)
from calcinosis_kg.server.engines.contract import Answer, DatasetSpec, Job
from calcinosis_kg.server.engines.published import PublishedBundle, open_published
from calcinosis_kg.server.engines.store_client import N_TRIPLES, RESULTS_JSON, StoreClient, StoreGraphView, read_store
from calcinosis_kg.server.errors import (
    EndpointError,
    EvaluationError,
    MalformedQuery,
    ResultTooLarge,
    StoreUnavailable,
)
from calcinosis_kg.server.http.conditional import DataVersion
from calcinosis_kg.server.http.formats import Family, choose_format
from calcinosis_kg.server.http.metrics import Metrics
from calcinosis_kg.server.resources.data import DatasetSummary
from calcinosis_kg.server.settings import Settings
from calcinosis_kg.server.sparql.describe import describe
from calcinosis_kg.server.sparql.lexer import Analysis, Limits, Token, TokenKind
from calcinosis_kg.server.sparql.results import Row, write_boolean, write_rows, write_triples
from calcinosis_kg.server.workers.cache import ResultCache
from calcinosis_kg.server.workers.limits import WorkerLimits
from calcinosis_kg.server.workers.pool import WORKER_STACK_BYTES, QueryPool, _answer
from calcinosis_kg.server.workers.shared_cache import open_shared_answers


class SparqlEngine:
    """Evaluates queries on the store behind ``client``, refusing what is unsafe and what is too large."""

    def __init__(
        self,
        client: StoreClient,
        view: StoreGraphView,
        named_graphs: Sequence[str],
        *,
        max_rows: int,
        limits: Limits | None = None,
    ) -> None:
        self.client = client
        self._view = view
        self._named = frozenset(named_graphs)
        self._max_rows = max_rows
        self._limits = limits or Limits()
        self._parser = ox.Store()
        """An empty store: its parser checks syntax (the query is never evaluated on it)."""

    def warm_up(self) -> None:
        """Nothing to import ahead: no worker processes are forked."""

    def worker_started(self) -> None:
        """Never called: this engine runs in the server process."""

    def execute(self, job: Job) -> Answer:
        """Answer ``job`` with the store; raises an :class:`EndpointError` to refuse it."""
        analysis = screen(job, self._limits, self._named)
        text = job.query
        if analysis.form == "describe":
            text = select_of_describe(job.query, analysis)
        if job.bindings:
            text = self._bind(job, analysis, text)
        self._check_syntax(text, job, analysis)
        sent = self._prologue(job, analysis) + text
        dataset = job.dataset if job.dataset is not None else self._dataset_of(analysis)
        if analysis.form == "construct":
            fmt = choose_format(job.accept, job.formats, Family.GRAPH)
            found = self._construct(sent, dataset)
            return Answer(write_triples(fmt, found, WRITTEN_PREFIXES), fmt.content_type)
        result = self.client.parse_results(self.client.query(sent, RESULTS_JSON, dataset))
        if analysis.form == "describe":
            assert isinstance(result, ox.QuerySolutions)
            targets = [term for solution in self.client.solutions(result) for term in solution if term is not None]
            fmt = choose_format(job.accept, job.formats, Family.GRAPH)
            return Answer(
                write_triples(fmt, describe(self._view, targets, self._max_rows), WRITTEN_PREFIXES), fmt.content_type
            )
        fmt = choose_format(job.accept, job.formats, Family.RESULTS)
        if isinstance(result, ox.QueryBoolean):
            return Answer(write_boolean(fmt, bool(result)), fmt.content_type)
        variables = [variable.value for variable in result.variables]
        rows: list[Row] = []
        for solution in self.client.solutions(result):
            rows.append(tuple(solution))
            if len(rows) > self._max_rows:
                raise ResultTooLarge(
                    f"The query has more than {self._max_rows} result rows (KG_MAX_ROWS). "
                    f"Add LIMIT {self._max_rows} or less, and use OFFSET to page through the rest."
                )
        return Answer(write_rows(fmt, variables, rows), fmt.content_type)

    def _dataset_of(self, analysis: Analysis) -> DatasetSpec | None:
        """The dataset sent with a query the request gives none: its own ``FROM``/``FROM NAMED`` graphs (also sent
        as the protocol's, which means the same: a store whose default graph is the union, ``oxigraph serve
        --union-default-graph``, ignores the query's ``FROM`` but not ``default-graph-uri``), else the client's."""
        if analysis.from_default or analysis.from_named:
            return DatasetSpec(
                default=tuple(map(URIRef, analysis.from_default)), named=tuple(map(URIRef, analysis.from_named))
            )
        return self.client.dataset

    def _construct(self, text: str, dataset: DatasetSpec | None) -> list[ox.Triple]:
        body = self.client.query(text, N_TRIPLES, dataset)
        found: dict[ox.Triple, None] = {}
        try:
            for quad in ox.parse(body, format=ox.RdfFormat.N_TRIPLES):
                found[quad.triple] = None
                if len(found) > self._max_rows:
                    raise ResultTooLarge(
                        f"The query's result has more than {self._max_rows} triples (KG_MAX_ROWS); "
                        "add a LIMIT or narrow the pattern."
                    )
        except (SyntaxError, ValueError) as error:
            raise StoreUnavailable(
                f"The SPARQL store at {self.client.url} sent N-Triples we cannot read: {error}"
            ) from None
        return list(found)

    def _check_syntax(self, text: str, job: Job, analysis: Analysis) -> None:
        """Parse ``text`` as the embedded engine would, never evaluating it (an ASK is parsed as a CONSTRUCT).

        pyoxigraph evaluates an ASK as soon as it is parsed, and even on an empty store an ASK over large VALUES
        blocks runs for minutes; a SELECT or CONSTRUCT is evaluated only when read.
        """
        options: dict[str, Any] = {"base_iri": job.base, "prefixes": QUERY_PREFIXES}
        probe = text
        if analysis.form == "ask":
            written = analysis.text if text == job.query else text  # the keyword's offsets hold in both
            keyword = next(t for t in analysis.tokens if t.kind is TokenKind.WORD and t.lower == "ask")
            probe = written[: keyword.start] + "CONSTRUCT {}" + written[keyword.end :]
        try:
            self._parser.query(probe, **options)
            return
        except SyntaxError as error:
            if probe is text:
                raise MalformedQuery(syntax_message(str(error), text, analysis)) from None
        except (RuntimeError, ValueError) as error:
            raise EvaluationError(f"The query failed during evaluation: {error}") from error
        if text != analysis.text:
            raise MalformedQuery("SPARQL syntax error in the ASK query (its escapes expand into invalid syntax).")
        try:  # the ASK itself, for the message's position: as its CONSTRUCT does not parse, it is not evaluated
            self._parser.query(text, **options)
        except SyntaxError as error:
            raise MalformedQuery(syntax_message(str(error), text, analysis)) from None
        raise MalformedQuery("SPARQL syntax error in the ASK query.")

    def _prologue(self, job: Job, analysis: Analysis) -> str:
        """``BASE`` (unless the query opens with its own absolute one) and the predeclared prefixes the text uses
        without declaring, on one line."""
        declared: set[str] = set()
        used: set[str] = set()
        tokens = analysis.tokens
        for index, token in enumerate(tokens):
            if token.kind is not TokenKind.PNAME:
                continue
            prefix = token.text.partition(":")[0]
            if index > 0 and tokens[index - 1].kind is TokenKind.WORD and tokens[index - 1].lower == "prefix":
                declared.add(prefix)
            else:
                used.add(prefix)
        lines = [] if _starts_with_absolute_base(tokens) else [f"BASE <{job.base}>"]
        lines += [f"PREFIX {p}: <{QUERY_PREFIXES[p]}>" for p in sorted(used - declared) if p in QUERY_PREFIXES]
        return " ".join(lines) + "\n"

    @staticmethod
    def _bind(job: Job, analysis: Analysis, text: str) -> str:
        """A canned query's parameters as a VALUES block at the start of its WHERE group."""
        if analysis.text != job.query:
            raise EvaluationError("This query's parameters cannot be bound: it has no outer group pattern.")
        rewritten = text is not job.query
        start = outer_group_start(analysis) if not rewritten else None
        if rewritten:  # a DESCRIBE's SELECT: bind in its first group
            start = text.find("{") + 1 or None
        if start is None:
            raise EvaluationError("This query's parameters cannot be bound: it has no outer group pattern.")
        names = " ".join("?" + name for name, _ in job.bindings)
        row = " ".join(str(oxigraph_term(term)) for _, term in job.bindings)
        return text[:start] + f" VALUES ({names}) {{ ({row}) }} " + text[start:]


_SCHEME = re.compile(r"<[A-Za-z][A-Za-z0-9+.-]*:")


def _starts_with_absolute_base(tokens: Sequence[Token]) -> bool:
    """The query opens with ``BASE <absolute IRI>``: ours would be overridden, and Virtuoso refuses two BASEs."""
    return (
        len(tokens) > 1
        and tokens[0].kind is TokenKind.WORD
        and tokens[0].lower == "base"
        and tokens[1].kind is TokenKind.IRI
        and _SCHEME.match(tokens[1].text) is not None
    )


class StoreRunner(QueryPool):
    """:class:`QueryPool`'s ``run`` (result cache, metrics) evaluating in the calling thread on the store.

    There are no worker processes: each job runs on :class:`SparqlEngine` under the client's deadline of the
    time limit, and its answer is held to the answer-size limit as a worker's would be.
    """

    def start(self) -> None:
        """Nothing to start: no worker processes."""

    def close(self) -> None:
        """Nothing to stop."""

    def _run(self, job: Job) -> Answer:
        engine = self._engine
        assert isinstance(engine, SparqlEngine)
        outcome: list[Answer | EndpointError | BaseException] = []

        def answer() -> None:
            try:
                with engine.client.deadline(self.timeout):  # the deadline is per thread: set in this one
                    outcome.append(_answer(engine, job, self.limits))
            except BaseException as error:  # noqa: BLE001 (a bug: re-raised in the calling thread, a 500 there)
                outcome.append(error)

        with _STACK_SIZE:
            previous = threading.stack_size(WORKER_STACK_BYTES)
            try:
                thread = threading.Thread(target=answer, name="kg-store-job", daemon=True)
                thread.start()
            finally:
                threading.stack_size(previous)
        thread.join()
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result


_STACK_SIZE = threading.Lock()
"""Held while a job's thread is started with :data:`WORKER_STACK_BYTES` (``threading.stack_size`` is global)."""


@dataclass(frozen=True)
class RemoteStore:
    """What :func:`create_app` needs of a remote store: its client, runner, view, summary and data version, and
    the store's bundle when one serves (:mod:`.published`: the start-up indexes, read from files)."""

    client: StoreClient
    runner: StoreRunner
    view: StoreGraphView
    summary: DatasetSummary
    version: DataVersion
    bundle: PublishedBundle | None = None


def open_remote_store(settings: Settings, limits: Limits, worker_limits: WorkerLimits, metrics: Metrics) -> RemoteStore:
    """Connect to ``settings.store_url``, read what the start-up needs, and build the runner of its queries.

    With a fresh bundle of the store (``KG_BUNDLE``, :func:`~.published.open_published`) nothing is read but the
    store's list of graphs: the summary, data version and indexes are the bundle's, and blank nodes are read
    through their anchors (:class:`~.anchored_view.AnchoredStoreView`). Otherwise the data version is the store's
    fingerprint (its quads), dated at start-up: restart the server after publishing new data to the store.
    Raises :class:`StoreUnavailable` (a KGError) when the store cannot be read.
    """
    assert settings.store_url is not None
    client = StoreClient(
        settings.store_url,
        max_bytes=worker_limits.answer_bytes,
        connections=max(16, settings.pool_size),
        timeout_param=settings.store_timeout_param,
    )
    anchored = AnchoredStoreView(client)
    bundle = None
    if settings.store_default_graph is None:  # a bundle is of the store's own default graph
        bundle = open_published(client, settings.bundle, anchored, union_default_graph=settings.union_default_graph)
    view: StoreGraphView
    if bundle is not None:
        view, summary, version = anchored, bundle.indexes["summary"], bundle.manifest.version
    else:
        state = read_store(
            client, union_default_graph=settings.union_default_graph, default_graph=settings.store_default_graph
        )
        view, summary = StoreGraphView(client), state.summary
        version = DataVersion(tag=state.fingerprint, last_modified=datetime.now(UTC).replace(microsecond=0))
    engine = SparqlEngine(client, view, list(summary.named_graphs), max_rows=settings.max_rows, limits=limits)
    cache = ResultCache(
        max_entries=settings.cache_entries,
        max_bytes=settings.cache_bytes,
        version=version.tag,
        shared=open_shared_answers(settings),
    )
    runner = StoreRunner(
        engine,
        size=settings.pool_size,
        timeout=settings.query_timeout,
        cache=cache,
        limits=worker_limits,
        metrics=metrics,
    )
    return RemoteStore(client=client, runner=runner, view=view, summary=summary, version=version, bundle=bundle)
