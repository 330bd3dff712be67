"""The oxigraph backend (``KG_BACKEND=oxigraph``): SPARQL evaluated by pyoxigraph over an on-disk store.

:class:`OxigraphEngine` answers in the query workers like :class:`~calcinosis_kg.server.evaluation.QueryEngine`
and gives the same answers: its results are converted to rdflib terms and written by the same writers
(:mod:`calcinosis_kg.server.results`), under the same time limit (the worker is killed) and row cap. When the
dataset has at most ``KG_OXIGRAPH_IN_MEMORY`` triples, the server loads the on-disk store into an in-memory
pyoxigraph store before it forks (:func:`~calcinosis_kg.server.oxigraph_store.copy_into_memory`), and every
worker queries that copy, shared through fork: RocksDB's reads made the canned queries about three times slower
(0.93 against 0.28 ms on average, measured on the built graph). Otherwise each worker opens the on-disk store
read-only after the fork (:meth:`OxigraphEngine.worker_started`). The on-disk store stays the one built copy,
reused across restarts.

Safety. pyoxigraph would evaluate ``SERVICE`` by sending the pattern over HTTP (checked: it does), and the
worker's audit hook cannot see Rust's sockets, so no text that could hold a SERVICE ever reaches it:

- a text containing ``\\u`` or ``\\U`` anywhere (SPARQL's code-point escapes, which both parsers expand in the
  whole text before parsing), or the letters ``service`` in any case outside whole-line comments, is answered
  by the rdflib engine, which parses it and refuses SERVICE on the algebra (403) or evaluates it;
- a text containing ``from`` or ``describe`` is parsed by rdflib first (cached): FROM/FROM NAMED must name
  graphs of the dataset (400 otherwise) and are handed to pyoxigraph as its ``default_graph`` and
  ``named_graphs`` arguments, which override the query's own; DESCRIBE is answered by the rdflib engine, so
  that its description is :mod:`calcinosis_kg.server.describe`'s;
- ``default-graph-uri``/``named-graph-uri`` are checked against the dataset's graphs and passed the same way.

pyoxigraph cannot be made to load anything else: ``Store.query`` refuses updates (so ``LOAD``), FROM never
fetches (an unknown graph is empty there), and no custom function is registered. The whole-line comment rule
keeps the ``#+`` headers of the canned queries from forcing the slow path; such a line is skipped only when it
holds no quote, so it cannot end a string. Whatever pyoxigraph cannot parse is parsed by rdflib for the error
message (and evaluated by rdflib if rdflib accepts it).

Same answers. Where the engines differ, rdflib answers (it is the reference): texts with ``REGEX`` or
``REPLACE`` (Python's and Rust's regular expressions differ, and rdflib refuses an invalid pattern where
pyoxigraph filters it out). For ``SELECT *`` the columns are put in rdflib's order (pyoxigraph sorts them).
Plain literals come back as rdflib plain literals, not ``xsd:string`` ones; typed literals are normalized by
rdflib as when it evaluates. ``GROUP_CONCAT`` is left to pyoxigraph: SPARQL leaves the order of the
concatenated values open, and each engine concatenates in the order its solutions reach the aggregate (both
keep the order of an ordered sub-query, which is how the canned queries make theirs the same everywhere);
pyoxigraph also gives the result the language tag its values share, where rdflib gives a simple literal.

Canned queries (a job with bindings) are parsed and checked by rdflib once per worker (see
:meth:`QueryEngine.prepare`) and planned on first use. Their
parameters are bound with pyoxigraph's own parameterization (``substitutions``, SEP-0007) when the query is an
ASK, a CONSTRUCT or a SELECT that projects every bound variable; otherwise, for a SELECT, with a ``VALUES``
block inserted after the opening brace of the outermost group pattern, whose position is found once in the
canned (trusted) text. The values in that block are validated rdflib terms written by their ``n3()``, and only
when their lexical form, language and datatype hold no backslash and no control character (so the only
backslashes are those escaping a quote): any other value, and any job whose text was not prepared, goes to the
rdflib engine with initial bindings. Canned texts go through the same screens as the others.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef, Variable
from rdflib.plugins.sparql.sparql import Prologue
from rdflib.term import Identifier, Node

from calcinosis_kg.ontology import PREFIXES
from calcinosis_kg.server.errors import EvaluationError, InternalQueryError, ResultTooLarge
from calcinosis_kg.server.evaluation import Answer, Job, QueryEngine, bind_prefixes
from calcinosis_kg.server.formats import Family, ResultFormat, choose_format
from calcinosis_kg.server.oxigraph_store import open_read_only, to_oxigraph
from calcinosis_kg.server.results import Row, json_results, json_term, write_boolean, write_graph, write_rows
from calcinosis_kg.server.safety import DatasetSpec, check_graphs, query_dataset

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_ESCAPE = re.compile(r"\\[uU]")
_COMMENT_LINE = re.compile("(?m)^[ \\t]*#[^'\"\\n\\r\\x0b\\x0c\\x1c-\\x1e\\x85\\u2028\\u2029]*\\r?$")
_SERVICE = re.compile("service", re.IGNORECASE)
_NEEDS_PARSE = re.compile("from|describe", re.IGNORECASE)
_RDFLIB_ONLY = re.compile("regex|replace", re.IGNORECASE)
_SELECT_ALL = re.compile(r"(?i)select\s+(?:distinct\s+|reduced\s+)?\*")
_SAFE_TERM = re.compile(r"[^\\\x00-\x1f\x7f]*")
_IRI = re.compile(r'[^<>"{}|^`\\\x00-\x20]*')
_T = TypeVar("_T")
_TOKEN = re.compile(
    r"""(?P<skip>\s+|\#[^\n\r]*|'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
       |'(?:[^'\\\n\r]|\\.)*'|"(?:[^"\\\n\r]|\\.)*"|<[^<>"{}|^`\\\x00-\x20]*>|[?$][^\s{}()]*)
      |(?P<word>[A-Za-z_][\w.:-]*)|(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)


