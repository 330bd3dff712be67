"""Turning query text into rdflib's algebra, with errors a client can act on.

Parsing runs in the query workers, under the time limit, because a hostile query can make the parser
itself slow.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping

from pyparsing import ParseBaseException
from rdflib import Namespace
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.plugins.sparql.sparql import Query

from calcinosis_kg.server.errors import EvaluationError, MalformedQuery, ReadOnly

READ_ONLY_MESSAGE = (
    "This endpoint is read-only: SPARQL Update is refused (send a SELECT, ASK, CONSTRUCT or DESCRIBE query)."
)


def parse_query(text: str, base: str, prefixes: Mapping[str, Namespace]) -> Query:
    """Parse and translate ``text``, resolving relative IRIs against ``base``.

    ``prefixes`` are predeclared: the query may use them without PREFIX (and may redeclare them), as it
    may rdflib's own ``rdf:``, ``rdfs:``, ``owl:``, ``xsd:`` and ``xml:``.

    Raises :class:`MalformedQuery` with the parser's message and the line and column of the error (or
    rdflib's message for a semantic error such as an undeclared prefix), and :class:`ReadOnly` when the
    text is a SPARQL Update rather than a query.
    """
    try:
        tree = parseQuery(text)
    except ParseBaseException as error:
        if _is_update(text):
            raise ReadOnly(READ_ONLY_MESSAGE) from error
        raise MalformedQuery(syntax_error_message(error)) from error
    except RecursionError:
        raise MalformedQuery("The query is nested too deeply to be parsed.") from None
    if tree[1].name == "DescribeQuery" and tree[1].var is None:
        raise EvaluationError("DESCRIBE * is not supported; name the variables to describe (DESCRIBE ?x ?y).")
    try:
        query = translateQuery(tree, base=base, initNs=prefixes)
    except RecursionError:
        raise MalformedQuery("The query is nested too deeply to be translated.") from None
    except Exception as error:
        # rdflib reports a semantically invalid query (an undeclared prefix, say) with a bare Exception;
        # anything more specific is a failure of rdflib itself and is not the client's fault.
        if type(error) is not Exception:
            raise
        raise MalformedQuery(f"Invalid query: {error}") from error
    _check_slices(query)
    return query


def syntax_error_message(error: ParseBaseException) -> str:
    """The parser's message, the error's line and column, and that line with a caret under the column."""
    found = f", found {error.found}" if error.found else ""
    return (
        f"SPARQL syntax error at line {error.lineno}, column {error.column}: {error.msg}{found}\n"
        f"{error.line}\n{' ' * (error.column - 1)}^"
    )


def walk(node: object) -> Iterator[CompValue]:
    """Every CompValue in an algebra tree, including the unevaluated patterns inside expressions."""
    stack = [node]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, CompValue):
            yield current
            stack.extend(current.values())
        elif isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list | tuple | set | frozenset):
            stack.extend(current)


def _check_slices(query: Query) -> None:
    """Refuse a LIMIT or OFFSET that rdflib's evaluator cannot represent."""
    for node in walk(query.algebra):
        if node.name == "Slice" and max(node.start or 0, node.length or 0) > sys.maxsize:
            raise EvaluationError(f"LIMIT and OFFSET must be at most {sys.maxsize}.")


def _is_update(text: str) -> bool:
    """True if ``text`` is a SPARQL Update with at least one operation (an empty text is a valid update)."""
    try:
        update = parseUpdate(text)
    except (ParseBaseException, RecursionError):
        return False
    return bool(update.request)
