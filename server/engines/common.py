"""What both query engines share: the screening of a query before any engine sees it, and the query rewrites.

One definition for the embedded engine (:mod:`.oxigraph`) and the remote-store engine (:mod:`.sparql`):

- :func:`screen` reads the text with the lexer and refuses what must not reach an engine: size, nesting depth
  and token count over :class:`~calcinosis_kg.server.sparql.lexer.Limits` (400), updates (403), ``SERVICE``
  (403), and graphs the dataset does not hold in ``FROM``/``FROM NAMED`` or in the request's
  ``default-graph-uri``/``named-graph-uri`` (400) (:func:`check_dataset`);
- :func:`syntax_message` turns Oxigraph's syntax errors into the client's message;
- :func:`select_of_describe` rewrites a DESCRIBE into the SELECT of its targets;
- :func:`projected`, :func:`outer_group_start`, :func:`substitutions` and :func:`oxigraph_term` bind a canned
  query's parameters.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import pyoxigraph as ox
from rdflib.term import Identifier

from calcinosis_kg.ontology import PREFIXES
from calcinosis_kg.server.engines.contract import Job, check_graphs
from calcinosis_kg.server.errors import (
    READ_ONLY_MESSAGE,
    EvaluationError,
    MalformedQuery,
    QueryTooComplex,
    ReadOnly,
    ServiceRefused,
)
from calcinosis_kg.server.resources.data import from_rdflib
from calcinosis_kg.server.sparql.lexer import (
    Analysis,
    LexError,
    LimitExceeded,
    Limits,
    Token,
    TokenKind,
    analyze,
    term_iri,
)

RDFLIB_PREFIXES = {
    "brick": "https://brickschema.org/schema/Brick#",
    "csvw": "http://www.w3.org/ns/csvw#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcam": "http://purl.org/dc/dcam/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dcmitype": "http://purl.org/dc/dcmitype/",
    "dcterms": "http://purl.org/dc/terms/",
    "doap": "http://usefulinc.com/ns/doap#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "geo": "http://www.opengis.net/ont/geosparql#",
    "odrl": "http://www.w3.org/ns/odrl/2/",
    "org": "http://www.w3.org/ns/org#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "prof": "http://www.w3.org/ns/dx/prof/",
    "prov": "http://www.w3.org/ns/prov#",
    "qb": "http://purl.org/linked-data/cube#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "schema": "https://schema.org/",
    "sh": "http://www.w3.org/ns/shacl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "sosa": "http://www.w3.org/ns/sosa/",
    "ssn": "http://www.w3.org/ns/ssn/",
    "time": "http://www.w3.org/2006/time#",
    "vann": "http://purl.org/vocab/vann/",
    "void": "http://rdfs.org/ns/void#",
    "wgs": "https://www.w3.org/2003/01/geo/wgs84_pos#",
    "xml": "http://www.w3.org/XML/1998/namespace",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
"""The prefixes rdflib predeclares in queries (``rdflib.plugins.sparql.sparql.Prologue``), which earlier versions
of this endpoint accepted undeclared; a test checks the table against rdflib's."""


def default_prefixes() -> dict[str, str]:
    """The prefixes a query may use undeclared: rdflib's usual ones, then the project's (which win)."""
    prefixes = dict(RDFLIB_PREFIXES)
    prefixes.update((prefix, str(namespace)) for prefix, namespace in PREFIXES.items())
    return prefixes


QUERY_PREFIXES = default_prefixes()
WRITTEN_PREFIXES = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}
"""The prefixes graph answers are written with (Turtle, RDF/XML): the project's own."""


def screen(job: Job, limits: Limits, named_graphs: Collection[str]) -> Analysis:
    """Read ``job``'s text with the lexer and refuse what must not reach an engine (see the module docstring)."""
    try:
        analysis = analyze(job.query, job.base, QUERY_PREFIXES, limits)
    except LimitExceeded as error:
        raise QueryTooComplex(str(error)) from None
    except LexError as error:
        raise MalformedQuery(str(error)) from None
    if analysis.update is not None:
        raise ReadOnly(READ_ONLY_MESSAGE)
    if analysis.service is not None:
        raise ServiceRefused(
            f"SERVICE refused ({analysis.service.text!r} at offset {analysis.service.start}): this endpoint "
            "does not evaluate federated queries and never contacts other services."
        )
    check_dataset(job, analysis, named_graphs)
    return analysis


def check_dataset(job: Job, analysis: Analysis | None, named_graphs: Collection[str]) -> None:
    """Refuse graphs the store does not hold: the request's, else the query's FROM and FROM NAMED."""
    if job.dataset is not None:
        names = [str(name) for name in (*job.dataset.default, *job.dataset.named)]
        check_graphs(names, named_graphs, "The request's default-graph-uri/named-graph-uri")
    elif analysis is not None:
        check_graphs((*analysis.from_default, *analysis.from_named), named_graphs, "The query's FROM/FROM NAMED")


_POSITION = re.compile(r"error at (\d+):(\d+): (.*)", re.DOTALL)