def _default_prefixes() -> dict[str, str]:
    """The prefixes a query may use undeclared with the rdflib engine: rdflib's own, then the project's."""
    prefixes = {prefix: str(namespace) for prefix, namespace in Prologue().namespace_manager.namespaces()}
    prefixes.update((prefix, str(namespace)) for prefix, namespace in PREFIXES.items())
    return prefixes


_PREFIXES = _default_prefixes()


class _RdflibInstead(Exception):
    """The job is answered by the rdflib engine (a value or a text the fast path does not take)."""


@dataclass(frozen=True)
class _Canned:
    """How to bind the parameters of one prepared canned query with pyoxigraph."""

    projected: frozenset[str] | None
    """A SELECT's projected variables (bindings of these only: ``substitutions``), None for other forms."""
    values_at: int | None
    """Offset just after the ``{`` of a SELECT's outermost group, for a VALUES block (None: use rdflib)."""
    dataset: DatasetSpec | None
    order: list[Variable] | None
    """rdflib's order of a SELECT's columns (pyoxigraph orders those of ``SELECT *`` its own way)."""
    rdflib_only: bool
    """True for DESCRIBE and for texts the screens send to rdflib (REGEX, REPLACE, escapes...)."""


@dataclass(frozen=True)
class _ServedDataset(DatasetSpec):
    """The served dataset itself (default graph, or the union of all graphs, and every named graph)."""

    union: bool = False


