"""Answering one query over the served dataset: parse, check, evaluate, write the result.

:class:`QueryEngine` runs inside the query worker processes (see :mod:`calcinosis_kg.server.pool`), so
everything expensive, parsing included, is under the time limit. It evaluates with rdflib but builds the
query's dataset itself: rdflib is never given FROM clauses (it would fetch unknown graphs) and its global
"default graph is the union of all graphs" switch is bypassed, so the default graph is the dataset's own
default graph unless the dataset was loaded with ``union_default_graph``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from rdflib import Dataset, Graph, URIRef, Variable
from rdflib.plugins.sparql.evaluate import evalPart
from rdflib.plugins.sparql.sparql import Query, QueryContext, SPARQLError

from calcinosis_kg.ontology import PREFIXES
from calcinosis_kg.server.data import named_graph_names
from calcinosis_kg.server.describe import describe
from calcinosis_kg.server.errors import EvaluationError, ResultTooLarge
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


@dataclass(frozen=True)
class Answer:
    """A written query result."""

    body: bytes
    content_type: str


class QueryEngine:
    """Evaluates queries over one loaded dataset, refusing what is unsafe and what is too large."""

    def __init__(self, dataset: Dataset, *, max_rows: int) -> None:
        self._dataset = dataset
        self._max_rows = max_rows
        self._named = named_graph_names(dataset)

    def execute(self, job: Job) -> Answer:
        """Answer ``job``; raises an :class:`~calcinosis_kg.server.errors.EndpointError` to refuse it."""
        query = parse_query(job.query, base=job.base, prefixes=PREFIXES)
        refuse_service(query)
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
            return self._evaluate(query, dataset, fmt)
        except (SPARQLError, re.error) as error:
            raise EvaluationError(f"The query failed during evaluation: {error}") from error
        except UnicodeEncodeError as error:
            raise EvaluationError(
                "The result holds text that is not valid Unicode (a lone surrogate such as \\uD800)."
            ) from error

    def _evaluate(self, query: Query, dataset: Dataset, fmt: ResultFormat) -> Answer:
        # The same context rdflib's evalQuery builds, minus FROM handling and with our default graph.
        default_graph = dataset if dataset.default_union else dataset.default_graph
        context = QueryContext(dataset, initBindings={})
        context.graph = default_graph
        context.prologue = query.prologue
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


def _bind_prefixes(graph: Graph, source: Graph) -> None:
    """Give a result graph the source's prefixes and the project's, for readable Turtle and JSON-LD."""
    for prefix, namespace in source.namespaces():
        graph.bind(prefix, namespace, override=False)
    for prefix, project_namespace in PREFIXES.items():
        graph.bind(prefix, project_namespace, override=False)
