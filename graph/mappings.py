"""Mappings to standard code systems: read the curated SSSOM table, check it, and add it to the graph.

The curated source is ``graph/mappings/mappings.sssom.tsv`` (SSSOM TSV: a ``#`` YAML metadata block, then one
row per mapping). Each row becomes a SKOS mapping triple, ``cc:x skos:exactMatch <http://snomed.info/id/...>``,
plus an ``owl:Axiom`` annotation carrying the SSSOM fields (object label, justification, author, date,
confidence, where the code was verified) and ``dcterms:source`` the mapping set and evidence resources.

A row carries the code system's own term (``object_label``), or is justified ``semapv:MappingChaining``: a public
mapping set (Mondo's SSSOM sets, HPO's xrefs; the rows relied on are copied in ``mondo-evidence.sssom.tsv`` and
``hpo-evidence.sssom.tsv``) pairs the code with the Mondo/HPO class the entity is mapped to. Such a row is in the
graph without a label (never Mondo's or HPO's), evidence ECO:0000312; the build refuses one no evidence row attests.
Any other row without a term is left out (``unmapped.tsv`` lists the entities left without a code of a system).

CURIE prefixes are those of the SSSOM file (Mondo's conventions: ``SCTID``, ``ICD10CM``, ``UMLS``...); their
IRI expansions come from the Bioregistry (its RDF URI format where it has one, e.g. ``http://snomed.info/id/``
for SNOMED CT), never from a hand-written table: the build computes them with
:func:`calcinosis_kg.graph.codesystems.bioregistry_code_systems`.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, XSD

from calcinosis_kg.errors import CodeSyntaxError, CurationError
from calcinosis_kg.graph.codes import check_code
from calcinosis_kg.graph.codesystems import bioregistry_code_systems
from calcinosis_kg.ontology import CC, HAS_EVIDENCE, OBO, SEMAPV, SSSOM, SSSOM_PREDICATES

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"
MAPPINGS_FILE = MAPPINGS_DIR / "mappings.sssom.tsv"
MONDO_EVIDENCE_FILE = MAPPINGS_DIR / "mondo-evidence.sssom.tsv"
HPO_EVIDENCE_FILE = MAPPINGS_DIR / "hpo-evidence.sssom.tsv"
UNMAPPED_FILE = MAPPINGS_DIR / "unmapped.tsv"

CURATOR_INFERENCE = OBO.ECO_0000305
"""ECO 'curator inference used in manual assertion': a mapping the curators judged themselves."""
IMPORTED_INFORMATION = OBO.ECO_0000312
"""ECO 'imported information used in manual assertion': a mapping taken, after review, from a public mapping set
(Mondo's SSSOM sets, HPO's xrefs): the entity is mapped to a Mondo or HPO class, and that set maps the class to the
code (see :func:`chained_predicate`)."""

CHAINING = "semapv:MappingChaining"
"""The justification of a row whose code a public mapping set pairs with the class the entity is mapped to. Such a
row may have an empty ``object_label`` (the code system's own term not seen in public material): the code is in the
graph and the exports all the same, without a label, since the pairing is attested and the label is never copied
from Mondo or HPO. The build refuses a chaining row that no evidence file attests."""
XREF = "oboInOwl:hasDbXref"
"""The predicate of HPO's ``xref`` rows in ``hpo-evidence.sssom.tsv``; read as an exact match when chaining."""

SSSOM_COLUMNS = (
    "subject_id",
    "subject_label",
    "predicate_id",
    "object_id",
    "object_label",
    "mapping_justification",
    "author_id",
    "mapping_date",
    "confidence",
    "see_also",
    "comment",
)
"""The SSSOM columns of the curated tables and of the released mapping set, in the release's order."""
OPTIONAL_COLUMNS = frozenset({"confidence", "comment"})
REQUIRED_COLUMNS = tuple(column for column in SSSOM_COLUMNS if column not in OPTIONAL_COLUMNS)
"""The columns every curated row must have."""

MAPPING_SET_SOURCE = CC["calcinosis-kg-mapping-set"]
EVIDENCE_SOURCES: dict[str, URIRef] = {
    "monarch-initiative/mondo": CC["mondo-mapping-sets"],
    "simple-icd-10-cm": CC["icd-10-cm-tabular-list"],
}
"""Evidence resources named in ``see_also`` that are Source entities of the graph."""


@dataclass(frozen=True)
class Mapping:
    """One curated mapping from a graph entity to a code."""

    subject: str
    subject_label: str
    predicate: str
    object_id: str
    object_label: str
    justification: str
    author_id: str
    mapping_date: str
    confidence: float | None
    see_also: tuple[str, ...]
    comment: str
    imported: bool = False
    """Whether the mapping repeats a public mapping set's (see :data:`IMPORTED_INFORMATION`), else the curators'
    judgement."""

    @property
    def evidence(self) -> URIRef:
        return IMPORTED_INFORMATION if self.imported else CURATOR_INFERENCE

    @property
    def system(self) -> str:
        return self.object_id.split(":", 1)[0]

    @property
    def object_iri(self) -> URIRef:
        return URIRef(bioregistry_code_systems().expand_strict(self.object_id))


@dataclass(frozen=True)
class SSSOMTable:
    """An SSSOM TSV file: its metadata block and its rows."""

    metadata: dict[str, Any]
    rows: list[dict[str, str]]


def read_sssom(path: Path) -> SSSOMTable:
    """Parse the ``#`` YAML metadata block and the TSV rows of an SSSOM file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [line[2:] if line.startswith("# ") else line[1:] for line in lines if line.startswith("#")]
    try:
        metadata = yaml.safe_load("\n".join(header)) or {}
    except yaml.YAMLError as exc:
        raise CurationError(f"{path.name}: metadata block is not valid YAML: {exc}") from exc
    body = [line for line in lines if not line.startswith("#")]
    rows = list(csv.DictReader(body, delimiter="\t", quoting=csv.QUOTE_NONE))
    return SSSOMTable(metadata, rows)


def _mapping(row: dict[str, str], where: str, entity_ids: set[str]) -> Mapping:
    missing = [c for c in REQUIRED_COLUMNS if c not in row]
    if missing:
        raise CurationError(f"{where}: missing column(s) {missing}")
    subject = row["subject_id"].removeprefix("cc:")
    if not row["subject_id"].startswith("cc:") or subject not in entity_ids:
        raise CurationError(f"{where}: subject {row['subject_id']!r} is not an entity of the graph")
    if row["predicate_id"] not in SSSOM_PREDICATES:
        raise CurationError(f"{where}: predicate must be one of {sorted(SSSOM_PREDICATES)}")
    try:
        check_code(row["object_id"])
    except CodeSyntaxError as exc:
        raise CurationError(f"{where}: {exc}") from exc
    if not row["object_label"].strip() and row["mapping_justification"] != CHAINING:
        raise CurationError(
            f"{where}: {row['object_id']} has no object_label (the code system's own term) and is not {CHAINING}"
        )
    if not row["see_also"].strip():
        raise CurationError(f"{where}: {row['object_id']} has no see_also (where the code was verified)")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["mapping_date"]):
        raise CurationError(f"{where}: mapping_date must be YYYY-MM-DD")
    confidence = float(row["confidence"]) if row.get("confidence") else None
    if confidence is not None and not 0 <= confidence <= 1:
        raise CurationError(f"{where}: confidence must be between 0 and 1")
    return Mapping(
        subject=subject,
        subject_label=row["subject_label"],
        predicate=row["predicate_id"],
        object_id=row["object_id"],
        object_label=row["object_label"].strip(),
        justification=row["mapping_justification"],
        author_id=row["author_id"],
        mapping_date=row["mapping_date"],
        confidence=confidence,
        see_also=tuple(s.strip() for s in row["see_also"].split("|") if s.strip()),
        comment=row.get("comment", "").strip(),
    )


def _statements(path: Path) -> set[tuple[str, str, str]]:
    """(class, predicate, code) of every row of an evidence copy, code prefixes standardized."""
    systems = bioregistry_code_systems()
    statements = set()
    for row in read_sssom(path).rows:
        prefix, _, local = row["object_id"].partition(":")
        code = f"{systems.canonical_prefix(prefix) or prefix}:{local}"
        statements.add((row["subject_id"], row["predicate_id"], code))
    return statements


def mondo_statements(path: Path = MONDO_EVIDENCE_FILE) -> set[tuple[str, str, str]]:
    """(Mondo class, predicate, code) of every row of the Mondo evidence copy, code prefixes standardized."""
    return _statements(path)


def hpo_statements(path: Path = HPO_EVIDENCE_FILE) -> set[tuple[str, str, str]]:
    """(HP term, ``oboInOwl:hasDbXref``, code) of every row of the HPO evidence copy (``xref`` lines of hp.obo)."""
    return _statements(path)


def chained_predicate(first: str, second: str) -> str | None:
    """The predicate from an entity to a code, given ``entity first class`` and ``class second code``.

    An exact link (``skos:exactMatch``, or an HPO xref read as one) passes the other predicate through; two broad
    (or two narrow) links stay broad (narrow); any other pair says nothing and gives None.
    """
    second = "skos:exactMatch" if second == XREF else second
    if first == "skos:exactMatch":
        return second
    if second == "skos:exactMatch" or (first == second and first in ("skos:broadMatch", "skos:narrowMatch")):
        return first
    return None


def attesting_classes(mapping: Mapping, mappings: list[Mapping], statements: set[tuple[str, str, str]]) -> list[str]:
    """The Mondo/HPO classes through which a public mapping set pairs ``mapping``'s code with its entity.

    A class counts when the entity is mapped to it (a curated row) and an evidence row maps it to the code, with a
    chained predicate equal to the row's, or exact where the row says ``closeMatch`` (the curators may weaken a
    chained exact match, never strengthen one).
    """
    found = []
    for link in mappings:
        if link.subject != mapping.subject or link.system not in ("MONDO", "HP"):
            continue
        for cls, predicate, code in statements:
            if cls != link.object_id or code != mapping.object_id:
                continue
            chained = chained_predicate(link.predicate, predicate)
            weakened = chained == "skos:exactMatch" and mapping.predicate == "skos:closeMatch"
            if chained == mapping.predicate or weakened:
                found.append(link.object_id)
    return sorted(set(found))


def _mark_imported(mappings: list[Mapping], mondo: set[tuple[str, str, str]]) -> list[Mapping]:
    """Mark each mapping that repeats Mondo's statement about the Mondo class its entity is exactly mapped to,
    and each chaining row (whose attestation :func:`load_mappings` has checked)."""
    mondo_class = {m.subject: m.object_id for m in mappings if m.system == "MONDO" and m.predicate == "skos:exactMatch"}
    return [
        replace(
            m,
            imported=m.justification == CHAINING or (mondo_class.get(m.subject), m.predicate, m.object_id) in mondo,
        )
        for m in mappings
    ]


def load_mappings(entity_ids: set[str], path: Path = MAPPINGS_FILE) -> list[Mapping]:
    """Read and check every row of the curated mapping set; raise CurationError naming the row on a problem.

    A row with an empty ``object_label`` is in the graph when a public mapping set attests it (justification
    :data:`CHAINING`, checked against the Mondo and HPO evidence copies by :func:`attesting_classes`); any other
    row without the code system's own term is left out (its comment says why, and ``unmapped.tsv`` lists the entity
    when it has no other code of that system).
    """
    table = read_sssom(path)
    mappings = []
    numbers: dict[tuple[str, str], int] = {}
    seen: set[tuple[str, str]] = set()
    for number, row in enumerate(table.rows, start=2):
        if not row.get("object_label", "").strip() and row.get("mapping_justification") != CHAINING:
            continue  # left out: code found, term not verified, no public mapping set pairs it with the entity
        mapping = _mapping(row, f"{path.name} row {number}", entity_ids)
        key = (mapping.subject, mapping.object_id)
        if key in seen:
            raise CurationError(f"{path.name} row {number}: {mapping.object_id} mapped twice to cc:{mapping.subject}")
        seen.add(key)
        numbers[key] = number
        mappings.append(mapping)
    mondo = mondo_statements()
    statements = mondo | hpo_statements()
    for m in mappings:
        if m.justification == CHAINING and not attesting_classes(m, mappings, statements):
            raise CurationError(
                f"{path.name} row {numbers[(m.subject, m.object_id)]}: {m.object_id} is {CHAINING}, but no row of "
                f"{MONDO_EVIDENCE_FILE.name} or {HPO_EVIDENCE_FILE.name} pairs it with a class cc:{m.subject} "
                "is mapped to (with a predicate that chains to the row's)"
            )
    return _mark_imported(mappings, mondo)


def mapping_graph(mappings: list[Mapping]) -> Graph:
    """The SKOS mapping triples and their SSSOM axiom annotations."""
    graph = Graph()
    for m in mappings:
        subject, predicate, obj = CC[m.subject], SSSOM_PREDICATES[m.predicate], m.object_iri
        graph.add((subject, predicate, obj))
        digest = hashlib.sha256(f"{subject} {predicate} {obj}".encode()).hexdigest()[:24]
        axiom = BNode(f"map{digest}")
        graph.add((axiom, RDF.type, OWL.Axiom))
        graph.add((axiom, OWL.annotatedSource, subject))
        graph.add((axiom, OWL.annotatedProperty, predicate))
        graph.add((axiom, OWL.annotatedTarget, obj))
        graph.add((axiom, SSSOM.object_id, Literal(m.object_id)))
        if m.object_label:
            graph.add((axiom, SSSOM.object_label, Literal(m.object_label)))
        graph.add((axiom, SSSOM.mapping_justification, SEMAPV[m.justification.removeprefix("semapv:")]))
        graph.add((axiom, SSSOM.author_id, CC[m.author_id.removeprefix("cc:")]))
        graph.add((axiom, SSSOM.mapping_date, Literal(m.mapping_date, datatype=XSD.date)))
        if m.confidence is not None:
            graph.add((axiom, SSSOM.confidence, Literal(m.confidence, datatype=XSD.double)))
        for where in m.see_also:
            graph.add((axiom, SSSOM.see_also, Literal(where)))
        if m.comment:
            graph.add((axiom, SSSOM.comment, Literal(m.comment)))
        graph.add((axiom, HAS_EVIDENCE, m.evidence))
        graph.add((axiom, DCTERMS.source, MAPPING_SET_SOURCE))
        for marker, source in EVIDENCE_SOURCES.items():
            if any(marker in where for where in m.see_also):
                graph.add((axiom, DCTERMS.source, source))
    return graph
