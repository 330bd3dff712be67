"""RDF terms as plain values, query results, and the readers of every result format the suite and endpoint use.

A literal's datatype is always explicit: ``"a"`` is ``"a"^^xsd:string`` (RDF 1.1) and a language-tagged string is
an ``rdf:langString`` with its tag in lower case (tags compare case-insensitively). Lexical forms are kept as
written: ``"01"^^xsd:integer`` and ``"1"^^xsd:integer`` are different terms, as the W3C result comparison wants.
Nothing here uses rdflib: its parsers change some lexical forms.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
RS = "http://www.w3.org/2001/sw/DataAccess/tests/result-set#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SRX = "{http://www.w3.org/2005/sparql-results#}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True, order=True)
class Term:
    """An IRI (``iri``), a blank node (``bnode``, its label) or a literal; ``text`` is a CSV cell (no RDF type)."""

    kind: str
    value: str
    datatype: str = ""
    language: str = ""

    def __str__(self) -> str:
        if self.kind == "iri":
            return f"<{self.value}>"
        if self.kind == "bnode":
            return f"_:{self.value}"
        if self.kind == "text":
            return repr(self.value)
        text = json.dumps(self.value, ensure_ascii=False)
        if self.language:
            return f"{text}@{self.language}"
        return text if self.datatype == XSD_STRING else f"{text}^^<{self.datatype}>"


def iri(value: str) -> Term:
    return Term("iri", value)


def bnode(label: str) -> Term:
    return Term("bnode", label)


def literal(value: str, datatype: str | None = None, language: str | None = None) -> Term:
    if language:
        return Term("literal", value, LANG_STRING, language.lower())
    return Term("literal", value, datatype or XSD_STRING)


def from_oxigraph(term: object) -> Term:
    if isinstance(term, ox.NamedNode):
        return iri(term.value)
    if isinstance(term, ox.BlankNode):
        return bnode(term.value)
    if isinstance(term, ox.Literal):
        return literal(term.value, term.datatype.value, term.language)
    raise TypeError(f"unsupported term {term!r}")


Solution = tuple[tuple[str, Term], ...]
"""A solution: its bound variables with their values, sorted by variable name."""


def solution(bindings: dict[str, Term]) -> Solution:
    return tuple(sorted(bindings.items()))


@dataclass
class Results:
    """A query's results: a boolean, a table of solutions (``ordered`` when the order is given) or a graph."""

    kind: str
    """``boolean``, ``solutions`` or ``graph``."""
    boolean: bool | None = None
    variables: list[str] = field(default_factory=list)
    solutions: list[Solution] = field(default_factory=list)
    triples: list[tuple[Term, Term, Term]] = field(default_factory=list)
    ordered: bool = True
    """For solutions: False when the source gives no order (an RDF result set without ``rs:index``)."""


# --- SPARQL results: XML, JSON, TSV, CSV ---------------------------------------------------------------------


def read_srx(text: str) -> Results:
    root = ET.fromstring(text)  # noqa: S314 - the suite's own files and our own server's answers
    boolean = root.find(f"{SRX}boolean")
    if boolean is not None:
        return Results("boolean", boolean=(boolean.text or "").strip() == "true")
    head = root.find(f"{SRX}head")
    variables = [v.attrib["name"] for v in head.findall(f"{SRX}variable")] if head is not None else []
    rows: list[Solution] = []
    for result in root.iter(f"{SRX}result"):
        bindings: dict[str, Term] = {}
        for binding in result.findall(f"{SRX}binding"):
            node = next(iter(binding))
            name = node.tag.removeprefix(SRX)
            text = node.text or ""
            if name == "uri":
                bindings[binding.attrib["name"]] = iri(text.strip())
            elif name == "bnode":
                bindings[binding.attrib["name"]] = bnode(text.strip())
            else:
                bindings[binding.attrib["name"]] = literal(text, node.attrib.get("datatype"), node.attrib.get(XML_LANG))
        rows.append(solution(bindings))
    return Results("solutions", variables=variables, solutions=rows)


def json_term(value: dict[str, str]) -> Term:
    kind = value["type"]
    if kind == "uri":
        return iri(value["value"])
    if kind == "bnode":
        return bnode(value["value"])
    if kind in ("literal", "typed-literal"):
        return literal(value["value"], value.get("datatype"), value.get("xml:lang"))
    raise ValueError(f"unknown JSON result term type {kind!r}")


def read_srj(text: str) -> Results:
    document = json.loads(text)
    if "boolean" in document:
        if not isinstance(document["boolean"], bool):
            raise ValueError(f"the JSON boolean is {document['boolean']!r}, not true or false")
        return Results("boolean", boolean=document["boolean"])
    rows = [
        solution({name: json_term(value) for name, value in binding.items()})
        for binding in document["results"]["bindings"]
    ]
    return Results("solutions", variables=list(document["head"].get("vars", [])), solutions=rows)


