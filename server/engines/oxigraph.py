"""The Oxigraph engine: every query evaluated by pyoxigraph over the store, written from its terms.

The store is loaded by the server process before it forks its query workers
(:mod:`calcinosis_kg.server.resources.data`, or a small serving bundle's quads: ``KG_STORE_IN_MEMORY``), or is a
serving bundle's store on disk opened read-only (:mod:`calcinosis_kg.server.resources.bundle`), and is shared with
them through fork (a read-only RocksDB store schedules no background work, so its idle threads, which the children
do not have, are never needed there); each worker answers :class:`~.contract.Job`\\ s with
:meth:`OxigraphEngine.execute`:

1. the text is screened and read by the lexer (:mod:`calcinosis_kg.server.sparql.lexer`): size, nesting depth
   and token count against :class:`~calcinosis_kg.server.sparql.lexer.Limits` (deeper or longer texts crash
   pyoxigraph's recursive parser); updates refused (403), ``SERVICE`` refused (403), ``FROM``/``FROM NAMED``
   and ``default-graph-uri``/``named-graph-uri`` naming a graph the store does not hold refused (400);
2. pyoxigraph parses and evaluates the original text (it expands the code-point escapes itself, as the
   lexer did); its syntax errors come back as 400 with its message and position;
3. the answer is written from pyoxigraph's terms (:mod:`calcinosis_kg.server.sparql.results`), with at most
   ``max_rows`` rows or triples.

``DESCRIBE`` is evaluated as the ``SELECT`` of its targets (the lexer rewrites the query form, the rest of the
text is kept), and each target is described by :mod:`calcinosis_kg.server.sparql.describe`.

A canned query's parameters (:attr:`~.contract.Job.bindings`) are bound with pyoxigraph's substitutions
(SEP-0007) when the query projects every bound variable (or is an ASK or CONSTRUCT); otherwise with a
``VALUES`` block placed at the start of the outermost group, holding the values written by Oxigraph
(N-Triples syntax). Canned texts are the project's own; a job whose text has escapes gets no ``VALUES`` block.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import pyoxigraph as ox

from calcinosis_kg.server.engines.common import (
    QUERY_PREFIXES,
    WRITTEN_PREFIXES,
    check_dataset,
    outer_group_start,
    oxigraph_term,
    projected,
    screen,
    select_of_describe,
    substitutions,
    syntax_message,
)
from calcinosis_kg.server.engines.contract import Answer, Job
from calcinosis_kg.server.errors import (
    EvaluationError,
    InternalQueryError,
    MalformedQuery,
    ResultTooLarge,
)
from calcinosis_kg.server.http.formats import Family, ResultFormat, choose_format
from calcinosis_kg.server.sparql.describe import GraphView, describe
from calcinosis_kg.server.sparql.lexer import Analysis, Limits, needs_analysis
from calcinosis_kg.server.sparql.results import Row, write_boolean, write_rows, write_triples


class OxigraphEngine:
    """Evaluates queries with pyoxigraph over ``store``, refusing what is unsafe and what is too large."""

    def __init__(
        self, store: ox.Store, *, max_rows: int, union_default_graph: bool, limits: Limits | None = None
    ) -> None:
        self._store = store
        self._max_rows = max_rows
        self._union = union_default_graph
        self._limits = limits or Limits()
        self._view = GraphView(store, union=union_default_graph)
        self._named = frozenset(name.value for name in store.named_graphs() if isinstance(name, ox.NamedNode))

    @property
    def named_graphs(self) -> frozenset[str]:
        """IRIs of the store's named graphs (what FROM NAMED and named-graph-uri may name)."""
        return self._named

    def warm_up(self) -> None:
        """Run one query of each form before workers are forked (imports, writers, the store's first read)."""
        for text in ("ASK { FILTER(REGEX(STR(NOW()), '.')) }", "SELECT * { ?s ?p ?o } LIMIT 1"):
            self.execute(Job(query=text, base="http://localhost/sparql"))

    def worker_started(self) -> None:
        """Nothing to open: the store (in memory, or a bundle's opened read-only) is inherited through the fork."""

    def execute(self, job: Job) -> Answer:
        """Answer ``job``; raises an :class:`~calcinosis_kg.server.errors.EndpointError` to refuse it."""
        analysis = self._screen(job) if job.bindings or needs_analysis(job.query, self._limits) else None
        if analysis is None:
            self._check_dataset(job, None)
        options = self._options(job, analysis)
        text = job.query
        if analysis is not None and analysis.form == "describe":
            return self._describe(job, analysis, options)
        if job.bindings and analysis is not None:
            text = self._bind(job, analysis, options)
        result = self._query(text, options, job if analysis is None else analysis)
        if isinstance(result, ox.QueryBoolean):
            fmt = choose_format(job.accept, job.formats, Family.RESULTS)
            return Answer(write_boolean(fmt, bool(result)), fmt.content_type)
        if isinstance(result, ox.QuerySolutions):
            fmt = choose_format(job.accept, job.formats, Family.RESULTS)
            return self._select(result, fmt)
        fmt = choose_format(job.accept, job.formats, Family.GRAPH)
        return self._graph(self._capped_triples(result), fmt)

    # --- before the engine -----------------------------------------------------------------------------------

    def _screen(self, job: Job) -> Analysis:
        """Read the text with the lexer and refuse what must not reach the engine (:func:`.common.screen`)."""
        return screen(job, self._limits, self._named)

    def _check_dataset(self, job: Job, analysis: Analysis | None) -> None:
        check_dataset(job, analysis, self._named)

    def _options(self, job: Job, analysis: Analysis | None) -> dict[str, Any]:
        options: dict[str, Any] = {"base_iri": job.base}
        if job.dataset is not None:
            options["default_graph"] = [ox.NamedNode(str(name)) for name in job.dataset.default]
            options["named_graphs"] = [ox.NamedNode(str(name)) for name in job.dataset.named]
        elif self._union and not (analysis is not None and (analysis.from_default or analysis.from_named)):
            options["use_default_graph_as_union"] = True
        return options

    # --- evaluation ------------------------------------------------------------------------------------------

    def _query(self, text: str, options: Mapping[str, Any], screened: Analysis | Job | None = None) -> Any:
        """Evaluate ``text``; first without the predeclared prefixes, which cost a parse of each.

        A text that parses without them declares every prefix it uses, and its own declarations win anyway, so
        it means the same with them. On a syntax error the text is parsed again with them; when it was not
        analyzed yet (``screened`` is its job), the lexer reads it first, so that an update is refused as
        such (403) rather than as a syntax error.
        """
        try:
            return self._store.query(text, **options)
        except SyntaxError:
            pass
        except OSError as error:
            raise InternalQueryError(f"The store could not be read: {error}") from error
        except (RuntimeError, ValueError) as error:
            raise EvaluationError(f"The query failed during evaluation: {error}") from error
        analysis = self._screen(screened) if isinstance(screened, Job) else screened
        try:
            return self._store.query(text, prefixes=QUERY_PREFIXES, **options)
        except SyntaxError as error:
            raise MalformedQuery(syntax_message(str(error), text, analysis)) from None
        except OSError as error:
            raise InternalQueryError(f"The store could not be read: {error}") from error
        except (RuntimeError, ValueError) as error:
            raise EvaluationError(f"The query failed during evaluation: {error}") from error

    def _select(self, solutions: ox.QuerySolutions, fmt: ResultFormat) -> Answer:
        variables = [variable.value for variable in solutions.variables]
        try:
            taken = list(itertools.islice(solutions, self._max_rows + 1))
            rows: list[Row] = [tuple(solution) for solution in taken]
        except (RuntimeError, ValueError) as error:
            raise EvaluationError(f"The query failed during evaluation: {error}") from error
        if len(rows) > self._max_rows:
            raise ResultTooLarge(
                f"The query has more than {self._max_rows} result rows (KG_MAX_ROWS). "
                f"Add LIMIT {self._max_rows} or less, and use OFFSET to page through the rest."
            )
        return Answer(write_rows(fmt, variables, rows), fmt.content_type)

    def _capped_triples(self, triples: ox.QueryTriples) -> list[ox.Triple]:
        found: dict[ox.Triple, None] = {}
        try:
            for triple in triples:
                found[triple] = None
                if len(found) > self._max_rows:
                    raise ResultTooLarge(
                        f"The query's result has more than {self._max_rows} triples (KG_MAX_ROWS); "
                        "add a LIMIT or narrow the pattern."
                    )
        except (RuntimeError, ValueError) as error:
            raise EvaluationError(f"The query failed during evaluation: {error}") from error
        return list(found)

    @staticmethod
    def _graph(triples: list[ox.Triple], fmt: ResultFormat) -> Answer:
        return Answer(write_triples(fmt, triples, WRITTEN_PREFIXES), fmt.content_type)

    def _describe(self, job: Job, analysis: Analysis, options: dict[str, Any]) -> Answer:
        """DESCRIBE: targets selected by pyoxigraph, each described (:mod:`~calcinosis_kg.server.sparql.describe`)."""
        if job.bindings:
            options = {**options, "substitutions": substitutions(job.bindings)}
        result = self._query(select_of_describe(job.query, analysis), options)
        assert isinstance(result, ox.QuerySolutions)
        targets = [term for solution in result for term in solution if term is not None]
        fmt = choose_format(job.accept, job.formats, Family.GRAPH)
        return self._graph(describe(self._view, targets, self._max_rows), fmt)

    def _bind(self, job: Job, analysis: Analysis, options: dict[str, Any]) -> str:
        """Bind a canned query's parameters: substitutions, or a VALUES block (see the module docstring)."""
        names = [name for name, _ in job.bindings]
        shown = projected(analysis)
        if analysis.form != "select" or (shown is not None and set(names) <= shown):
            options["substitutions"] = substitutions(job.bindings)
            return job.query
        start = outer_group_start(analysis)
        if start is None or analysis.text != job.query:
            raise EvaluationError("This query's parameters cannot be bound: it has no outer group pattern.")
        row = " ".join(str(oxigraph_term(term)) for _, term in job.bindings)
        block = f" VALUES ({' '.join('?' + name for name in names)}) {{ ({row}) }} "
        return job.query[:start] + block + job.query[start:]
