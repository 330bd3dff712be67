"""Mondo and SNOMED CT codes for the HPO import's diseases, chained through Mondo's own mapping sets (issue 27).

A disease the import mints from an Orphanet code (``cc:orpha-416`` from ORPHA:416) *is* that code. Where Mondo's
``mondo_exactmatch_orphanet`` set exact-matches the code to **exactly one** Mondo class, the disease gets that class
(``skos:exactMatch MONDO:0002474``, labelled with Mondo's own label for it, as every Mondo code of the graph is); and
where Mondo's ``mondo_exactmatch_sctid`` set exact-matches that class to **exactly one** SNOMED CT concept, the disease
gets it too (exact with exact is exact). Both rows are ``semapv:MappingChaining`` with evidence ECO:0000312 (imported
information), ``see_also`` the Mondo files they rest on; the SNOMED CT row has **no label** (SNOMED CT's own term was
not seen, and Mondo's class label is never copied as a code's term: graph/mappings/README.md). A class with several
SNOMED CT codes, or a code matched by several classes, gives nothing: a chain is taken only where it is unambiguous.

The Mondo rows used are copied, unchanged, in ``graph/mappings/mondo-evidence.sssom.tsv`` (Mondo release
2026-08-04), so the build reads no network and every chained code names the rows that attest it. OMIM-minted diseases
get nothing here: the copy of Mondo's sets at hand (``mondo_exactmatch_*``) has no OMIM set, so no public row pairs an
OMIM code with a Mondo class.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from calcinosis_kg.graph.codesystems import bioregistry_code_systems
from calcinosis_kg.graph.mappings import CHAINING, MONDO_EVIDENCE_FILE, read_sssom
from calcinosis_kg.graph.mappings import Mapping as CodeMapping

MONDO_FILES = (
    "https://github.com/monarch-initiative/mondo/blob/fad2512b4845f483fc1268cdf0bf7a8ef43697cb/src/ontology/mappings/"
)
"""Where the Mondo mapping sets of the evidence copy are published (the commit of Mondo release 2026-08-04)."""
CHAINED_ON = "2026-12-06"
"""The ``mapping_date`` of the chained rows: the day the Mondo rows they rest on were copied (a constant, so that the
build stays deterministic)."""
EXACT = "skos:exactMatch"


def mondo_rows() -> list[dict[str, str]]:
    """The rows of the Mondo evidence copy (``source_file``, ``subject_id``, ``subject_label``, ``predicate_id``,
    ``object_id``...)."""
    return read_sssom(MONDO_EVIDENCE_FILE).rows


def _exact(rows: Iterable[Mapping[str, str]], system: str) -> list[tuple[str, str, str, str]]:
    """(Mondo class, its label, code, source file) of the rows exact-matching a class to a code of ``system``."""
    systems = bioregistry_code_systems()
    found = []
    for row in rows:
        prefix, _, local = row["object_id"].partition(":")
        if row["predicate_id"] == EXACT and (systems.canonical_prefix(prefix) or prefix) == system:
            found.append((row["subject_id"], row["subject_label"], f"{system}:{local}", row["source_file"]))
    return found


def chained_mappings(minted: Sequence[CodeMapping], rows: Iterable[Mapping[str, str]]) -> list[CodeMapping]:
    """The Mondo and SNOMED CT rows chained from the ``minted`` diseases' Orphanet codes through Mondo's ``rows``
    (:func:`mondo_rows`), by disease then code."""
    rows = list(rows)
    classes_of: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for cls, label, code, source in _exact(rows, "Orphanet"):
        classes_of[code].add((cls, label, source))
    snomed_of: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for cls, _, code, source in _exact(rows, "SCTID"):
        snomed_of[cls].add((code, source))
    chained = []
    for disease in minted:
        if disease.predicate != EXACT or len(classes_of.get(disease.object_id, ())) != 1:
            continue
        ((cls, label, orphanet_file),) = classes_of[disease.object_id]
        first = f"Mondo maps {cls} exactMatch {disease.object_id}, the code cc:{disease.subject} is minted from"
        chained.append(
            _chained(
                disease,
                cls,
                label,
                (orphanet_file,),
                f"Chained via {cls}: {first} ({orphanet_file}, Mondo release 2026-08-04); object_label is Mondo's "
                "label of its class.",
            )
        )
        if len(snomed_of.get(cls, ())) == 1:
            ((code, snomed_file),) = snomed_of[cls]
            chained.append(
                _chained(
                    disease,
                    code,
                    "",
                    (orphanet_file, snomed_file),
                    f"Chained via {cls}: {first}, and exactMatch {code} ({orphanet_file}, {snomed_file}, Mondo "
                    "release 2026-08-04). No object_label: SNOMED CT's own term was not seen, and Mondo's class "
                    "label is never copied as the code's.",
                )
            )
    return sorted(chained, key=lambda m: (m.subject, m.object_id))


def _chained(disease: CodeMapping, code: str, label: str, files: tuple[str, ...], comment: str) -> CodeMapping:
    """A chained exact match of ``disease``'s entity to ``code``, resting on the Mondo ``files``."""
    return CodeMapping(
        subject=disease.subject,
        subject_label=disease.subject_label,
        predicate=EXACT,
        object_id=code,
        object_label=label,
        justification=CHAINING,
        author_id=disease.author_id,
        mapping_date=CHAINED_ON,
        confidence=None,
        see_also=tuple(MONDO_FILES + name for name in files),
        comment=comment,
        imported=True,
    )
