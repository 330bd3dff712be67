"""A synthetic graph "shaped like ours": the built graph's instance data replicated to a target size.

The built graph has two parts. The *ontology part* (classes, properties, evidence codes, their blank-node
restrictions and lists) is written once. The *instance part* is every triple whose subject is an entity IRI
(``https://w3id.org/calcinosis-kg/id/...``) or a blank node attached to one, including the ``owl:Axiom``
annotation blank nodes that carry sources, evidence and SSSOM mapping metadata. It is written ``k`` times:
copy 0 is the original (so the canned queries' default parameters still name real entities) and copy ``i``
suffixes every entity IRI and blank-node label with ``-s{i}`` and every label-like literal with `` s{i}``.
The result keeps the predicates, their proportions, the IRI space, the labels and the annotation blank nodes
of the real graph; the copies are disconnected from each other, and external IRIs (codes, evidence classes)
are shared by all copies, as a larger curated graph would share them.

Generation is text templating over the N-Triples lines (no RDF library in the loop): about a second per
million triples.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

ENTITY_NS = "https://w3id.org/calcinosis-kg/id/"
TEXT_PREDICATES = frozenset(
    {
        "<http://www.w3.org/2000/01/rdf-schema#label>",
        "<http://www.w3.org/2004/02/skos/core#prefLabel>",
        "<http://www.w3.org/2004/02/skos/core#altLabel>",
        "<http://www.w3.org/2004/02/skos/core#definition>",
        "<http://www.w3.org/2004/02/skos/core#editorialNote>",
        "<http://purl.org/dc/terms/title>",
        "<https://w3id.org/sssom/object_label>",
        "<https://w3id.org/sssom/comment>",
    }
)
"""Predicates whose literal objects get the copy suffix (so labels stay distinct across copies)."""

_LINE = re.compile(r"^(\S+) (\S+) (.+) \.\s*$")
_ENTITY_IRI = re.compile(r"<" + re.escape(ENTITY_NS) + r"([^>]*)>")
_BNODE = re.compile(r"^_:(\S+)$")
_TERM_MARK = "\x01"
"""Placeholder for the copy suffix of IRIs and blank nodes (``-s{i}``)."""
_TEXT_MARK = "\x02"
"""Placeholder for the copy suffix of label-like literals (`` s{i}``)."""


@dataclass(frozen=True)
class SyntheticGraph:
    """A generated N-Triples file and how it was made."""

    path: Path
    triples: int
    copies: int
    ontology_triples: int
    instance_triples: int
    """Triples in one copy of the instance part."""


def split_parts(lines: list[str]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Split N-Triples lines into the ontology part (kept as lines) and the instance part (as terms).

    A blank node belongs to the instance part when it is connected, through triples between blank nodes,
    to a triple that mentions an entity IRI (as the ``owl:Axiom`` nodes are, by ``owl:annotatedSource``).
    """
    parsed: list[tuple[str, str, str]] = []
    for line in lines:
        match = _LINE.match(line)
        if match:
            parsed.append((match[1], match[2], match[3]))
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for subject, _, obj in parsed:
        if subject.startswith("_:") and obj.startswith("_:"):
            parent[find(subject)] = find(obj)
    instance_roots: set[str] = set()
    for subject, _, obj in parsed:
        mentions_entity = f"<{ENTITY_NS}" in subject or obj.startswith(f"<{ENTITY_NS}")
        for term in (subject, obj):
            if term.startswith("_:") and (mentions_entity or subject.startswith(f"<{ENTITY_NS}")):
                instance_roots.add(find(term))
    ontology: list[str] = []
    instance: list[tuple[str, str, str]] = []
    for subject, predicate, obj in parsed:
        is_instance = subject.startswith(f"<{ENTITY_NS}") or (
            subject.startswith("_:") and find(subject) in instance_roots
        )
        if is_instance:
            instance.append((subject, predicate, obj))
        else:
            ontology.append(f"{subject} {predicate} {obj} .\n")
    return ontology, instance


def _template(subject: str, predicate: str, obj: str) -> str:
    """One instance triple with copy placeholders in its entity IRIs, blank nodes and label literal."""

    def mark(term: str) -> str:
        term = _ENTITY_IRI.sub(lambda m: f"<{ENTITY_NS}{m[1]}{_TERM_MARK}>", term)
        return _BNODE.sub(lambda m: f"_:{m[1]}{_TERM_MARK}", term)

    if obj.startswith('"') and predicate in TEXT_PREDICATES:
        end = obj.rindex('"')
        obj_text = obj[:end] + _TEXT_MARK + obj[end:]
    else:
        obj_text = mark(obj)
    return f"{mark(subject)} {predicate} {obj_text} .\n"


def generate(source: Path, target: Path, triples: int) -> SyntheticGraph:
    """Write to ``target`` an N-Triples graph of at least ``triples`` triples shaped like ``source``.

    ``source`` is the built graph (N-Triples). Whole copies of the instance part are written, so the result
    has at most one copy's worth of triples more than asked (about 7,000).
    """
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    ontology, instance = split_parts(lines)
    if not instance:
        raise ValueError(f"{source}: no triple about an entity under {ENTITY_NS}")
    block = "".join(_template(*terms) for terms in instance)
    copies = max(1, math.ceil((triples - len(ontology)) / len(instance)))
    with target.open("w", encoding="utf-8") as out:
        out.writelines(ontology)
        for copy in range(copies):
            term_tag, text_tag = (f"-s{copy}", f" s{copy}") if copy else ("", "")
            out.write(block.replace(_TERM_MARK, term_tag).replace(_TEXT_MARK, text_tag))
    return SyntheticGraph(
        path=target,
        triples=len(ontology) + copies * len(instance),
        copies=copies,
        ontology_triples=len(ontology),
        instance_triples=len(instance),
    )
