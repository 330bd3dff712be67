"""The genetic differential: the rare and genetic diseases that the Human Phenotype Ontology's disease annotations
(the HPO import, named graph ``.../graph/hpo``) say present with an HPO term a resource is mapped to, with the genes
HPO links to them. One definition for the three places that show it: the resource page's section, the home page's
section (for calcinosis cutis, :func:`mapped_hpo_terms`) and the HPO part of the neighbourhood graph
(:func:`~.neighbourhood.hpo_groups`).

The rows come from the canned query :data:`QUERY` (``queries/rare-diseases-with-calcinosis.rq``), run through the
query pool with its ``phenotype`` parameter bound to each HPO term the resource is mapped to (exact, narrower or
broader match: the row says which), so the section shows what ``/queries/rare-diseases-with-calcinosis`` answers;
each disease's genes come from :data:`GENES_QUERY` (``queries/genes-implicated.rq``) bound the same way.
Each row carries its source marker: HPO's reference (PubMed, OMIM or Orphanet entry) and HPO's evidence code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
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
GENES_QUERY = "genes-implicated"
"""The canned query giving the genes HPO links to each disease."""
HPO_GRAPH = "https://w3id.org/calcinosis-kg/graph/hpo"
"""The named graph the rows are read from (``graph.imports.hpo_rdf.HPO_GRAPH``; the server does not import the
compiler), named by the neighbourhood graph's elements as their source."""
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
    genes: tuple[TermView, ...] = ()
    """The genes HPO's ``genes_to_phenotype.txt`` links to the disease (symbol, NCBI Gene link), by symbol."""


def hpo_terms(document: Graph, iri: URIRef) -> dict[URIRef, str]:
    """The HPO terms ``iri`` is mapped to in its description, with how (:data:`MATCHES`)."""
    return {
        term: match
        for predicate, match in MATCHES.items()
        for term in document.objects(iri, predicate)
        if isinstance(term, URIRef) and term.startswith(HPO_TERM)
    }


MAPPED_TERMS = f"""PREFIX skos: <{SKOS}>
SELECT ?match ?term WHERE {{
  VALUES ?match {{ {" ".join(f"<{predicate}>" for predicate in MATCHES)} }}
  ?resource ?match ?term .
  FILTER (isIRI(?term) && STRSTARTS(STR(?term), "{HPO_TERM}"))
}}"""
"""The HPO terms a resource (``?resource``, bound) is mapped to, for a page that has no description at hand."""


def _rows(pool: QueryPool, sparql: str, **bindings: URIRef) -> list[dict[str, Any]]:
    job = Job(sparql, BASE, "application/sparql-results+json", bindings=tuple(bindings.items()))
    document: dict[str, Any] = json.loads(pool.run(job).body)
    return [{var: value["value"] for var, value in row.items()} for row in document["results"]["bindings"]]


def mapped_hpo_terms(pool: QueryPool, iri: URIRef) -> dict[URIRef, str]:
    """The HPO terms ``iri`` is mapped to, with how (:data:`MATCHES`), read through the pool (the home page's
    :func:`hpo_terms`). Raises the pool's :class:`EndpointError` when it refuses the query now."""
    return {URIRef(row["term"]): MATCHES[URIRef(row["match"])] for row in _rows(pool, MAPPED_TERMS, resource=iri)}


def _genes(pool: QueryPool, query: CannedQuery, term: URIRef) -> dict[str, list[TermView]]:
    """The genes of each disease presenting with ``term``, by disease IRI, each gene labelled with its symbol."""
    genes: dict[str, list[TermView]] = {}
    for row in _rows(pool, query.sparql, phenotype=term):
        gene = term_view(URIRef(row["gene"]), lambda _: None)
        genes.setdefault(row["disease"], []).append(replace(gene, text=row["symbol"]))
    return genes


def genetic_differential(
    pool: QueryPool | None,
    catalog: Mapping[str, CannedQuery],
    document: Graph,
    iri: URIRef,
    labeler: Labeler,
) -> list[DifferentialRow]:
    """The section's rows for the page of ``iri``, from the HPO terms its description maps it to."""
    return differential(pool, catalog, hpo_terms(document, iri), labeler, about=iri)


def differential(
    pool: QueryPool | None,
    catalog: Mapping[str, CannedQuery],
    terms: Mapping[URIRef, str],
    labeler: Labeler,
    about: URIRef | None = None,
) -> list[DifferentialRow]:
    """The rows of the HPO ``terms`` (each with how the resource ``about`` is mapped to it), sorted by match (the
    same term first), term, disease and reference; none when no term has annotations, or when the pool refuses a
    query now (the page goes without the section, the next visit retries)."""
    query, genes_query = catalog.get(QUERY), catalog.get(GENES_QUERY)
    if pool is None or query is None or not terms:
        return []
    found = []
    try:
        for term in sorted(terms):
            genes = _genes(pool, genes_query, term) if genes_query is not None else {}
            for row in _rows(pool, query.sparql, phenotype=term):
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
                        genes=tuple(sorted(genes.get(row["disease"], []), key=lambda gene: gene.text)),
                    )
                )
    except EndpointError as refused:
        log.warning("genetic differential of %s not shown: %s", about, refused)
        return []
    order = list(MATCHES.values())  # the resource's own term first, then narrower, then broader ones
    return sorted(
        found, key=lambda r: (order.index(r.match), r.phenotype.text.lower(), r.disease.text.lower(), r.reference.text)
    )