class OxigraphEngine:
    """Evaluates queries with pyoxigraph over the store at ``store_path``; ``rdflib`` answers what it cannot."""

    def __init__(
        self,
        store_path: Path,
        rdflib_engine: QueryEngine,
        *,
        max_rows: int,
        union_default_graph: bool,
        in_memory: ox.Store | None = None,
    ) -> None:
        self._path = store_path
        self._in_memory = in_memory
        self._rdflib = rdflib_engine
        self._max_rows = max_rows
        self._union = union_default_graph
        self._named = rdflib_engine.named_graphs
        self._store: ox.Store | None = None
        self._canned: dict[str, _Canned] = {}

    def warm_up(self) -> None:
        """Warm the rdflib engine (it answers DESCRIBE and the rest); the store is opened by each worker."""
        self._rdflib.warm_up()

    def prepare(self, texts: Iterable[str]) -> None:
        """Register the canned queries with the rdflib engine, which parses and checks them (see its prepare)."""
        self._rdflib.prepare(texts)

    def _plan(self, text: str) -> _Canned | None:
        """How to bind the parameters of a canned query (planned on its first use), or None for rdflib."""
        plan = self._canned.get(text)
        if plan is not None:
            return plan
        query = self._rdflib.prepared(text)
        if query is None:  # not a canned text, refused, or depends on the base IRI: the rdflib engine answers it
            return None
        form = str(query.algebra.name)
        select = form == "SelectQuery"
        plan = self._canned[text] = _Canned(
            projected=frozenset(str(var) for var in query.algebra.PV) if select else None,
            values_at=_group_start(text) if select else None,
            dataset=query_dataset(query),
            order=list(query.algebra.PV) if select else None,
            rdflib_only=form == "DescribeQuery" or not _fast_path_text(text),
        )
        return plan

    def worker_started(self) -> None:
        """Query the in-memory copy, or open the on-disk store read-only in this freshly forked worker."""
        self._store = self._in_memory if self._in_memory is not None else open_read_only(self._path)

    def execute(self, job: Job) -> Answer:
        """Answer ``job`` with pyoxigraph, or with the rdflib engine where the module docstring says so."""
        try:
            return self._execute(job)
        except _RdflibInstead:
            return self._rdflib.execute(job)

    # --- choosing the way ----------------------------------------------------------------------------------

    def _execute(self, job: Job) -> Answer:
        text = job.query
        if job.bindings:
            return self._execute_canned(job)
        if not _fast_path_text(text):
            raise _RdflibInstead
        code = _COMMENT_LINE.sub("", text)
        spec = job.dataset
        order: list[Variable] | None = None
        if _NEEDS_PARSE.search(code) or _SELECT_ALL.search(code):
            query = self._rdflib.checked(text, job.base)
            if str(query.algebra.name) == "DescribeQuery":
                raise _RdflibInstead
            if spec is None and (spec := query_dataset(query)) is not None:
                check_graphs(spec, self._named, "The query's FROM/FROM NAMED")
            elif spec is None:  # rdflib saw no FROM: pyoxigraph must not see one either (lone CRs end comments)
                spec = self._served_dataset()
            if str(query.algebra.name) == "SelectQuery":
                order = list(query.algebra.PV)
        return self._evaluate(job, text, spec, {}, order)

    def _served_dataset(self) -> _ServedDataset:
        """The served dataset spelt out: what pyoxigraph uses when no FROM is given."""
        return _ServedDataset(default=(), named=tuple(sorted(self._named)), union=self._union)

    def _execute_canned(self, job: Job) -> Answer:
        plan = self._plan(job.query)
        if plan is None or plan.rdflib_only:
            raise _RdflibInstead
        spec = job.dataset
        if spec is None and plan.dataset is not None:
            check_graphs(plan.dataset, self._named, "The query's FROM/FROM NAMED")
            spec = plan.dataset
        bindings = dict(job.bindings)
        if plan.projected is None or set(bindings) <= plan.projected:
            substitutions = {ox.Variable(name): _term(term) for name, term in bindings.items()}
            return self._evaluate(job, job.query, spec, substitutions, plan.order)
        if plan.values_at is None:
            raise _RdflibInstead
        names = sorted(bindings)
        row = " ".join(_n3(bindings[name]) for name in names)
        block = f" VALUES ({' '.join('?' + name for name in names)}) {{ ({row}) }} "
        text = job.query[: plan.values_at] + block + job.query[plan.values_at :]
        return self._evaluate(job, text, spec, {}, plan.order)

    # --- evaluating and writing -----------------------------------------------------------------------------

    def _evaluate(
        self,
        job: Job,
        text: str,
        spec: DatasetSpec | None,
        substitutions: dict[ox.Variable, Any],
        order: list[Variable] | None,
    ) -> Answer:
        """Run ``text`` on the store and write its result; ``order``: rdflib's column order for SELECT."""
        store = self._store
        if store is None:  # only a query worker opens it (worker_started): never a process that forks
            raise InternalQueryError("The query worker has no open store.")
        options: dict[str, Any] = {"base_iri": job.base, "prefixes": _PREFIXES}
        if isinstance(spec, _ServedDataset):
            named = [ox.NamedNode(str(name)) for name in spec.named]
            default: list[ox.NamedNode | ox.DefaultGraph] = [ox.DefaultGraph()]
            options["default_graph"] = default + named if spec.union else default
            options["named_graphs"] = named
        elif spec is not None:
            options["default_graph"] = [ox.NamedNode(str(name)) for name in spec.default]
            options["named_graphs"] = [ox.NamedNode(str(name)) for name in spec.named]
        elif self._union:
            options["use_default_graph_as_union"] = True
        if substitutions:
            options["substitutions"] = substitutions
        try:
            result = store.query(text, **options)
        except SyntaxError:
            self._rdflib.checked(job.query, job.base)  # raises rdflib's message for the same error
            raise _RdflibInstead from None
        except UnicodeEncodeError:
            raise _RdflibInstead from None
        except (RuntimeError, ValueError) as error:
            raise EvaluationError(f"The query failed during evaluation: {error}") from error
        family = Family.GRAPH if isinstance(result, ox.QueryTriples) else Family.RESULTS
        fmt = choose_format(job.accept, job.formats, family)
        if job.dataset is not None:
            check_graphs(job.dataset, self._named, "The request's default-graph-uri/named-graph-uri")
        try:
            if isinstance(result, ox.QueryBoolean):
                return Answer(write_boolean(fmt, bool(result)), fmt.content_type)
            if isinstance(result, ox.QuerySolutions):
                return self._select(result, fmt, order)
            return self._construct(result, fmt)
        except (RuntimeError, ValueError) as error:
            raise EvaluationError(f"The query failed during evaluation: {error}") from error
        except OSError as error:
            raise InternalQueryError(f"The store could not be read: {error}") from error

    def _select(self, solutions: ox.QuerySolutions, fmt: ResultFormat, order: list[Variable] | None) -> Answer:
        variables = [Variable(variable.value) for variable in solutions.variables]
        columns = variables if order is None or set(order) != set(variables) else order
        if fmt.key == "json":  # written straight from pyoxigraph's terms (the answers' most common format)
            names = [str(var) for var in variables]
            encode = _Memoized(_json_binding)
            bindings = [
                {name: encode(value) for name, value in zip(names, solution, strict=True) if value is not None}
                for solution in self._capped(solutions)
            ]
            return Answer(json_results([str(var) for var in columns], bindings).encode("utf-8"), fmt.content_type)
        convert = _Memoized(_rdflib_term)
        rows: list[Row] = [
            {var: convert(value) for var, value in zip(variables, solution, strict=True) if value is not None}
            for solution in self._capped(solutions)
        ]
        return Answer(write_rows(fmt, columns, rows), fmt.content_type)

    def _capped(self, solutions: ox.QuerySolutions) -> list[ox.QuerySolution]:
        """The solutions, or :class:`ResultTooLarge` if there are more than the row cap."""
        taken = list(itertools.islice(solutions, self._max_rows + 1))
        if len(taken) > self._max_rows:
            raise ResultTooLarge(
                f"The query has more than {self._max_rows} result rows (KG_MAX_ROWS). "
                f"Add LIMIT {self._max_rows} or less, and use OFFSET to page through the rest."
            )
        return taken

    def _construct(self, triples: Iterator[ox.Triple], fmt: ResultFormat) -> Answer:
        graph = Graph()
        convert = _Memoized(_rdflib_term)
        for added, triple in enumerate(triples, 1):
            graph.add((convert(triple.subject), convert(triple.predicate), convert(triple.object)))
            if added > self._max_rows and len(graph) > self._max_rows:
                raise ResultTooLarge(
                    f"The query's result has more than {self._max_rows} triples (KG_MAX_ROWS); "
                    "add a LIMIT or narrow the pattern."
                )
        bind_prefixes(graph, self._rdflib.dataset)
        return Answer(write_graph(fmt, graph), fmt.content_type)


