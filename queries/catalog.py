"""Canned queries: one SPARQL query per ``.rq`` file, described by a ``#+`` YAML header.

A header (grlc style, still valid SPARQL because every line is a comment) looks like::

    #+ summary: Causes of a calcinosis cutis subtype
    #+ description: Lists every cause the sources give for the subtype, with the sources.
    #+ params:
    #+   - name: subtype
    #+     type: iri
    #+     description: the subtype
    #+     default: https://w3id.org/calcinosis-kg/id/metastatic-calcinosis-cutis

Each declared parameter names a variable of the query (``?subtype``). Values are validated against the
declared type (``iri``, ``curie``, ``string``, ``integer``, ``code``) and *bound* into the prepared query as
initial bindings: they are never pasted into the query text.

Loading the catalog reads the headers and finds each query's form (SELECT, ASK, CONSTRUCT, DESCRIBE) from its
text; rdflib parses a query when :attr:`CannedQuery.prepared` is first used (about 25 ms each, most of a
second for the catalog, which the server's start-up does not pay). ``tests/test_competency_queries.py``
parses every query and checks its form.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, get_args

import yaml
from rdflib import Graph, Literal, URIRef
from rdflib.term import Identifier

from calcinosis_kg.errors import CodeSyntaxError, QueryError, UnknownQuery
from calcinosis_kg.ontology import PREFIXES

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it (reading the 33 headers took 0.1 s of the server's start-up)."""

if TYPE_CHECKING:
    from rdflib.plugins.sparql.sparql import Query
    from rdflib.query import Result

QUERIES_DIR = Path(__file__).resolve().parent
ParamType = typing.Literal["iri", "curie", "string", "integer", "code"]
PARAM_TYPES = frozenset(get_args(ParamType))
QueryForm = typing.Literal["SELECT", "ASK", "CONSTRUCT", "DESCRIBE"]
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
ABSOLUTE_IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s\x00-\x20\x7f-\x9f<>\"{}|\\^`]+$")
"""An absolute IRI: a scheme, a colon, then no whitespace, control character, <, >, ", {, }, |, \\, ^ or `."""
_MAX_VALUE = 500
"""Longest accepted parameter value, in characters (surrounding whitespace excluded)."""
_COMMENT_OR_IRI = re.compile(r"(?m)#.*$|<[^<>\s]*>")
_QUERY_FORM = re.compile(rf"(?i)\b({'|'.join(get_args(QueryForm))})\b")


@dataclass(frozen=True)
class Parameter:
    """A declared, typed query parameter bound to the query variable of the same name."""

    name: str
    type: ParamType
    description: str
    default: str | None = None
    required: bool = False

    def bind(self, raw: str) -> Identifier:
        """Convert a raw request value to an RDF term, or raise QueryError naming the parameter and the problem.

        ``integer`` gives an ``xsd:integer`` literal; ``iri`` the IRI itself; ``curie`` the IRI it expands to
        with the project's prefixes; ``code`` the IRI the graph uses for the code, from
        :func:`calcinosis_kg.graph.lookup.parse_code` (so ``SCTID:6595006``, ``6595006`` and
        ``http://snomed.info/id/6595006`` bind the same term); ``string`` a plain literal. Surrounding
        whitespace is ignored; values over 500 characters are refused. A value is only ever a term bound
        to a variable: text that looks like SPARQL is refused by the syntax of the first four types and is
        a literal like any other for ``string``.
        """
        value = raw.strip()
        if len(value) > _MAX_VALUE:
            raise QueryError(f"parameter {self.name!r} is longer than {_MAX_VALUE} characters")
        if self.type == "integer":
            if not re.fullmatch(r"[+-]?\d{1,18}", value):
                raise QueryError(f"parameter {self.name!r} must be an integer, got {raw!r}")
            return Literal(int(value))
        if self.type == "iri":
            if not ABSOLUTE_IRI.fullmatch(value):
                raise QueryError(
                    f"parameter {self.name!r} must be an absolute IRI (scheme:rest, without spaces, control "
                    f'characters or <>"{{}}|\\^`), got {raw!r}'
                )
            return URIRef(value)
        if self.type == "curie":
            prefix, sep, local = value.partition(":")
            if not sep or prefix not in PREFIXES or not re.fullmatch(r"[A-Za-z0-9_.-]+", local):
                known = ", ".join(sorted(PREFIXES))
                raise QueryError(f"parameter {self.name!r} must be a CURIE with a known prefix ({known}), got {raw!r}")
            return URIRef(PREFIXES[prefix][local])
        if self.type == "code":
            return _code_iri(self.name, value)
        return Literal(value)


