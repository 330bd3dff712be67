"""The home page's picture of the knowledge: calcinosis cutis, its subtypes and their causes, the work-up and
the treatments, read from the graph by SPARQL jobs through the query pool (once per server process, on the
first visit) and drawn as an SVG by :mod:`.picture`.

A subtype whose link the knowledge marks disputed or suspected (calciphylaxis) is drawn, as every link people read
is (:mod:`calcinosis_kg.ontology.subtypes`), but marked: "(disputed)" after its name, a ``disputed`` box and a
dashed line, so that the picture never shows a source's claim as a plain subtype."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rdflib import URIRef

from calcinosis_kg.ontology import BASE, CC, PREFIXES
from calcinosis_kg.ontology.subtypes import qualified_link, subtype_link
from calcinosis_kg.server.engines.contract import Job
from calcinosis_kg.server.views.pages.picture import Box, Picture
from calcinosis_kg.server.workers.pool import QueryPool

ROOT = CC["calcinosis-cutis"]
_PROLOGUE = "".join(f"PREFIX {prefix}: <{namespace}>\n" for prefix, namespace in PREFIXES.items())
SUBTYPE_CAUSES = (
    _PROLOGUE
    + f"""SELECT ?subtype ?subtypeLabel ?certainty ?cause ?causeLabel WHERE {{
  {subtype_link("root", "subtype")}
  ?subtype skos:prefLabel ?subtypeLabel .
  OPTIONAL {{ {qualified_link("root", "subtype")} }}
  OPTIONAL {{ ?subtype cco:hasCause ?cause . ?cause skos:prefLabel ?causeLabel }}
}}"""
)
RELATED = _PROLOGUE + """SELECT ?item ?label WHERE { ?root ?relation ?item . ?item skos:prefLabel ?label }"""

Term = tuple[str, str]
"""(IRI, label)."""


@dataclass(frozen=True)
class KnowledgeMap:
    root: Term
    subtypes: tuple[tuple[Term, tuple[Term, ...]], ...]
    """Each subtype with its causes."""
    workup: tuple[Term, ...]
    treatments: tuple[Term, ...]
    certainty: tuple[tuple[str, str], ...] = ()
    """(subtype IRI, certainty) of each subtype whose link is a source's claim (disputed, suspected)."""


def _select(pool: QueryPool, query: str, **bindings: URIRef) -> list[dict[str, str]]:
    job = Job(
        query=query,
        base=BASE,
        accept="application/sparql-results+json",
        bindings=tuple(bindings.items()),
    )
    document: dict[str, Any] = json.loads(pool.run(job).body)
    return [{var: value["value"] for var, value in row.items()} for row in document["results"]["bindings"]]


def sorted_terms(terms: set[Term]) -> tuple[Term, ...]:
    return tuple(sorted(terms, key=lambda term: term[1].lower()))


def knowledge_map(pool: QueryPool, label: Callable[[URIRef], str | None], root: URIRef = ROOT) -> KnowledgeMap:
    """What the picture shows, from three SELECT jobs with ``?root`` (and ``?relation``) bound."""
    causes: dict[Term, set[Term]] = {}
    certainty: dict[str, str] = {}
    for row in _select(pool, SUBTYPE_CAUSES, root=root):
        found = causes.setdefault((row["subtype"], row["subtypeLabel"]), set())
        if "certainty" in row:
            certainty[row["subtype"]] = row["certainty"]
        if "cause" in row:
            found.add((row["cause"], row["causeLabel"]))
    cco = PREFIXES["cco"]

    def related(relation: str) -> tuple[Term, ...]:
        rows = _select(pool, RELATED, root=root, relation=cco[relation])
        return sorted_terms({(row["item"], row["label"]) for row in rows})

    return KnowledgeMap(
        root=(str(root), label(root) or str(root)),
        subtypes=tuple((subtype, sorted_terms(causes[subtype])) for subtype in sorted_terms(set(causes))),
        certainty=tuple(sorted(certainty.items())),
        workup=related("diagnosedBy"),
        treatments=related("treatedBy"),
    )


ROW = 28
GAP = 36
WORKUP, CONDITION, SUBTYPE, CAUSE = 190, 140, 190, 175
"""Column widths (px): the whole picture is under 1000 px wide, the page's text width."""


def draw(knowledge: KnowledgeMap, path: Callable[[str], str | None]) -> Picture:
    """The picture: work-up | the condition | its subtypes | their causes (two columns), treatments below."""
    picture = Picture(title=f"What the graph says about {knowledge.root[1]}")
    top = ROW + 6
    x_workup, x_root = 0.0, WORKUP + GAP
    x_subtype = x_root + CONDITION + GAP
    x_cause = x_subtype + SUBTYPE + GAP
    for x, width, heading in (
        (x_workup, WORKUP, "Work-up (diagnosed by)"),
        (x_root, CONDITION, "The condition"),
        (x_subtype, SUBTYPE, "Subtypes"),
        (x_cause, 2 * CAUSE, "Their causes"),
    ):
        picture.box(x, 0, width, heading, "heading")

    y = float(top)
    subtype_boxes: list[tuple[Box, tuple[Term, ...], float, str | None]] = []
    certainty = dict(knowledge.certainty)
    for subtype, causes in knowledge.subtypes:
        rows = max(1, math.ceil(len(causes) / 2))
        band = rows * ROW
        qualified = certainty.get(subtype[0])
        label, kind = (f"{subtype[1]} ({qualified})", f"subtype {qualified}") if qualified else (subtype[1], "subtype")
        box = picture.box(x_subtype, y + (band - ROW) / 2, SUBTYPE, label, kind, path(subtype[0]))
        subtype_boxes.append((box, causes, y, qualified))
        y += band + 12
    bottom = y
    middle = (top + bottom) / 2
    root = picture.box(x_root, middle - ROW / 2, CONDITION, knowledge.root[1], "centre", path(knowledge.root[0]))
    for box, causes, band_top, qualified in subtype_boxes:
        picture.connect(root, box, kind=f"edge {qualified}" if qualified else "edge")
        for index, cause in enumerate(causes):
            column, row = index % 2, index // 2
            target = picture.box(
                x_cause + column * (CAUSE + 8), band_top + row * ROW, CAUSE, cause[1], "cause", path(cause[0])
            )
            picture.connect(box, target)
    workup_top = max(float(top), middle - len(knowledge.workup) * ROW / 2)
    for index, test in enumerate(knowledge.workup):
        box = picture.box(x_workup, workup_top + index * ROW, WORKUP, test[1], "test", path(test[0]))
        picture.connect(root, box)
    y = max(bottom, workup_top + len(knowledge.workup) * ROW) + 16
    if knowledge.treatments:
        treatments = picture.box(0, y, WORKUP, "Treatments (treated by)", "heading")
        y += ROW
        per_row = max(1, int((x_cause + 2 * CAUSE + 8) // (WORKUP + 8)))
        for index, treatment in enumerate(knowledge.treatments):
            column, row = index % per_row, index // per_row
            picture.box(column * (WORKUP + 8), y + row * ROW, WORKUP, treatment[1], "treatment", path(treatment[0]))
        picture.connect(root, treatments)
    return picture
