"""A SPARQL 1.1 lexer: what the server decides about a query before any engine sees it.

The engine (pyoxigraph) parses the query itself; this module reads the text once more, token by token, to
decide what must never reach the engine and to screen what would crash it:

- ``\\u``/``\\U`` code-point escapes are expanded first over the whole text, as the SPARQL grammar says
  (section 19.2) and as Oxigraph does, so that an escaped keyword is the keyword;
- comments, strings (the four quote styles with their escapes), IRIs, prefixed names (with ``%hh`` and
  ``\\``-escaped local parts), variables and blank-node labels are single tokens: a keyword inside them is not a
  keyword;
- ``<`` is an IRI or the less-than operator depending on where it stands, as in the grammar: inside an
  expression, after an operand, it is the operator (``FILTER(?a<'x>')`` holds a string, not an IRI).

From the tokens :func:`analyze` gets the query form, whether it is an update, every word that could be the
``SERVICE`` keyword, the IRIs of ``FROM``/``FROM NAMED`` (prefixed names and relative IRIs resolved as the
engine would), the nesting depth and the number of tokens. Where the text is not valid SPARQL the lexer does
not judge: it tokenizes what it can and the engine gives the syntax error.

A word counts as ``SERVICE`` when a bare word, a blank-node label or the prefix of a prefixed name *contains*
``service`` in any case: a PEG parser such as Oxigraph's matches keywords without word boundaries, so
``trueSERVICE<x>{}`` or ``SERVICE:x{}`` can hold the keyword. Variables and local names are read greedily by
both and never hide it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple
from urllib.parse import urljoin

_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")

_PN_CHARS_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_PN_CHARS = _PN_CHARS_U + r"\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PN_PREFIX = f"[{_PN_CHARS_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"
_PN_LOCAL = f"(?:[{_PN_CHARS_U}:0-9]|{_PLX})(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?"


@functools.cache
def _token_pattern() -> re.Pattern[str]:
    """The tokenizer's expression, compiled on first use (its Unicode classes take ~50 ms to compile: not at
    start-up, since ordinary queries skip the tokenizer, see :func:`needs_analysis`)."""
    return re.compile(
        "|".join(
            (
                r"(?P<space>[ \t\r\n]+)",
                r"(?P<comment>#[^\r\n]*)",
                r"(?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^\"\\]|\\.|\"(?!\"\"))*\"\"\""
                r"|'(?:[^'\\\n\r]|\\.)*'|\"(?:[^\"\\\n\r]|\\.)*\")",
                r"(?P<var>[?$][" + _PN_CHARS_U + "0-9][" + _PN_CHARS_U + r"0-9\u00b7\u0300-\u036f\u203f-\u2040]*)",
                r"(?P<bnode>_:[" + _PN_CHARS_U + "0-9](?:[" + _PN_CHARS + ".]*[" + _PN_CHARS + "])?)",
                f"(?P<pname>(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?)",
                r"(?P<langtag>@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*)",
                r"(?P<number>[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)",
                r"(?P<word>[A-Za-z_][A-Za-z0-9_]*)",
                r"(?P<punct>\^\^|&&|\|\||!=|<=|>=|.)",
            )
        ),
        re.DOTALL,
    )


_IRIREF = re.compile(r'<[^<>"{}|^`\\\x00-\x20]*>')

UPDATE_WORDS = frozenset({"insert", "delete", "load", "clear", "drop", "create", "add", "move", "copy", "with"})
"""First words of the SPARQL 1.1 Update operations."""
QUERY_FORMS = frozenset({"select", "construct", "describe", "ask"})
_OPERAND_END = frozenset({"var", "string", "langtag", "number", "iri", "pname", "bnode"})
_PATTERN_WORDS_BEFORE_PAREN = frozenset({"a", "values", "true", "false"})
_OPENERS = {"(": ")", "{": "}", "[": "]"}


class TokenKind(Enum):
    """What the lexer recognized (``punct`` is any other single character or operator)."""

    SPACE = "space"
    COMMENT = "comment"
    STRING = "string"
    VAR = "var"
    BNODE = "bnode"
    PNAME = "pname"
    LANGTAG = "langtag"
    NUMBER = "number"
    WORD = "word"
    IRI = "iri"
    PUNCT = "punct"


class Token(NamedTuple):
    """One token: its kind, its text and its offset in the expanded text (see :func:`expand_escapes`)."""

    kind: TokenKind
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    @property
    def lower(self) -> str:
        return self.text.lower()


class LexError(ValueError):
    """The text cannot be read: an escape names no Unicode character, or a limit is exceeded."""


class LimitExceeded(LexError):
    """The text is over one of the :class:`Limits`."""


def expand_escapes(text: str) -> str:
    """``text`` with every ``\\uXXXX`` and ``\\UXXXXXXXX`` replaced by its character (SPARQL 1.1, 19.2).

    Raises :class:`LexError` for an escape of a surrogate or of a code point beyond U+10FFFF.
    """

    def character(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            raise LexError(f"The escape {match.group(0)} at offset {match.start()} names no Unicode character.")
        return chr(code)

    return _ESCAPE.sub(character, text) if "\\" in text else text


def tokenize(expanded: str) -> list[Token]:
    """The significant tokens of ``expanded`` (already escape-expanded): no spaces, no comments."""
    tokens: list[Token] = []
    append = tokens.append
    contexts: list[bool] = [False]
    """For each open bracket, whether it holds an expression (True) or patterns, templates, lists (False)."""
    pending_expression = False
    """The next ``(`` opens an expression (after FILTER, BIND, a function name...)."""
    select_clause = False
    position = 0
    length = len(expanded)
    match_token = _token_pattern().match
    word, punct, space, comment = TokenKind.WORD, TokenKind.PUNCT, TokenKind.SPACE, TokenKind.COMMENT
    while position < length:
        if expanded[position] == "<":
            operator = contexts[-1] and bool(tokens) and _ends_operand(tokens[-1])
            iri = None if operator else _IRIREF.match(expanded, position)
            if iri is not None:
                append(Token(TokenKind.IRI, iri.group(), position))
                position = iri.end()
                pending_expression = False
                continue
        match = match_token(expanded, position)
        assert match is not None  # the last alternative matches any character
        kind = _KINDS[match.lastgroup]  # type: ignore[index]
        start, position = match.span()
        if kind is space or kind is comment:
            continue
        text = match.group()
        if kind is word:
            lower = text.lower()
            if lower == "select":
                select_clause = True
            elif lower == "where" or lower == "from":
                select_clause = False
            append(Token(kind, text, start))
            pending_expression = lower in _EXPRESSION_WORDS
            continue
        if kind is punct:
            if text == "(":
                contexts.append(contexts[-1] or select_clause or pending_expression or _opens_call(tokens))
            elif text == "{" or text == "[":
                if text == "{":
                    select_clause = False
                contexts.append(False)
            elif text == ")" or text == "}" or text == "]":
                if len(contexts) > 1:
                    contexts.pop()
                if len(contexts) == 1 and text == "}":
                    contexts[0] = True  # after the outermost group: solution modifiers (GROUP BY, HAVING, ORDER BY)
        pending_expression = False
        append(Token(kind, text, start))
    return tokens


_EXPRESSION_WORDS = frozenset({"filter", "bind", "having", "by", "asc", "desc"})


def _ends_operand(token: Token) -> bool:
    if token.kind.value in _OPERAND_END:
        return True
    if token.kind is TokenKind.WORD:
        return token.lower in ("true", "false")
    return token.kind is TokenKind.PUNCT and token.text == ")"


def _opens_call(tokens: list[Token]) -> bool:
    """Whether a ``(`` that follows ``tokens`` in a pattern opens a function call's arguments."""
    if not tokens:
        return False
    previous = tokens[-1]
    if previous.kind is TokenKind.WORD:
        return previous.lower not in _PATTERN_WORDS_BEFORE_PAREN
    if previous.kind in (TokenKind.IRI, TokenKind.PNAME) and len(tokens) > 1:
        before = tokens[-2]
        return before.kind is TokenKind.WORD and before.lower == "filter"
    return False


_KINDS = {kind.value: kind for kind in TokenKind}


@dataclass(frozen=True)
class Limits:
    """What a query may be before it reaches the engine: larger or deeper ones crash or stall it."""

    max_bytes: int = 1_048_576
    max_depth: int = 256
    """Brackets ``( { [`` open at once."""
    max_tokens: int = 20_000


@dataclass(frozen=True)
class Analysis:
    """What :func:`analyze` learned of a query text."""

    text: str
    """The text with its code-point escapes expanded (what the engine parses)."""
    tokens: list[Token] = field(repr=False)
    form: str | None
    """``select``, ``construct``, ``describe`` or ``ask`` (lower case), None if the text has no query form."""
    update: str | None
    """The update operation's first word, if the text is a SPARQL Update."""
    service: Token | None
    """The first token that holds or may hold the SERVICE keyword."""
    from_default: tuple[str, ...]
    from_named: tuple[str, ...]
    depth: int
    prefixes: Mapping[str, str]
    """The prefixes in force: those given to :func:`analyze` and those the prologue declares."""


_TOKEN_WORDS = ("service", "from", "describe")
"""Words the server must find as tokens when a query holds them (SERVICE, FROM graphs, DESCRIBE's rewrite)."""


def needs_analysis(text: str, limits: Limits) -> bool:
    """False when ``text`` can go to the engine without :func:`analyze`: every decision is already known.

    That is when it has no ``\\`` (no escapes), none of ``service``, ``from``, ``describe`` in any case (so no
    SERVICE, no FROM graph to check, not a DESCRIBE), and is within every limit whatever its tokens: at most
    ``max_tokens`` characters (a token has at least one) and at most ``max_depth`` opening brackets. An update
    is refused by the engine's parser, and then the text is analyzed to say so (see the engine). A few string
    searches, so ordinary queries skip the tokenizer.
    """
    if len(text) > limits.max_tokens or 4 * len(text) > limits.max_bytes or "\\" in text:
        return True
    lowered = text.lower()
    if any(word in lowered for word in _TOKEN_WORDS):
        return True
    return text.count("(") + text.count("{") + text.count("[") > limits.max_depth


def analyze(text: str, base: str, prefixes: Mapping[str, str], limits: Limits | None = None) -> Analysis:
    """Expand, screen and tokenize ``text``; ``base`` and ``prefixes`` are those the engine will use.

    Raises :class:`LexError` naming the limit when the text is over :class:`Limits` (bytes, tokens, depth) or
    has an escape that names no character.
    """
    limits = limits or Limits()
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise LimitExceeded(f"The query is {size} bytes long; the limit is {limits.max_bytes}.")
    expanded = expand_escapes(text)
    tokens = tokenize(expanded)
    if len(tokens) > limits.max_tokens:
        raise LimitExceeded(
            f"The query has {len(tokens)} tokens; the limit is {limits.max_tokens}. Split it into smaller queries."
        )
    depth = deepest = 0
    for token in tokens:
        if token.kind is TokenKind.PUNCT:
            if token.text in _OPENERS:
                depth += 1
                if depth > limits.max_depth:
                    raise LimitExceeded(
                        f"The query nests brackets more than {limits.max_depth} deep (at offset {token.start}); "
                        "flatten it."
                    )
                deepest = max(deepest, depth)
            elif token.text in (")", "}", "]"):
                depth = max(0, depth - 1)
    form, update, declared, from_default, from_named = _prologue_and_form(tokens, base, prefixes)
    service = (
        next((token for token in tokens if _may_be_service(token)), None) if "service" in expanded.lower() else None
    )
    return Analysis(
        text=expanded,
        tokens=tokens,
        form=form,
        update=update,
        service=service,
        from_default=from_default,
        from_named=from_named,
        depth=deepest,
        prefixes=declared,
    )


def _may_be_service(token: Token) -> bool:
    if token.kind is TokenKind.WORD or token.kind is TokenKind.BNODE:
        return "service" in token.lower
    if token.kind is TokenKind.PNAME:
        return "service" in token.lower.partition(":")[0]
    return False


def _prologue_and_form(
    tokens: list[Token], base: str, prefixes: Mapping[str, str]
) -> tuple[str | None, str | None, dict[str, str], tuple[str, ...], tuple[str, ...]]:
    """Read BASE/PREFIX declarations, the form or update word, and the FROM clauses."""
    declared = dict(prefixes)
    current_base = base
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.kind is TokenKind.WORD and token.lower == "base" and index + 1 < len(tokens):
            current_base = resolve(tokens[index + 1].text[1:-1], current_base)
            index += 2
        elif token.kind is TokenKind.WORD and token.lower == "prefix" and index + 2 < len(tokens):
            name = tokens[index + 1].text.rstrip(":")
            iri = tokens[index + 2]
            if iri.kind is TokenKind.IRI:
                declared[name] = resolve(iri.text[1:-1], current_base)
            index += 3
        else:
            break
    first = tokens[index] if index < len(tokens) else None
    word = first.lower if first is not None and first.kind is TokenKind.WORD else None
    form = word if word in QUERY_FORMS else None
    update = word if word in UPDATE_WORDS else None
    default: list[str] = []
    named: list[str] = []
    for position in range(index, len(tokens) - 1):
        token = tokens[position]
        if token.kind is not TokenKind.WORD or token.lower != "from":
            continue
        target = tokens[position + 1]
        into = default
        if target.kind is TokenKind.WORD and target.lower == "named" and position + 2 < len(tokens):
            target = tokens[position + 2]
            into = named
        resolved = term_iri(target, declared, current_base)
        if resolved is not None:
            into.append(resolved)
    return form, update, declared, tuple(default), tuple(named)


def term_iri(token: Token, prefixes: Mapping[str, str], base: str) -> str | None:
    """The IRI an IRI or prefixed-name token stands for (None for other tokens and unknown prefixes)."""
    if token.kind is TokenKind.IRI:
        return resolve(token.text[1:-1], base)
    if token.kind is TokenKind.PNAME:
        prefix, _, local = token.text.partition(":")
        namespace = prefixes.get(prefix)
        if namespace is None:
            return None
        return namespace + re.sub(r"\\(.)", r"\1", local)
    return None


def resolve(reference: str, base: str) -> str:
    """``reference`` resolved against ``base`` (RFC 3986)."""
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", reference):
        return reference
    return urljoin(base, reference)