def _fast_path_text(text: str) -> bool:
    """False if ``text`` must go to rdflib: a code-point escape anywhere, ``service``, ``REGEX`` or ``REPLACE``."""
    if _ESCAPE.search(text):
        return False
    code = _COMMENT_LINE.sub("", text)
    return _SERVICE.search(code) is None and _RDFLIB_ONLY.search(code) is None


class _Memoized(Generic[_T]):
    """A conversion of pyoxigraph terms, memoized for one result (IRIs and labels repeat a lot)."""

    def __init__(self, convert: Callable[[object], _T]) -> None:
        self._convert = convert
        self._memo: dict[object, _T] = {}

    def __call__(self, term: object) -> _T:
        converted = self._memo.get(term)
        if converted is None:
            converted = self._memo[term] = self._convert(term)
        return converted


def _json_binding(term: object) -> dict[str, str]:
    """A pyoxigraph term as a SPARQL JSON binding, as :func:`json_term` writes the rdflib term ``_rdflib_term`` gives.

    IRIs, strings and language-tagged strings are written as they are; other terms go through rdflib's term, so
    that typed literals' lexical forms are normalized as when rdflib evaluates.
    """
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.Literal):
        if term.language:
            return {"type": "literal", "value": term.value, "xml:lang": term.language}
        if term.datatype.value == _XSD_STRING:
            return {"type": "literal", "value": term.value}
    return json_term(_rdflib_term(term))


