"""Write query results in the SPARQL 1.1 result formats, or as a plain-text table for terminals."""

from __future__ import annotations

from rdflib import Graph, Literal, URIRef
from rdflib.query import Result, ResultRow
from rdflib.term import Node

from calcinosis_kg.errors import QueryError
from calcinosis_kg.formats import Family, formats_of
from calcinosis_kg.ontology import bind_prefixes

TABULAR_FORMATS = {fmt.key: fmt.rdflib for fmt in formats_of(Family.RESULTS)}
"""Short name -> rdflib's result serializer (the registry's SELECT and ASK formats)."""
GRAPH_FORMATS = {fmt.key: fmt.rdflib for fmt in formats_of(Family.GRAPH)}
"""Short name -> rdflib's graph serializer (the registry's graph formats)."""
FORMAT_NAMES = ("table", *TABULAR_FORMATS, *GRAPH_FORMATS)


def _rows(result: Result) -> list[ResultRow]:
    """The solutions of a SELECT result (typed: rdflib declares rows as plain tuples)."""
    return [row for row in result if isinstance(row, ResultRow)]


def _tsv_term(node: Node | None) -> str:
    """A term as SPARQL 1.1 TSV writes it: Turtle syntax, tabs and newlines escaped."""
    if node is None:
        return ""
    return node.n3().replace("\t", "\\t").replace("\n", "\\n")


def _tsv(result: Result) -> str:
    if result.type == "ASK":
        return "?_askResult\n" + ("true" if result.askAnswer else "false") + "\n"
    variables = result.vars or []
    lines = ["\t".join(f"?{v}" for v in variables)]
    lines += ["\t".join(_tsv_term(row[v]) for v in variables) for row in _rows(result)]
    return "\n".join(lines) + "\n"


def _cell(node: Node | None, graph: Graph) -> str:
    if node is None:
        return ""
    if isinstance(node, URIRef):
        return node.n3(graph.namespace_manager)
    if isinstance(node, Literal):
        return str(node)
    return node.n3()


def table(result: Result) -> str:
    """Results as an aligned plain-text table (CURIEs for known namespaces)."""
    if result.type == "ASK":
        return "yes\n" if result.askAnswer else "no\n"
    if result.type in ("CONSTRUCT", "DESCRIBE"):
        assert result.graph is not None
        return bind_prefixes(result.graph).serialize(format="turtle")
    names = bind_prefixes(Graph())
    variables = [str(v) for v in result.vars or []]
    rows = [[_cell(row[v], names) for v in variables] for row in _rows(result)]
    widths = [max([len(v), *(len(r[i]) for r in rows)]) for i, v in enumerate(variables)]
    out = [" | ".join(v.ljust(w) for v, w in zip(variables, widths, strict=True))]
    out.append("-+-".join("-" * w for w in widths))
    out += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def serialize(result: Result, fmt: str) -> str:
    """Serialize ``result`` as ``fmt`` (one of FORMAT_NAMES); raise QueryError if it does not fit the query form."""
    if fmt == "table":
        return table(result)
    if result.type in ("SELECT", "ASK"):
        if fmt not in TABULAR_FORMATS:
            raise QueryError(f"{result.type} results come as {', '.join(TABULAR_FORMATS)} or table, not {fmt!r}")
        if fmt == "tsv":
            return _tsv(result)
        data = result.serialize(format=TABULAR_FORMATS[fmt])
        return data.decode("utf-8") if isinstance(data, bytes) else str(data)
    if fmt not in GRAPH_FORMATS:
        raise QueryError(f"{result.type} results come as {', '.join(GRAPH_FORMATS)} or table, not {fmt!r}")
    assert result.graph is not None
    return bind_prefixes(result.graph).serialize(format=GRAPH_FORMATS[fmt])
