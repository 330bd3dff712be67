"""The query page's view model: a canned query as editable text, and an answer as the page shows it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rdflib import Literal, URIRef

from calcinosis_kg.errors import QueryError
from calcinosis_kg.queries.catalog import CannedQuery
from calcinosis_kg.server.resources.linked_data import LinkedData
from calcinosis_kg.server.views.linked_data import local_path
from calcinosis_kg.server.views.pages.terms import TermView, curie, term_view, web_link

DEFAULT_QUERY = """SELECT ?subtype ?label WHERE {
  cc:calcinosis-cutis cco:hasSubtype ?subtype .
  ?subtype skos:prefLabel ?label .
}
ORDER BY ?label
"""
"""The editor's text when no example is chosen and the catalog has no ``subtypes`` query."""

_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


@dataclass(frozen=True)
class QueryOutcome:
    """A query's answer as the query page shows it."""

    form: str
    """``select``, ``ask`` or ``graph``."""
    variables: tuple[str, ...] = ()
    rows: tuple[tuple[TermView | None, ...], ...] = ()
    boolean: bool | None = None
    text: str | None = None
    milliseconds: float = 0.0


def prefilled(query: CannedQuery) -> str:
    """The editor text of a canned query: its SPARQL without the ``#+`` header, parameters set to defaults.

    Each parameter with a default gets a ``VALUES ?name { term }`` line at the start of the query's outer
    ``WHERE`` group, so the text runs as is and shows where to change the value (the ``/queries/{name}``
    API binds parameters without editing the text). A default that does not validate is left out.
    """
    text = "\n".join(line for line in query.sparql.splitlines() if not line.startswith("#+")).strip() + "\n"
    values = []
    for param in query.params:
        if param.default is None:
            continue
        try:
            term = param.bind(param.default)
        except QueryError:
            continue
        values.append(f"  VALUES ?{param.name} {{ {term.n3()} }}  # parameter {param.name}")
    if not values:
        return text
    for match in _WHERE.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if "#" not in text[line_start : match.start()]:
            return text[: match.end()] + "\n" + "\n".join(values) + text[match.end() :]
    return text


def binding_view(binding: Mapping[str, str] | None, labels: LinkedData) -> TermView | None:
    """A cell of the results table from a SPARQL JSON binding."""
    if binding is None:
        return None
    kind, value = binding.get("type"), binding.get("value", "")
    if kind == "uri":
        short = curie(value)
        return TermView(
            text=short or value,
            href=local_path(value) or web_link(value),
            iri=value,
            curie=short,
            note=labels.label(URIRef(value)),
        )
    if kind == "bnode":
        return TermView(text=f"_:{value}")
    if "xml:lang" in binding:
        return term_view(Literal(value, lang=binding["xml:lang"]), labels.label)
    datatype = binding.get("datatype")
    return term_view(Literal(value, datatype=URIRef(datatype) if datatype else None), labels.label)


def query_outcome(body: bytes, content_type: str, linked_data: LinkedData, milliseconds: float) -> QueryOutcome:
    """The page's view of an answer (SPARQL results JSON, or a graph in Turtle) that took ``milliseconds``."""
    text = body.decode("utf-8")
    if not content_type.startswith("application/sparql-results+json"):
        return QueryOutcome(form="graph", text=text, milliseconds=milliseconds)
    document: dict[str, Any] = json.loads(text)
    if "boolean" in document:
        return QueryOutcome(form="ask", boolean=bool(document["boolean"]), milliseconds=milliseconds)
    variables = tuple(str(var) for var in document["head"]["vars"])
    rows = tuple(
        tuple(binding_view(binding.get(var), linked_data) for var in variables)
        for binding in document["results"]["bindings"]
    )
    return QueryOutcome(form="select", variables=variables, rows=rows, milliseconds=milliseconds)
