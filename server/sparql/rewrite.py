"""What the server reads in or rewrites of a query text with the lexer's tokens: syntax messages with a caret,
the SELECT of a DESCRIBE, projected variables, where a VALUES block goes.
"""

from __future__ import annotations

import re

from calcinosis_kg.server.errors import (
    MalformedQuery,
)
from calcinosis_kg.server.sparql.lexer import (
    Analysis,
    Token,
    TokenKind,
    term_iri,
)

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


def projected_variables(analysis: Analysis) -> frozenset[str] | None:
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
    """Offset just after the ``{`` opening the outermost group pattern of a SELECT, or None."""
    depth = 0
    for token in analysis.tokens:
        if token.kind is not TokenKind.PUNCT:
            continue
        if token.text == "{" and depth == 0:
            return token.end
        if token.text in "([{":
            depth += 1
        elif token.text in ")]}":
            depth -= 1
    return None