def syntax_message(message: str, text: str, analysis: Analysis | None) -> str:
    """Oxigraph's syntax error as a message for the client: line, column, the line itself with a caret.

    When the query uses a prefix that it does not declare (and the server does not predeclare), that is said
    first: Oxigraph reports it as an unexpected token.
    """
    if analysis is not None:
        for token in analysis.tokens:
            if token.kind is TokenKind.PNAME and term_iri(token, analysis.prefixes, "") is None:
                line, column = _line_column(analysis.text, token.start)
                prefix = token.text.partition(":")[0]
                return (
                    f"Unknown namespace prefix '{prefix}:' at line {line}, column {column}: declare it with "
                    f"PREFIX {prefix}: <...>."
                )
    match = _POSITION.fullmatch(message)
    if match is None:
        return f"SPARQL syntax error: {message}"
    line, column, expected = int(match.group(1)), int(match.group(2)), match.group(3)
    lines = text.splitlines() or [""]
    shown = lines[line - 1] if 0 < line <= len(lines) else ""
    return f"SPARQL syntax error at line {line}, column {column}: {expected}\n{shown}\n{' ' * max(column - 1, 0)}^"


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def select_of_describe(text: str, analysis: Analysis) -> str:
    """The ``SELECT DISTINCT`` of a DESCRIBE's targets: variables as they are, IRIs as ``(<iri> AS ?_describedN)``.

    The rest of the text (dataset clauses, WHERE, solution modifiers) is kept; a DESCRIBE without WHERE gets
    an empty group. Raises :class:`MalformedQuery` when the text was written with code-point escapes that
    expand into escapes (the rewritten text is parsed once more).
    """
    tokens = analysis.tokens
    expanded = analysis.text
    if "\\u" in expanded or "\\U" in expanded:
        raise MalformedQuery("A DESCRIBE query may not hold \\u or \\U escapes that expand into other escapes.")
    index = next(i for i, token in enumerate(tokens) if token.kind is TokenKind.WORD and token.lower == "describe")
    projection: list[str] = []
    position = index + 1
    while position < len(tokens):
        token = tokens[position]
        if token.kind is TokenKind.VAR:
            projection.append(token.text)
        elif token.kind in (TokenKind.IRI, TokenKind.PNAME):
            projection.append(f"({token.text} AS ?_described{len(projection)})")
        elif token.kind is TokenKind.PUNCT and token.text == "*":
            projection.append("*")
        else:
            break
        position += 1
    if not projection:
        raise MalformedQuery("DESCRIBE needs at least one variable or IRI to describe, or *.")
    end = tokens[position - 1].end
    rest = expanded[end:]
    has_where = any(token.text == "{" or token.lower == "where" for token in tokens[position:])
    if not has_where:
        dataset_end = end
        scan = position
        while scan < len(tokens) and tokens[scan].kind is TokenKind.WORD and tokens[scan].lower == "from":
            scan += 3 if scan + 1 < len(tokens) and tokens[scan + 1].lower == "named" else 2
            dataset_end = tokens[min(scan, len(tokens)) - 1].end
        rest = expanded[end:dataset_end] + " {} " + expanded[dataset_end:]
    return expanded[: tokens[index].start] + "SELECT DISTINCT " + " ".join(projection) + rest


def projected(analysis: Analysis) -> frozenset[str] | None:
    """The variables a SELECT projects (None for ``SELECT *``: every variable in scope)."""
    tokens = analysis.tokens
    names: set[str] = set()
    depth = 0
    started = False
    for token in tokens:
        if token.kind is TokenKind.WORD and token.lower == "select":
            started = True
            continue
        if not started:
            continue
        if token.kind is TokenKind.PUNCT:
            if token.text == "*" and depth == 0:
                return None
            if token.text == "(":
                depth += 1
            elif token.text == ")":
                depth -= 1
            elif token.text == "{":
                break
        elif token.kind is TokenKind.WORD and token.lower in ("where", "from"):
            break
        elif token.kind is TokenKind.VAR and (depth == 0 or _after_as(tokens, token)):
            names.add(token.text[1:])
    return frozenset(names)


def _after_as(tokens: list[Token], token: Token) -> bool:
    index = tokens.index(token)
    return index > 0 and tokens[index - 1].kind is TokenKind.WORD and tokens[index - 1].lower == "as"


def outer_group_start(analysis: Analysis) -> int | None:
    """Offset just after the ``{`` opening the WHERE group of the query (the outermost group pattern), or None.

    That is the first top-level ``{``, except in a CONSTRUCT with a template: the one after ``WHERE``, or the
    second top-level ``{`` when ``WHERE`` is left out.
    """
    depth = 0
    opened = 0
    after_where = False
    for token in analysis.tokens:
        if token.kind is TokenKind.WORD and token.lower == "where" and depth == 0:
            after_where = True
        if token.kind is not TokenKind.PUNCT:
            continue
        if token.text == "{" and depth == 0:
            opened += 1
            if analysis.form != "construct" or after_where or opened == 2:
                return token.end
        if token.text in "([{":
            depth += 1
        elif token.text in ")]}":
            depth -= 1
    return None


def substitutions(bindings: tuple[tuple[str, Identifier], ...]) -> dict[ox.Variable, Any]:
    return {ox.Variable(name): oxigraph_term(term) for name, term in bindings}


def oxigraph_term(term: Identifier) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """A validated rdflib parameter value as the equal pyoxigraph term
    (:func:`~calcinosis_kg.server.resources.data.from_rdflib`)."""
    try:
        return from_rdflib(term)
    except ValueError as error:
        raise EvaluationError(f"The parameter value {term!r} is not a valid RDF term: {error}") from None
    except TypeError:
        raise EvaluationError(f"The parameter value {term!r} is not an IRI or a literal.") from None