def _rdflib_term(term: object) -> Identifier:
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        return Literal(term.value) if datatype == _XSD_STRING else Literal(term.value, datatype=URIRef(datatype))
    raise EvaluationError("The result holds an RDF-star quoted triple, which the result formats cannot write.")


def _term(term: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """``term`` as a pyoxigraph term, or _RdflibInstead for a term pyoxigraph cannot take."""
    try:
        return to_oxigraph(term)
    except TypeError:
        raise _RdflibInstead from None


def _n3(term: Node) -> str:
    """``term`` as SPARQL text for a VALUES block, or _RdflibInstead.

    Only IRIs (without any character an IRI reference may not hold) and literals whose lexical form, language
    and datatype hold no backslash and no control character: their ``n3()`` then has no backslash but those
    of ``\\"``, so neither a string escape nor a code-point escape (``\\u``) can come out of a value.
    """
    if isinstance(term, URIRef) and _IRI.fullmatch(str(term)):
        return f"<{term}>"
    if isinstance(term, Literal) and all(
        _SAFE_TERM.fullmatch(part) for part in (str(term), term.language or "", str(term.datatype or ""))
    ):
        return term.n3()
    raise _RdflibInstead


def _group_start(text: str) -> int | None:
    """Offset just after the ``{`` opening the outermost group pattern of a SELECT, or None if unsure.

    The group is the first ``{`` outside parentheses (the projection may hold ``EXISTS { }``); comments,
    strings, IRIs and variables are skipped as tokens.
    """
    depth = 0
    for match in _TOKEN.finditer(text):
        if match.lastgroup in ("skip", "word"):
            continue
        lexeme = match.group()
        if lexeme in "({":
            if depth == 0 and lexeme == "{":
                return match.end()
            depth += 1
        elif lexeme in ")}":
            depth -= 1
            if depth < 0:
                return None
    return None