def tsv_term(cell: str) -> Term:
    """A TSV cell: a term in Turtle syntax (numbers and booleans abbreviated), parsed by pyoxigraph."""
    if cell.startswith("_:"):
        return bnode(cell[2:])
    document = f"<urn:s> <urn:p> {cell} ."
    triple = next(iter(ox.parse(input=document.encode(), format=ox.RdfFormat.TURTLE)))
    return from_oxigraph(triple.object)


def read_tsv(text: str) -> Results:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = lines[0].rstrip("\r").split("\t") if lines else []
    variables = [name.removeprefix("?").removeprefix("$") for name in header]
    rows: list[Solution] = []
    for line in lines[1:]:
        cells = line.rstrip("\r").split("\t")
        if len(cells) != len(variables):
            raise ValueError(f"TSV row {line!r} has {len(cells)} cells for {len(variables)} variables")
        rows.append(solution({name: tsv_term(cell) for name, cell in zip(variables, cells, strict=True) if cell}))
    return Results("solutions", variables=variables, solutions=rows)


def read_csv(text: str) -> Results:
    """CSV cells are strings without type: each value is a ``text`` term, a ``_:label`` a blank node."""
    reader = csv.reader(io.StringIO(text, newline=""))
    table = list(reader)
    variables = table[0] if table else []
    rows: list[Solution] = []
    for cells in table[1:]:
        if len(cells) != len(variables):
            raise ValueError(f"CSV row {cells!r} has {len(cells)} cells for {len(variables)} variables")
        bindings = {name: _csv_term(cell) for name, cell in zip(variables, cells, strict=True) if cell}
        rows.append(solution(bindings))
    return Results("solutions", variables=variables, solutions=rows)


def _csv_term(cell: str) -> Term:
    return bnode(cell[2:]) if cell.startswith("_:") else Term("text", cell)


def as_csv(results: Results) -> Results:
    """``results`` as a CSV writer renders them: IRIs and literals become their text, blank nodes stay."""
    rows = [
        tuple((name, term if term.kind == "bnode" else Term("text", term.value)) for name, term in row)
        for row in results.solutions
    ]
    return Results("solutions", variables=results.variables, solutions=rows, ordered=results.ordered)


# --- RDF: graphs, and result sets written in RDF (the rs: vocabulary of the DAWG tests) -----------------------

RDF_FORMATS = {".ttl": ox.RdfFormat.TURTLE, ".rdf": ox.RdfFormat.RDF_XML, ".nt": ox.RdfFormat.N_TRIPLES}


def read_rdf(data: bytes, rdf_format: ox.RdfFormat, base: str | None = None) -> list[tuple[Term, Term, Term]]:
    return [
        (from_oxigraph(t.subject), from_oxigraph(t.predicate), from_oxigraph(t.object))
        for t in ox.parse(input=data, format=rdf_format, base_iri=base)
    ]


def graph_results(triples: list[tuple[Term, Term, Term]]) -> Results:
    """A graph, unless it holds an ``rs:ResultSet``: then the result set (boolean or solutions) it describes."""
    sets = [s for s, p, o in triples if p.value == RDF_TYPE and o == iri(RS + "ResultSet")]
    if not sets:
        return Results("graph", triples=triples)
    index: dict[tuple[Term, str], list[Term]] = {}
    for s, p, o in triples:
        index.setdefault((s, p.value), []).append(o)
    result_set = sets[0]
    if (result_set, RS + "boolean") in index:
        return Results("boolean", boolean=index[(result_set, RS + "boolean")][0].value == "true")
    variables = [term.value for term in index.get((result_set, RS + "resultVariable"), [])]
    numbered: list[tuple[int, Solution]] = []
    ordered = False
    for node in index.get((result_set, RS + "solution"), []):
        bindings = {}
        for binding in index.get((node, RS + "binding"), []):
            name = index[(binding, RS + "variable")][0].value
            bindings[name] = index[(binding, RS + "value")][0]
        position = index.get((node, RS + "index"))
        ordered = ordered or position is not None
        numbered.append((int(position[0].value) if position else 0, solution(bindings)))
    rows = [row for _, row in sorted(numbered, key=lambda entry: entry[0])] if ordered else [r for _, r in numbered]
    return Results("solutions", variables=variables, solutions=rows, ordered=ordered)


def read_expected(path: Path, iri_of_file: str) -> Results:
    """The expected results of a test, from its result file (format by extension)."""
    suffix = path.suffix
    if suffix == ".srx":
        return read_srx(path.read_text(encoding="utf-8"))
    if suffix == ".srj":
        return read_srj(path.read_text(encoding="utf-8"))
    if suffix == ".tsv":
        return read_tsv(path.read_text(encoding="utf-8"))
    if suffix == ".csv":
        return read_csv(path.read_text(encoding="utf-8"))
    return graph_results(read_rdf(path.read_bytes(), RDF_FORMATS[suffix], iri_of_file))
