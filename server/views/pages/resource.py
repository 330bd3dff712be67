"""The resource page's references: one number per source, one shorthand per evidence class.

A statement shows short markers (``[2]`` for its source, ``NAS`` for its evidence class) instead of the full
title and evidence label; the page ends with the numbered reference list (full citation, DOI, web page) and
explains each evidence class it uses once. Sources are numbered in the order the page first shows them:
statements, incoming links, codes, then the resource's own sources (``cco:supportedBy``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rdflib import URIRef

from calcinosis_kg.ontology import OBO

if TYPE_CHECKING:
    from calcinosis_kg.server.views.pages.model import ResourceView, SourceView
from calcinosis_kg.server.views.pages.terms import TermView

EVIDENCE: Mapping[str, tuple[str, str]] = {
    str(OBO.ECO_0000303): ("NAS", "the source's author states it, without a reference of its own"),
    str(OBO.ECO_0000304): ("TAS", "a work the article cites states it; that work is the source given"),
    str(OBO.ECO_0000305): ("IC", "the curators infer it from the source(s) given (a classification, a reading)"),
    str(OBO.ECO_0000312): ("DB", "taken, after review, from a database such as Mondo"),
    str(OBO.ECO_0006017): ("PCS", "HPO's curators state what a published clinical study reports"),
    str(OBO.ECO_0000501): ("IEA", "HPO's annotation made by software, without a curator's review"),
}
"""Shorthand and meaning of the evidence classes (graph/knowledge/README.md, "Who asserted what")."""


@dataclass(frozen=True)
class EvidenceKind:
    """An evidence class as the page explains it once."""

    iri: str
    code: str
    """``ECO:0000303``."""
    short: str
    label: str
    meaning: str


@dataclass(frozen=True)
class Reference:
    number: int
    source: SourceView


def _evidence_kind(term: TermView) -> EvidenceKind:
    iri = term.iri or term.text
    short, meaning = EVIDENCE.get(iri, ("", ""))
    local = iri.rsplit("/", 1)[-1]
    code = local.replace("_", ":", 1) if local.startswith("ECO_") else term.curie or local
    return EvidenceKind(iri, code, short or code, term.text, meaning)


class References:
    """Numbers of the sources and kinds of the evidence of one resource page (see the module's docstring)."""

    def __init__(self, page: ResourceView, details: Callable[[URIRef], SourceView]) -> None:
        """``details`` gives the citation of a source IRI (from the page's description)."""
        statements = [s for relation in (*page.statements, *page.incoming) for s in relation.statements]
        sources: list[TermView] = [source for s in statements for source in (*s.sources, *s.level_sources)]
        sources += [source for group in page.mappings for m in group.mappings for source in m.sources]
        sources += [source.term for source in page.sources]
        self._numbers: dict[str, int] = {}
        for source in sources:
            if source.iri is not None:
                self._numbers.setdefault(source.iri, len(self._numbers) + 1)
        self.references = [Reference(number, details(URIRef(iri))) for iri, number in self._numbers.items()]
        self._kinds = {kind.iri: kind for kind in (_evidence_kind(e) for s in statements for e in s.evidence)}

    def numbers(self, sources: Sequence[TermView]) -> list[int]:
        """The reference numbers of ``sources``, ascending."""
        return sorted({self._numbers[source.iri] for source in sources if source.iri in self._numbers})

    def kinds(self, evidence: Sequence[TermView]) -> list[EvidenceKind]:
        """The evidence classes of a statement."""
        return [self._kinds[term.iri or term.text] for term in evidence if (term.iri or term.text) in self._kinds]

    @property
    def legend(self) -> list[EvidenceKind]:
        """Every evidence class the page uses, by shorthand."""
        return sorted(self._kinds.values(), key=lambda kind: kind.short)
