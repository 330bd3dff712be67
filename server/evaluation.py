"""Answering one query over the served dataset: parse, check, evaluate, write the result.

:class:`QueryEngine` runs inside the query worker processes (see :mod:`calcinosis_kg.server.pool`), so
everything expensive, parsing included, is under the time limit. It evaluates with rdflib but builds the
query's dataset itself: rdflib is never given FROM clauses (it would fetch unknown graphs) and its global
"default graph is the union of all graphs" switch is bypassed, so the default graph is the dataset's own
default graph unless the dataset was loaded with ``union_default_graph``.

Queries are parsed once per query worker: the canned queries, registered by :meth:`QueryEngine.prepare`
when the server starts, are parsed and checked on first use and kept for good; every other query text is
kept, parsed and checked, in a per-worker LRU of :data:`PARSE_CACHE_ENTRIES` entries. Parsing the canned
queries at start-up took most of a second of the server's start (about 25 ms each with rdflib); parsing them
in idle query workers competed with the requests of the first seconds (the answers of canned queries are
mostly cached, so their workers are idle) and raised the 99th percentile.

A query without relative IRIs and without BASE (:func:`depends_on_base`) is parsed against a placeholder base
and kept under its text alone; the request's base is put in its prologue at evaluation, for ``IRI()``. Other
queries are kept under text and base.

:class:`Engine` is what the worker pool needs of an engine; :mod:`calcinosis_kg.server.oxigraph_backend`
has the other implementation.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from rdflib import Dataset, Graph, URIRef, Variable
from rdflib.plugins.sparql.evaluate import evalPart
from rdflib.plugins.sparql.parser import expandUnicodeEscapes
from rdflib.plugins.sparql.sparql import Query, QueryContext, SPARQLError
from rdflib.term import Identifier

from calcinosis_kg.ontology import PREFIXES
from calcinosis_kg.server.data import named_graph_names
from calcinosis_kg.server.describe import describe
from calcinosis_kg.server.errors import EndpointError, EvaluationError, ResultTooLarge
from calcinosis_kg.server.formats import FORMATS, Family, ResultFormat, choose_format
from calcinosis_kg.server.parsing import parse_query
from calcinosis_kg.server.results import Row, write_boolean, write_graph, write_rows
from calcinosis_kg.server.safety import DatasetSpec, check_graphs, query_dataset, refuse_service

_FAMILIES = {
    "SelectQuery": Family.RESULTS,
    "AskQuery": Family.RESULTS,
    "ConstructQuery": Family.GRAPH,
    "DescribeQuery": Family.GRAPH,
}


@dataclass(frozen=True)
class Job:
    """One query request, as the HTTP layer hands it to a query worker."""

    query: str
    base: str
    """IRI against which relative IRIs in the query are resolved (the endpoint's URL)."""
    accept: str | None = None
    formats: tuple[str, ...] = ()
    """Values of the request's ``format`` parameter, which override ``accept``."""
    dataset: DatasetSpec | None = None
    """The dataset given by ``default-graph-uri``/``named-graph-uri``; it overrides FROM/FROM NAMED."""
    bindings: tuple[tuple[str, Identifier], ...] = ()
    """Initial bindings, (variable name without ``?``, term) pairs: a canned query's validated parameters.

    The query is evaluated as if each variable were already bound to its term (rdflib's ``initBindings``):
    values are never pasted into the query text. (The oxigraph backend uses pyoxigraph's substitutions, or a
    ``VALUES`` block of validated IRIs and literals it writes itself: see
    :mod:`calcinosis_kg.server.oxigraph_backend`.)
    """


PARSE_CACHE_ENTRIES = 256
"""Parsed ad-hoc queries each query worker keeps (least recently used first out)."""

PLACEHOLDER_BASE = "http://base.placeholder.invalid/sparql"
"""Base IRI that base-independent queries are parsed against (the request's is used at evaluation)."""

_IRIREF = re.compile(r'<([^<>"{}|^`\\\x00-\x20]*)>')
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_BASE_WORD = re.compile(r"(?i)(?<![a-z])base(?![a-z])")


@dataclass(frozen=True)
class Answer:
    """A written query result."""

    body: bytes
    content_type: str


class Engine(Protocol):
    """What the query worker pool needs of a query engine."""

    def execute(self, job: Job) -> Answer:
        """Answer ``job`` (in a query worker); raises an EndpointError to refuse it."""

    def prepare(self, texts: Iterable[str]) -> None:
        """Register ``texts`` (the canned queries): parsed on first use in each worker, then kept for good."""

    def warm_up(self) -> None:
        """Import and initialize what evaluation needs, in the server process, before any fork."""

    def worker_started(self) -> None:
        """Acquire per-process resources in a freshly forked query worker (before the sandbox is on)."""


def _raised_in_order_by(error: BaseException) -> bool:
    """Whether ``error`` came out of rdflib's ORDER BY evaluation (which sorts error values as ``None``).

    rdflib turns an ORDER BY key that raises into ``None`` and then fails comparing it; that is a property of
    the query, not a server fault, so it is answered as an evaluation error. Other TypeErrors propagate.
    """
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_name == "evalOrderBy":
            return True
        traceback = traceback.tb_next
    return False


def family_of(query: Query) -> Family:
    """The kind of answer a parsed query gives."""
    return _FAMILIES[query.algebra.name]


class QueryEngine:
    """Evaluates queries over one loaded dataset with rdflib, refusing what is unsafe and what is too large."""

    def __init__(self, dataset: Dataset, *, max_rows: int) -> None:
        self._dataset = dataset
        self._max_rows = max_rows
        self._named = named_graph_names(dataset)
        self._prepared: dict[str, Query] = {}
        self._pending: set[str] = set()
        """Registered canned texts not parsed yet."""
        self._parsed: OrderedDict[tuple[str, str | None], Query] = OrderedDict()

    @property
    def dataset(self) -> Dataset:
        """The served dataset."""
        return self._dataset

    @property
    def named_graphs(self) -> frozenset[URIRef]:
        """Names of the dataset's named graphs (what FROM NAMED and named-graph-uri may name)."""
        return self._named

    def prepare(self, texts: Iterable[str]) -> None:
        """Register each base-independent text, to be parsed and checked on first use and kept for good.

        A text is parsed by the first :meth:`checked` or :meth:`prepared` that asks for it; a refused text is
        refused again on each use.
        """
        for text in texts:
            if text not in self._prepared and not depends_on_base(text):
                self._pending.add(text)

    def prepared(self, text: str) -> Query | None:
        """The query parsed from a text :meth:`prepare` registered (parsed now if need be), else None."""
        query = self._prepared.get(text)
        if query is None and text in self._pending:
            self._pending.discard(text)
            try:
                query = self._prepared[text] = self._parse_checked(text, PLACEHOLDER_BASE)
            except EndpointError:
                return None
        return query

    def checked(self, text: str, base: str) -> Query:
        """``text`` parsed (relative IRIs resolved against ``base``) and checked for SERVICE.

        Raises :class:`MalformedQuery`, :class:`ReadOnly`, :class:`EvaluationError` or
        :class:`ServiceRefused` as the query deserves. Prepared queries and the LRU answer first; a
        base-independent query is kept under its text alone, with the placeholder base in its prologue.
        """
        query = self.prepared(text)
        if query is not None:
            return query
        key = (text, base if depends_on_base(text) else None)
        parsed = self._parsed
        query = parsed.get(key)
        if query is not None:
            parsed.move_to_end(key)
            return query
        query = self._parse_checked(text, PLACEHOLDER_BASE if key[1] is None else base)
        parsed[key] = query
        if len(parsed) > PARSE_CACHE_ENTRIES:
            parsed.popitem(last=False)
        return query

    @staticmethod
    def _parse_checked(text: str, base: str) -> Query:
        query = parse_query(text, base=base, prefixes=PREFIXES)
        refuse_service(query)
        return query

    def worker_started(self) -> None:
        """Nothing to acquire: the dataset is in memory, inherited through the fork."""

    def execute(self, job: Job) -> Answer:
        """Answer ``job``; raises an :class:`~calcinosis_kg.server.errors.EndpointError` to refuse it."""
        query = self.checked(job.query, job.base)
        fmt = choose_format(job.accept, job.formats, _FAMILIES[query.algebra.name])
        if job.dataset is not None:
            check_graphs(job.dataset, self._named, "The request's default-graph-uri/named-graph-uri")
            dataset = self._restricted(job.dataset)
        elif (spec := query_dataset(query)) is not None:
            check_graphs(spec, self._named, "The query's FROM/FROM NAMED")
            dataset = self._restricted(spec)
        else:
            dataset = self._dataset
        try:
            return self._evaluate(query, dataset, fmt, job.bindings, job.base)
        except (SPARQLError, re.error) as error:
            raise EvaluationError(f"The query failed during evaluation: {error}") from error
        except UnicodeEncodeError as error:
            raise EvaluationError(
                "The result holds text that is not valid Unicode (a lone surrogate such as \\uD800)."
            ) from error
        except TypeError as error:
            if not _raised_in_order_by(error):
                raise
            raise EvaluationError(
                "The query's ORDER BY compares values that cannot be ordered: an ORDER BY expression raised an "
                "error (such as 1/0 or a comparison of incompatible terms) for some solutions."
            ) from error

    def _evaluate(
        self,
        query: Query,
        dataset: Dataset,
        fmt: ResultFormat,
        bindings: tuple[tuple[str, Identifier], ...],
        base: str,
    ) -> Answer:
        # The same context rdflib's evalQuery builds, minus FROM handling and with our default graph.
        default_graph = dataset if dataset.default_union else dataset.default_graph
        context = QueryContext(dataset, initBindings={Variable(name): term for name, term in bindings})
        context.graph = default_graph
        context.prologue = query.prologue
        if query.prologue.base == PLACEHOLDER_BASE:  # a base-independent query: IRI() resolves against ours
            context.prologue = copy.copy(query.prologue)
            context.prologue.base = base
        form = query.algebra.name
        if form == "SelectQuery":
            return self._select(context, query, fmt)
        if form == "AskQuery":
            answer: bool = evalPart(context, query.algebra)["askAnswer"]
            return Answer(write_boolean(fmt, answer), fmt.content_type)
        if form == "ConstructQuery":
            graph: Graph = evalPart(context, query.algebra)["graph"]
            self._check_triples(graph)
            _bind_prefixes(graph, dataset)
            return Answer(write_graph(fmt, graph), fmt.content_type)
        return self._describe(context, default_graph, query, fmt)

    def warm_up(self) -> None:
        """Import everything evaluation needs (parser, evaluator, every writer) before workers are forked."""
        empty = Graph()
        for fmt in FORMATS:
            if fmt.family is Family.GRAPH:
                write_graph(fmt, empty)
        self.execute(Job(query="ASK { FILTER(REGEX(STR(NOW()), '.')) }", base="http://localhost/sparql"))

    def _select(self, context: QueryContext, query: Query, fmt: ResultFormat) -> Answer:
        result: dict[str, Any] = evalPart(context, query.algebra)
        variables: list[Variable] = list(query.algebra.PV)
        rows: list[Row] = list(itertools.islice(result["bindings"], self._max_rows + 1))
        if len(rows) > self._max_rows:
            raise ResultTooLarge(
                f"The query has more than {self._max_rows} result rows (KG_MAX_ROWS). "
                f"Add LIMIT {self._max_rows} or less, and use OFFSET to page through the rest."
            )
        return Answer(write_rows(fmt, variables, rows), fmt.content_type)

    def _describe(self, context: QueryContext, graph: Graph, query: Query, fmt: ResultFormat) -> Answer:
        targets = [term for term in query.algebra.PV if isinstance(term, URIRef)]
        variables = [term for term in query.algebra.PV if isinstance(term, Variable)]
        if query.algebra.p is not None:
            for row in evalPart(context, query.algebra.p):
                targets.extend(value for var in variables if (value := row.get(var)) is not None)
        else:  # DESCRIBE ?x without WHERE describes what an initial binding gives ?x
            targets.extend(value for var in variables if (value := context.bindings.get(var)) is not None)
        description = describe(graph, dict.fromkeys(targets), self._max_rows)
        _bind_prefixes(description, self._dataset)
        return Answer(write_graph(fmt, description), fmt.content_type)

    def _restricted(self, spec: DatasetSpec) -> Dataset:
        """A new dataset made of copies of the graphs ``spec`` names (all of them known)."""
        restricted = Dataset()
        default_graph = restricted.default_graph
        for name in spec.default:
            default_graph += self._dataset.graph(name)
        for name in spec.named:
            named_graph = restricted.graph(name)
            named_graph += self._dataset.graph(name)
        return restricted

    def _check_triples(self, graph: Graph) -> None:
        if len(graph) > self._max_rows:
            raise ResultTooLarge(
                f"The query's result has more than {self._max_rows} triples (KG_MAX_ROWS); "
                "add a LIMIT or narrow the pattern."
            )


def depends_on_base(text: str) -> bool:
    """True if ``text`` may have a relative IRI or a BASE: its parse depends on the request's base IRI.

    Errs on the side of True: every ``<...>`` shaped like an IRI reference without a scheme counts, even in
    a string or a comment, and so does the word ``base`` anywhere.
    """
    expanded = expandUnicodeEscapes(text)
    if _BASE_WORD.search(expanded):
        return True
    return any(_SCHEME.match(match.group(1)) is None for match in _IRIREF.finditer(expanded))


def bind_prefixes(graph: Graph, source: Graph) -> None:
    """Give a result graph the source's prefixes and the project's, for readable Turtle and JSON-LD."""
    _bind_prefixes(graph, source)


def _bind_prefixes(graph: Graph, source: Graph) -> None:
    """Give a result graph the source's prefixes and the project's, for readable Turtle and JSON-LD."""
    for prefix, namespace in source.namespaces():
        graph.bind(prefix, namespace, override=False)
    for prefix, project_namespace in PREFIXES.items():
        graph.bind(prefix, project_namespace, override=False)
