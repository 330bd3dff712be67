"""The curated files' vocabulary (``graph/knowledge/*.yaml``, documented in ``graph/knowledge/README.md``): the
keys a file, an entity and an assertion may have, the evidence shorthands and the qualifiers an assertion may
carry. :mod:`.compiler` checks the files against it and compiles them into RDF.
"""

from __future__ import annotations

from rdflib import URIRef
from rdflib.namespace import SKOS

from calcinosis_kg.ontology import CCO, OBO

EVIDENCE_CODES: dict[str, URIRef] = {
    "NAS": OBO.ECO_0000303,  # author statement without traceable support used in manual assertion
    "TAS": OBO.ECO_0000304,  # author statement supported by traceable reference used in manual assertion
    "IC": OBO.ECO_0000305,  # curator inference used in manual assertion
    "DB": OBO.ECO_0000312,  # imported information used in manual assertion (a statement taken from a database)
}
"""Evidence shorthands accepted in the curated files, mapped to ECO classes: who asserted what.

NAS: the source's author states it (the seed article gives no reference for its statements). TAS: the cited work
itself states it (a review tracing it to its references). IC: the curators infer it from the sources and their own
knowledge (the assertion says so in a note). DB: the curators take it from a database (a terminology resource)."""

QUALIFIERS: dict[str, URIRef] = {
    "frequency": CCO.frequency,
    "stage": CCO.stage,
    "certainty": CCO.certainty,
    "context": CCO.context,
    "note": SKOS.editorialNote,
}
"""Keys of an assertion that become annotations on its owl:Axiom."""

ALLOWED_QUALIFIER_VALUES: dict[str, frozenset[str]] = {
    "frequency": frozenset({"usually", "often", "sometimes", "rarely"}),
    "stage": frozenset({"early", "late"}),
    "certainty": frozenset({"suspected", "disputed"}),
}

ENTITY_KEYS = frozenset(
    {
        "id",
        "type",
        "label",
        "synonyms",
        "source_wording",
        "definition",
        "note",
        "sources",
        "values",
        "relations",
        "subjects",
    }
)
EVIDENCE_LEVEL_KEYS = frozenset({"evidence_level", "evidence_level_sources"})
"""Keys of an assertion giving its evidence level (a notation of ``cco:EvidenceLevelScheme``) and the sources that
level rests on (default: the assertion's own sources); written as ``cco:evidenceLevel`` and
``cco:evidenceLevelSource`` on its owl:Axiom."""
ASSERTION_KEYS = frozenset({"to", "value", "property", "sources", "evidence", *QUALIFIERS, *EVIDENCE_LEVEL_KEYS})
FILE_KEYS = frozenset({"sources", "evidence", "entities"})

SUBJECT_NOTE = "Curator inference: subject indexing; the work's title names this subject."
"""Default note of a ``subjects`` assertion (``<source> dcterms:subject <entity>``): who chose the subject."""
