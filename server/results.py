"""Writing query answers: SELECT rows and ASK booleans in the four SPARQL result formats, graphs in RDF.

The tabular writers follow the W3C recommendations (SPARQL 1.1 Query Results JSON, XML, CSV and TSV).
CSV and TSV have no form for an ASK answer; like Apache Jena, the endpoint writes one column
``_askResult`` holding ``true`` or ``false``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

from rdflib import BNode, Graph, Literal, URIRef, Variable
from rdflib.term import Node

from calcinosis_kg.server.errors import FormatNotAcceptable
from calcinosis_kg.server.formats import Family, ResultFormat, available

Row = Mapping[Variable, Node]

_RESULTS_NS = "http://www.w3.org/2005/sparql-results#"
_RDFLIB_SERIALIZERS = {"turtle": "turtle", "ntriples": "nt", "jsonld": "json-ld", "rdfxml": "xml"}


def write_rows(fmt: ResultFormat, variables: Sequence[Variable], rows: Sequence[Row]) -> bytes:
    """SELECT results as ``fmt`` (one of the RESULTS family), UTF-8 encoded."""
    return _ROW_WRITERS[fmt.key](variables, rows).encode("utf-8")


def write_boolean(fmt: ResultFormat, answer: bool) -> bytes:
    """An ASK answer as ``fmt`` (one of the RESULTS family), UTF-8 encoded."""
    return _BOOLEAN_WRITERS[fmt.key](answer).encode("utf-8")


def write_graph(fmt: ResultFormat, graph: Graph) -> bytes:
    """``graph`` as ``fmt`` (one of the GRAPH family), UTF-8 encoded.

    RDF/XML cannot write a predicate IRI that does not split into a namespace and an XML name (one ending
    in a digit, say); that case raises :class:`FormatNotAcceptable` pointing to the other formats.
    """
    try:
        return graph.serialize(format=_RDFLIB_SERIALIZERS[fmt.key], encoding="utf-8")
    except ValueError as error:
        if fmt.key != "rdfxml":
            raise
        raise FormatNotAcceptable(
            f"This result cannot be written as RDF/XML ({error}). {available(Family.GRAPH)}"
        ) from error


# --- SPARQL 1.1 Query Results JSON Format ---------------------------------------------------------------


def json_term(term: Node) -> dict[str, str]:
    """One RDF term as a binding of the SPARQL 1.1 Query Results JSON Format."""
    if isinstance(term, URIRef):
        return {"type": "uri", "value": str(term)}
    if isinstance(term, BNode):
        return {"type": "bnode", "value": str(term)}
    if isinstance(term, Literal):
        encoded = {"type": "literal", "value": str(term)}
        if term.language:
            encoded["xml:lang"] = term.language
        elif term.datatype:
            encoded["datatype"] = str(term.datatype)
        return encoded
    raise TypeError(f"cannot write {term!r} in a SPARQL result")


def json_results(variables: Sequence[str], bindings: Sequence[Mapping[str, Mapping[str, str]]]) -> str:
    """A SELECT result in the SPARQL 1.1 Query Results JSON Format, from rows of terms encoded by :func:`json_term`."""
    document = {"head": {"vars": list(variables)}, "results": {"bindings": bindings}}
    # Compact: json's C encoder writes it (an indented document goes through its pure-Python encoder, 5x slower).
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


def _json_rows(variables: Sequence[Variable], rows: Sequence[Row]) -> str:
    bindings = [{str(var): json_term(row[var]) for var in variables if row.get(var) is not None} for row in rows]
    return json_results([str(var) for var in variables], bindings)


def _json_boolean(answer: bool) -> str:
    return json.dumps({"head": {}, "boolean": answer}) + "\n"


# --- SPARQL Query Results XML Format --------------------------------------------------------------------


def _xml_term(term: Node) -> str:
    if isinstance(term, URIRef):
        return f"<uri>{escape(str(term))}</uri>"
    if isinstance(term, BNode):
        return f"<bnode>{escape(str(term))}</bnode>"
    if isinstance(term, Literal):
        if term.language:
            attribute = f" xml:lang={quoteattr(term.language)}"
        elif term.datatype:
            attribute = f" datatype={quoteattr(str(term.datatype))}"
        else:
            attribute = ""
        return f"<literal{attribute}>{escape(str(term))}</literal>"
    raise TypeError(f"cannot write {term!r} in a SPARQL result")


def _xml_document(head: str, body: str) -> str:
    declaration = '<?xml version="1.0" encoding="UTF-8"?>'
    return f'{declaration}\n<sparql xmlns="{_RESULTS_NS}">\n{head}\n{body}\n</sparql>\n'


def _xml_rows(variables: Sequence[Variable], rows: Sequence[Row]) -> str:
    head = "<head>" + "".join(f"<variable name={quoteattr(str(var))}/>" for var in variables) + "</head>"
    results = []
    for row in rows:
        bindings = "".join(
            f"<binding name={quoteattr(str(var))}>{_xml_term(row[var])}</binding>"
            for var in variables
            if row.get(var) is not None
        )
        results.append(f" <result>{bindings}</result>\n")
    return _xml_document(head, "<results>\n" + "".join(results) + "</results>")


def _xml_boolean(answer: bool) -> str:
    return _xml_document("<head/>", f"<boolean>{str(answer).lower()}</boolean>")


# --- SPARQL 1.1 Query Results CSV and TSV Formats -------------------------------------------------------


def _csv_term(term: Node | None) -> str:
    if term is None:
        return ""
    if isinstance(term, BNode):
        return f"_:{term}"
    return str(term)


def _csv_rows(variables: Sequence[Variable], rows: Sequence[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([str(var) for var in variables])
    for row in rows:
        writer.writerow([_csv_term(row.get(var)) for var in variables])
    return out.getvalue()


def _csv_boolean(answer: bool) -> str:
    return f"_askResult\r\n{str(answer).lower()}\r\n"


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _tsv_term(term: Node | None) -> str:
    if term is None:
        return ""
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, BNode):
        return f"_:{term}"
    if isinstance(term, Literal):
        quoted = '"' + str(term).translate(_TSV_ESCAPES) + '"'
        if term.language:
            return f"{quoted}@{term.language}"
        if term.datatype:
            return f"{quoted}^^<{term.datatype}>"
        return quoted
    raise TypeError(f"cannot write {term!r} in a SPARQL result")


def _tsv_rows(variables: Sequence[Variable], rows: Sequence[Row]) -> str:
    lines = ["\t".join(f"?{var}" for var in variables)]
    lines.extend("\t".join(_tsv_term(row.get(var)) for var in variables) for row in rows)
    return "\n".join(lines) + "\n"


def _tsv_boolean(answer: bool) -> str:
    return f"?_askResult\n{str(answer).lower()}\n"


_ROW_WRITERS: dict[str, Callable[[Sequence[Variable], Sequence[Row]], str]] = {
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