def _code_iri(name: str, value: str) -> URIRef:
    """The graph's IRI for the code ``value`` of parameter ``name``; QueryError (with the reason) if not a code."""
    # Imported here: only code parameters need it (it reads the code-systems table).
    from calcinosis_kg.graph.lookup import parse_code

    try:
        return parse_code(value)[1]
    except CodeSyntaxError as error:
        raise QueryError(
            f"parameter {name!r} must be a code such as SCTID:6595006 or ICD10CM:L94.2; {error}"
        ) from error


@dataclass(frozen=True)
class CannedQuery:
    """A ``.rq`` file: metadata, parameters, the query's form and (parsed on first use) the prepared query."""

    name: str
    summary: str
    description: str
    sparql: str
    query_type: QueryForm
    """``SELECT``, ``ASK``, ``CONSTRUCT`` or ``DESCRIBE``."""
    params: tuple[Parameter, ...] = ()
    tags: tuple[str, ...] = ()

    @cached_property
    def prepared(self) -> Query:
        """The query parsed and translated by rdflib (parsed on first use; QueryError if it does not parse).

        rdflib's SPARQL parser is imported here, not with the module: the server reads the catalog's metadata
        only (its engine is Oxigraph), and importing the parser cost its start-up about 0.2 s.
        """
        from pyparsing import ParseException
        from rdflib.plugins.sparql import prepareQuery

        try:
            return prepareQuery(self.sparql)
        except ParseException as exc:
            raise QueryError(f"{self.name}.rq: not valid SPARQL: {exc}") from exc

    def bindings(self, values: Mapping[str, str]) -> dict[str, Identifier]:
        """Validate request values against the declared parameters and return initial bindings."""
        declared = {p.name: p for p in self.params}
        unknown = sorted(set(values) - set(declared))
        if unknown:
            takes = sorted(declared) or "none"
            raise QueryError(f"query {self.name!r} has no parameter(s) {unknown}; it takes {takes}")
        bound: dict[str, Identifier] = {}
        for param in self.params:
            raw = values.get(param.name, param.default)
            if raw is None or raw == "":
                if param.required:
                    raise QueryError(f"query {self.name!r} needs parameter {param.name!r} ({param.description})")
                continue
            bound[param.name] = param.bind(raw)
        return bound

    def run(self, graph: Graph, values: Mapping[str, str] | None = None) -> Result:
        """Evaluate on ``graph`` with validated parameter values bound as initial bindings."""
        return graph.query(self.prepared, initBindings=self.bindings(values or {}))


def _header(text: str, path: Path) -> dict[str, Any]:
    lines = [line[2:].removeprefix(" ") for line in text.splitlines() if line.startswith("#+")]
    if not lines:
        raise QueryError(f"{path.name}: no '#+' metadata header")
    try:
        meta = yaml.load("\n".join(lines), Loader=_YAML_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise QueryError(f"{path.name}: the '#+' header is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict) or not meta.get("summary"):
        raise QueryError(f"{path.name}: the header needs at least 'summary'")
    return meta


def load_query(path: Path) -> CannedQuery:
    """Read one ``.rq`` file (its header, parameters and form); raise QueryError naming the file on any problem."""
    text = path.read_text(encoding="utf-8")
    meta = _header(text, path)
    params = []
    for spec in meta.get("params") or []:
        valid = isinstance(spec, dict) and spec.get("type") in PARAM_TYPES and _NAME.match(str(spec.get("name")))
        if not valid:
            raise QueryError(f"{path.name}: bad parameter {spec!r}; need name and type in {sorted(PARAM_TYPES)}")
        params.append(
            Parameter(
                name=spec["name"],
                type=spec["type"],
                description=str(spec.get("description", "")),
                default=None if spec.get("default") is None else str(spec["default"]),
                required=bool(spec.get("required", False)),
            )
        )
    form = _QUERY_FORM.search(_COMMENT_OR_IRI.sub(" ", text))
    if form is None:
        raise QueryError(f"{path.name}: no SELECT, ASK, CONSTRUCT or DESCRIBE found")
    for param in params:
        if f"?{param.name}" not in text and f"${param.name}" not in text:
            raise QueryError(f"{path.name}: parameter {param.name!r} is not a variable of the query")
    return CannedQuery(
        name=path.stem,
        summary=str(meta["summary"]).strip(),
        description=str(meta.get("description", "")).strip(),
        sparql=text,
        query_type=cast(QueryForm, form.group(1).upper()),
        params=tuple(params),
        tags=tuple(str(t) for t in meta.get("tags") or ()),
    )


def load_catalog(directory: Path = QUERIES_DIR) -> dict[str, CannedQuery]:
    """Every canned query in ``directory`` by name."""
    return {q.name: q for q in (load_query(p) for p in sorted(directory.glob("*.rq")))}


def get_query(name: str, catalog: Mapping[str, CannedQuery]) -> CannedQuery:
    """Look a canned query up by name; raise UnknownQuery listing the known names."""
    if name not in catalog:
        raise UnknownQuery(f"no canned query named {name!r}; known: {', '.join(sorted(catalog))}")
    return catalog[name]
