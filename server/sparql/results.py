"""Writing answers: SELECT rows and ASK booleans in the four SPARQL result formats, graphs in RDF.

Query answers are written straight from pyoxigraph's terms, so a literal's lexical form, datatype and
language reach the client exactly as the engine holds them. The tabular writers follow the W3C
recommendations (SPARQL 1.1 Query Results JSON, XML, CSV and TSV); CSV and TSV have no form for an ASK answer,
and like Apache Jena the endpoint writes one column ``_askResult`` holding ``true`` or ``false``. Graphs are
written by Oxigraph's serializers (:func:`write_triples`), or by rdflib's for the documents the server builds
with rdflib (service description, VoID, the ontology document: :func:`write_graph`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import overload
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox
from rdflib import Graph

from calcinosis_kg.server.errors import EvaluationError, FormatNotAcceptable
from calcinosis_kg.server.http.formats import Family, ResultFormat, available

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
Row = Sequence[Term | None]
"""One solution: a term (or None when unbound) per variable, in the order of the variables."""

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_RESULTS_NS = "http://www.w3.org/2005/sparql-results#"


def write_rows(fmt: ResultFormat, variables: Sequence[str], rows: Sequence[Row]) -> bytes:
    """SELECT results as ``fmt`` (one of the RESULTS family), UTF-8 encoded."""
    return _ROW_WRITERS[fmt.key](variables, rows).encode("utf-8")


def write_boolean(fmt: ResultFormat, answer: bool) -> bytes:
    """An ASK answer as ``fmt`` (one of the RESULTS family), UTF-8 encoded."""
    return _BOOLEAN_WRITERS[fmt.key](answer).encode("utf-8")


@overload
def write_triples(fmt: ResultFormat, triples: Iterable[ox.Triple], prefixes: Mapping[str, str]) -> bytes: ...
@overload
def write_triples(
    fmt: ResultFormat, triples: Iterable[ox.Triple], prefixes: Mapping[str, str], *, output: Path
) -> None: ...
def write_triples(
    fmt: ResultFormat, triples: Iterable[ox.Triple], prefixes: Mapping[str, str], *, output: Path | None = None
) -> bytes | None:
    """Triples as ``fmt`` (one of the GRAPH family), written by Oxigraph; ``prefixes`` abbreviate Turtle and RDF/XML.

    Returned as bytes, or streamed into the file ``output`` (``triples`` read one by one: for dumps of any size).
    """
    try:
        written = ox.serialize(
            triples,
            None if output is None else str(output),
            getattr(ox.RdfFormat, fmt.oxigraph),
            prefixes=dict(prefixes),
        )
    except ValueError as error:
        if fmt.key != "rdfxml":
            raise EvaluationError(f"The result cannot be written as {fmt.label}: {error}") from error
        raise FormatNotAcceptable(
            f"This result cannot be written as RDF/XML ({error}). {available(Family.GRAPH)}"
        ) from error
    assert (written is None) == (output is not None)  # bytes returned when no output file is given
    return written


def write_graph(fmt: ResultFormat, graph: Graph) -> bytes:
    """An rdflib ``graph`` as ``fmt`` (one of the GRAPH family), UTF-8 encoded.

    RDF/XML cannot write a predicate IRI that does not split into a namespace and an XML name (one ending
    in a digit, say); that case raises :class:`FormatNotAcceptable` pointing to the other formats.
    """
    try:
        return graph.serialize(format=fmt.rdflib, encoding="utf-8")
    except ValueError as error:
        if fmt.key != "rdfxml":
            raise
        raise FormatNotAcceptable(
            f"This result cannot be written as RDF/XML ({error}). {available(Family.GRAPH)}"
        ) from error


def _plain(term: Term) -> Term:
    if isinstance(term, ox.Triple):
        raise EvaluationError("The result holds an RDF-star quoted triple, which the result formats cannot write.")
    return term


# --- SPARQL 1.1 Query Results JSON Format ---------------------------------------------------------------


def json_term(term: Term) -> dict[str, str]:
    """One RDF term as a binding of the SPARQL 1.1 Query Results JSON Format."""
    term = _plain(term)
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    assert isinstance(term, ox.Literal)
    if term.language:
        return {"type": "literal", "value": term.value, "xml:lang": term.language}
    datatype = term.datatype.value
    if datatype == _XSD_STRING:
        return {"type": "literal", "value": term.value}
    return {"type": "literal", "value": term.value, "datatype": datatype}


_JSON_TERMS: dict[Term, str] = {}
"""Terms already encoded as JSON bindings, kept across answers (a worker answers over the same data again and
again; IRIs and labels repeat); emptied when it reaches :data:`_JSON_TERMS_MAX` entries."""
_JSON_TERMS_MAX = 65_536


def _json_rows(variables: Sequence[str], rows: Sequence[Row]) -> str:
    """The JSON document, written as text: each distinct term is encoded once (see :data:`_JSON_TERMS`)."""
    memo = _JSON_TERMS
    if len(memo) > _JSON_TERMS_MAX:
        memo.clear()
    names = [json.dumps(var, ensure_ascii=False) + ":" for var in variables]
    bindings = []
    for row in rows:
        parts = []
        for name, value in zip(names, row, strict=True):
            if value is None:
                continue
            encoded = memo.get(value)
            if encoded is None:
                encoded = memo[value] = json.dumps(json_term(value), ensure_ascii=False, separators=(",", ":"))
            parts.append(name + encoded)
        bindings.append("{" + ",".join(parts) + "}")
    head = json.dumps({"vars": list(variables)}, ensure_ascii=False, separators=(",", ":"))
    return '{"head":' + head + ',"results":{"bindings":[' + ",".join(bindings) + "]}}\n"


def _json_boolean(answer: bool) -> str:
    return json.dumps({"head": {}, "boolean": answer}) + "\n"


# --- SPARQL Query Results XML Format --------------------------------------------------------------------


def _xml_term(term: Term) -> str:
    term = _plain(term)
    if isinstance(term, ox.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    assert isinstance(term, ox.Literal)
    if term.language:
        attribute = f" xml:lang={quoteattr(term.language)}"
    elif term.datatype.value != _XSD_STRING:
        attribute = f" datatype={quoteattr(term.datatype.value)}"
    else:
        attribute = ""
    return f"<literal{attribute}>{escape(term.value)}</literal>"


def _xml_document(head: str, body: str) -> str:
    declaration = '<?xml version="1.0" encoding="UTF-8"?>'
    return f'{declaration}\n<sparql xmlns="{_RESULTS_NS}">\n{head}\n{body}\n</sparql>\n'


def _xml_rows(variables: Sequence[str], rows: Sequence[Row]) -> str:
    head = "<head>" + "".join(f"<variable name={quoteattr(var)}/>" for var in variables) + "</head>"
    results = []
    for row in rows:
        bindings = "".join(
            f"<binding name={quoteattr(var)}>{_xml_term(value)}</binding>"
            for var, value in zip(variables, row, strict=True)
            if value is not None
        )
        results.append(f" <result>{bindings}</result>\n")
    return _xml_document(head, "<results>\n" + "".join(results) + "</results>")


def _xml_boolean(answer: bool) -> str:
    return _xml_document("<head/>", f"<boolean>{str(answer).lower()}</boolean>")


# --- SPARQL 1.1 Query Results CSV and TSV Formats -------------------------------------------------------


def _csv_term(term: Term | None) -> str:
    if term is None:
        return ""
    plain = _plain(term)
    if isinstance(plain, ox.BlankNode):
        return f"_:{plain.value}"
    assert isinstance(plain, ox.NamedNode | ox.Literal)
    return plain.value


def _csv_rows(variables: Sequence[str], rows: Sequence[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(variables)
    for row in rows:
        writer.writerow([_csv_term(value) for value in row])
    return out.getvalue()


def _csv_boolean(answer: bool) -> str:
    return f"_askResult\r\n{str(answer).lower()}\r\n"


def _tsv_term(term: Term | None) -> str:
    """A term in the TSV results format: the Turtle/N-Triples form (Oxigraph's own writing of the term)."""
    if term is None:
        return ""
    return str(_plain(term))


def _tsv_rows(variables: Sequence[str], rows: Sequence[Row]) -> str:
    lines = ["\t".join(f"?{var}" for var in variables)]
    lines.extend("\t".join(_tsv_term(value) for value in row) for row in rows)
    return "\n".join(lines) + "\n"


def _tsv_boolean(answer: bool) -> str:
    return f"?_askResult\n{str(answer).lower()}\n"


_ROW_WRITERS: dict[str, Callable[[Sequence[str], Sequence[Row]], str]] = {
    "json": _json_rows,
    "xml": _xml_rows,
    "csv": _csv_rows,
    "tsv": _tsv_rows,
}
_BOOLEAN_WRITERS: dict[str, Callable[[bool], str]] = {
    "json": _json_boolean,
    "xml": _xml_boolean,
    "csv": _csv_boolean,
    "tsv": _tsv_boolean,
}
