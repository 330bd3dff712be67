"""Comparing actual with expected results as the W3C test runners do (Jena's ResultSetCompare, Oxigraph's testsuite).

- booleans: equal;
- solutions: the same variables' bindings as multisets (bag semantics), up to a consistent renaming of blank nodes
  over the whole result (a bijection found by backtracking). When the query has a top-level ``ORDER BY`` and the
  expected results are ordered, the sequences must also match: row by row, or, if the ``ORDER BY`` keys are plain
  variables, the sequence of the key variables' values (rows tied on every key may come in any order);
- graphs: isomorphic (the same backtracking over triples).

Terms are equal when their kind, lexical form, datatype and (lower-cased) language tag are equal.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from .terms import Results, Term

Row = tuple[Term, ...]
_VAR = Term("var", "")


def _rows_of_solutions(results: Results, only: Sequence[str] | None = None) -> list[Row]:
    rows = []
    for solution in results.solutions:
        row: list[Term] = []
        for name, term in solution:
            if only is None or name in only:
                row.extend((Term("var", name), term))
        rows.append(tuple(row))
    return rows


def _has_bnode(row: Row) -> bool:
    return any(term.kind == "bnode" for term in row)


def _shape(row: Row) -> Row:
    return tuple(_VAR if term.kind == "bnode" else term for term in row)


def _extend(expected: Row, actual: Row, forward: dict[str, str], backward: dict[str, str]) -> list[str] | None:
    """Extend the blank-node bijection so that ``expected`` maps to ``actual``; the labels added, or None."""
    added: list[str] = []
    for e, a in zip(expected, actual, strict=True):
        if e.kind != "bnode":
            continue
        mapped = forward.get(e.value)
        if mapped is None:
            if a.value in backward:
                break
            forward[e.value] = a.value
            backward[a.value] = e.value
            added.append(e.value)
        elif mapped != a.value:
            break
    else:
        return added
    for label in added:
        del backward[forward.pop(label)]
    return None


def isomorphic(expected: list[Row], actual: list[Row], ordered: bool) -> bool:
    """True if the rows are equal (as multisets, or as sequences if ``ordered``) up to a blank-node bijection."""
    if len(expected) != len(actual):
        return False
    if ordered:
        forward: dict[str, str] = {}
        backward: dict[str, str] = {}
        return all(
            _shape(e) == _shape(a) and _extend(e, a, forward, backward) is not None
            for e, a in zip(expected, actual, strict=True)
        )
    ground_expected = Counter(row for row in expected if not _has_bnode(row))
    ground_actual = Counter(row for row in actual if not _has_bnode(row))
    if ground_expected != ground_actual:
        return False
    open_expected = [row for row in expected if _has_bnode(row)]
    open_actual = [row for row in actual if _has_bnode(row)]
    if Counter(map(_shape, open_expected)) != Counter(map(_shape, open_actual)):
        return False
    by_shape: dict[Row, list[int]] = {}
    for number, row in enumerate(open_actual):
        by_shape.setdefault(_shape(row), []).append(number)
    # Most constrained rows first: rows sharing blank nodes with earlier rows prune the search early.
    open_expected.sort(key=lambda row: (len(by_shape[_shape(row)]), row))
    used = [False] * len(open_actual)
    return _search(open_expected, 0, open_actual, by_shape, used, {}, {})


def _search(
    expected: list[Row],
    position: int,
    actual: list[Row],
    by_shape: dict[Row, list[int]],
    used: list[bool],
    forward: dict[str, str],
    backward: dict[str, str],
) -> bool:
    if position == len(expected):
        return True
    row = expected[position]
    for candidate in by_shape[_shape(row)]:
        if used[candidate]:
            continue
        added = _extend(row, actual[candidate], forward, backward)
        if added is None:
            continue
        used[candidate] = True
        if _search(expected, position + 1, actual, by_shape, used, forward, backward):
            return True
        used[candidate] = False
        for label in added:
            del backward[forward.pop(label)]
    return False


# --- ORDER BY ---------------------------------------------------------------------------------------------------

_STRIP = re.compile(
    r"""#[^\n]*|'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|<[^<>"{}|^`\\\s]*>""", re.DOTALL
)
_ORDER_BY = re.compile(r"(?i)\bORDER\s+BY\b")
_KEY = re.compile(r"(?i)^(?:[?$](\w+)|(?:ASC|DESC)\s*\(\s*[?$](\w+)\s*\))$")
_END = re.compile(r"(?i)\b(?:LIMIT|OFFSET|VALUES)\b")


def order_keys(query: str) -> list[str] | None:
    """None if ``query`` has no top-level ORDER BY; else its key variables, or [] if a key is an expression."""
    text = _STRIP.sub(lambda m: " " if m.group(0).startswith("#") else "X", query)
    for match in _ORDER_BY.finditer(text):
        before = text[: match.start()]
        if before.count("{") != before.count("}"):
            continue  # an ORDER BY of a sub-query
        clause = _END.split(text[match.end() :])[0].strip()
        keys = re.findall(r"(?i)(?:ASC|DESC)\s*\([^()]*\)|\S+", clause)
        names = [_KEY.match(key) for key in keys]
        return [m.group(1) or m.group(2) for m in names if m] if all(names) else []
    return None


# --- Whole results ------------------------------------------------------------------------------------------------


def compare(expected: Results, actual: Results, query: str) -> str | None:
    """None if ``actual`` matches ``expected``; else what differs."""
    if expected.kind != actual.kind:
        return f"expected a {expected.kind} result, got a {actual.kind} result"
    if expected.kind == "boolean":
        return None if expected.boolean == actual.boolean else f"expected {expected.boolean}, got {actual.boolean}"
    if expected.kind == "graph":
        same = isomorphic([tuple(t) for t in expected.triples], [tuple(t) for t in actual.triples], ordered=False)
        return (
            None
            if same
            else "the graphs are not isomorphic\n"
            + _diff([tuple(t) for t in expected.triples], [tuple(t) for t in actual.triples])
        )
    expected_rows = _rows_of_solutions(expected)
    actual_rows = _rows_of_solutions(actual)
    if not isomorphic(expected_rows, actual_rows, ordered=False):
        return "the solutions differ (as multisets)\n" + _diff(expected_rows, actual_rows)
    keys = order_keys(query)
    if keys is None or not expected.ordered or isomorphic(expected_rows, actual_rows, ordered=True):
        return None
    if keys and isomorphic(_key_rows(expected, keys), _key_rows(actual, keys), ordered=True):
        return None
    return f"the solutions are not in the order expected (ORDER BY {' '.join(keys) or 'expressions'})\n" + _diff(
        expected_rows, actual_rows
    )


def _key_rows(results: Results, keys: Sequence[str]) -> list[Row]:
    return _rows_of_solutions(results, only=keys)


def _diff(expected: list[Row], actual: list[Row], limit: int = 12) -> str:
    def show(row: Row) -> str:
        return " ".join(f"?{t.value}=" if t.kind == "var" else f"{t}" for t in row).replace("= ", "=")

    lines = [f"expected {len(expected)} rows, got {len(actual)}"]
    lines += ["  - " + show(row) for row in expected[:limit]]
    lines += ["  + " + show(row) for row in actual[:limit]]
    return "\n".join(lines)
