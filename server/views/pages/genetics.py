"""A resource page's genetic differential: the rare and genetic diseases that the Human Phenotype Ontology's disease
annotations (the HPO import, named graph ``.../graph/hpo``) say present with an HPO term the resource is mapped to.

The rows come from the canned query :data:`QUERY` (``queries/rare-diseases-with-calcinosis.rq``), run through the
query pool with its ``phenotype`` parameter bound to each HPO term the resource is mapped to (exact, narrower or
broader match: the row says which), so the section shows what ``/queries/rare-diseases-with-calcinosis`` answers.
Each row carries its source marker: HPO's reference (PubMed, OMIM or Orphanet entry) and HPO's evidence code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rdflib import Graph, URIRef
from rdflib.namespace import SKOS
from rdflib.term import Node

from calcinosis_kg.ontology import BASE, OBO
from calcinosis_kg.queries.catalog import CannedQuery
from calcinosis_kg.server.engines.contract import Job
from calcinosis_kg.server.errors import EndpointError
from calcinosis_kg.server.views.pages.resource import EVIDENCE
from calcinosis_kg.server.views.pages.terms import Labeler, TermView, term_view
from calcinosis_kg.server.workers.pool import QueryPool

log = logging.getLogger(__name__)

QUERY = "rare-diseases-with-calcinosis"
"""The canned query whose rows the section shows."""
HPO_TERM = str(OBO) + "HP_"
MATCHES: Mapping[URIRef, str] = {
    SKOS.exactMatch: "the same term",
    SKOS.narrowMatch: "a narrower term",
    SKOS.broadMatch: "a broader term",
}
"""The mappings from the resource to an HPO term that bring its diseases, and how a row names them."""


@dataclass(frozen=True)
class DifferentialRow:
    """One of HPO's annotations: a disease presenting with an HPO term, as HPO states it."""

    disease: TermView
    code: str
    phenotype: TermView
    match: str
    frequency: str
    reference: TermView
    evidence: str
    """HPO's evidence code as the page's shorthand (``PCS``, ``TAS``, ``IEA``)."""
    evidence_label: str
    release: TermView


def hpo_terms(document: Graph, iri: URIRef) -> dict[URIRef, str]:
    """The HPO terms ``iri`` is mapped to in its description, with how (:data:`MATCHES`)."""
    return {
        term: match
        for predicate, match in MATCHES.items()
        for term in document.objects(iri, predicate)
        if isinstance(term, URIRef) and term.startswith(HPO_TERM)
    }


def _rows(pool: QueryPool, query: CannedQuery, term: URIRef) -> list[dict[str, Any]]:
    job = Job(query.sparql, BASE, "application/sparql-results+json", bindings=(("phenotype", term),))
    document: dict[str, Any] = json.loads(pool.run(job).body)
    return [{var: value["value"] for var, value in row.items()} for row in document["results"]["bindings"]]


def genetic_differential(
    pool: QueryPool | None,
    catalog: Mapping[str, CannedQuery],
    document: Graph,
    iri: URIRef,
    labeler: Labeler,
) -> list[DifferentialRow]:
    """The section's rows for the page of ``iri`` (none when it maps to no HPO term with annotations, or when the
    pool refuses the query now: the page goes without the section, the next visit retries)."""
    terms = hpo_terms(document, iri)
    query = catalog.get(QUERY)
    if pool is None or query is None or not terms:
        return []
    found = []
    try:
        for term in sorted(terms):
            for row in _rows(pool, query, term):
                labels: dict[Node, str] = {
                    URIRef(row[k]): row[f"{k}Label"] for k in ("disease", "phenotype", "reference", "release")
                }

                def view(node: URIRef, labels: dict[Node, str] = labels) -> TermView:
                    return term_view(node, lambda n: labels.get(n) or labeler(n))

                evidence = row.get("evidence", "")
                found.append(
                    DifferentialRow(
                        disease=view(URIRef(row["disease"])),
                        code=row.get("code", ""),
                        phenotype=view(term),
                        match=terms[term],
                        frequency=row.get("frequency", ""),
                        reference=view(URIRef(row["reference"])),
                        evidence=EVIDENCE.get(evidence, (evidence.rsplit("/", 1)[-1], ""))[0],
                        evidence_label=row.get("evidenceLabel", ""),
                        release=view(URIRef(row["release"])),
                    )
                )
    except EndpointError as refused:
        log.warning("genetic differential of %s not shown: %s", iri, refused)
        return []
    return sorted(found, key=lambda r: (r.phenotype.text.lower(), r.disease.text.lower(), r.reference.text))
