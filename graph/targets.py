"""The code systems the mappings target, as people and FHIR name them, and FHIR's name for each mapping predicate.

One curated row per code system in ``graph/mappings/target-systems.tsv`` (its keys are the CURIE prefixes of
:data:`calcinosis_kg.graph.codes.CHECKERS`, which ``tests/test_codes.py`` checks): the name shown to people, the
home page and the browser URL of a code (resource pages link to them; nothing is fetched), and the URI that
identifies the code system in FHIR ``Coding.system`` and ``ConceptMap.group.target``, with the public page that
gives it where one was checked (HL7 Terminology, THO, or the HL7 Terminology Authority's record). The static
ConceptMap of the release (:mod:`calcinosis_kg.graph.exports`) and the FHIR terminology service
(:mod:`calcinosis_kg.server.fhir`) read the same table. The Bioregistry facts about each prefix (URI prefixes,
synonyms) are computed at build time instead: :mod:`calcinosis_kg.graph.codesystems`.

This module is light (the standard library and a 14-row file) so that the server can import it at start-up.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from calcinosis_kg.errors import CurationError

__all__ = ["FHIR_EQUIVALENCE", "TARGET_SYSTEMS", "TARGET_SYSTEMS_FILE", "TargetSystem", "load_target_systems"]

TARGET_SYSTEMS_FILE = Path(__file__).resolve().parent / "mappings" / "target-systems.tsv"

_COLUMNS = ("prefix", "name", "homepage", "code_url", "fhir_system", "fhir_code", "fhir_system_source")
_OPTIONAL = ("code_url", "fhir_system_source")
_FHIR_CODE_FORMS = ("local", "curie")


@dataclass(frozen=True)
class TargetSystem:
    """A code system the mappings target (one row of ``target-systems.tsv``)."""

    prefix: str
    """The CURIE prefix of its codes in the mappings (``SCTID``)."""
    name: str
    """The name shown to people (``SNOMED CT``)."""
    homepage: str
    code_url: str | None
    """A browser URL for one code, ``{id}`` standing for the local id; None: the code's own IRI is the link."""
    fhir_system: str
    """The code system's URI in FHIR (``http://snomed.info/sct``)."""
    fhir_code_is_curie: bool
    """Whether the FHIR code is the whole CURIE (``MONDO:0005013``, as the OBO ontologies write their codes) rather
    than the local id (``6595006``)."""
    fhir_system_source: str | None
    """A public page that gives :attr:`fhir_system` for this code system, where one was checked."""

    def fhir_code(self, curie: str) -> str:
        """The FHIR code of ``curie``, a code of this system."""
        return curie if self.fhir_code_is_curie else curie.partition(":")[2]


def load_target_systems(path: Path = TARGET_SYSTEMS_FILE) -> dict[str, TargetSystem]:
    """The rows of ``path`` by prefix; raise CurationError if a column is missing or a value is not allowed."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if tuple(reader.fieldnames or ()) != _COLUMNS:
            raise CurationError(f"{path}: the columns must be {', '.join(_COLUMNS)}, not {reader.fieldnames}")
        systems = {}
        for line, row in enumerate(reader, start=2):
            if row["fhir_code"] not in _FHIR_CODE_FORMS or not all(row[c] for c in _COLUMNS if c not in _OPTIONAL):
                raise CurationError(
                    f"{path}:{line}: every column but {' and '.join(_OPTIONAL)} needs a "
                    f"value, and fhir_code is one of {', '.join(_FHIR_CODE_FORMS)}: {row}"
                )
            systems[row["prefix"]] = TargetSystem(
                prefix=row["prefix"],
                name=row["name"],
                homepage=row["homepage"],
                code_url=row["code_url"] or None,
                fhir_system=row["fhir_system"],
                fhir_code_is_curie=row["fhir_code"] == "curie",
                fhir_system_source=row["fhir_system_source"] or None,
            )
    return systems


TARGET_SYSTEMS: Final[dict[str, TargetSystem]] = load_target_systems()
"""The code systems the mappings target, by CURIE prefix."""

FHIR_EQUIVALENCE: Final[dict[str, str]] = {
    "skos:exactMatch": "equivalent",
    "skos:closeMatch": "inexact",
    "skos:broadMatch": "wider",
    "skos:narrowMatch": "narrower",
    "skos:relatedMatch": "relatedto",
}
"""SKOS mapping predicate -> FHIR R4 ``ConceptMap.group.element.target.equivalence`` (ConceptMapEquivalence).

Sources: the R4 code system http://hl7.org/fhir/concept-map-equivalence (hl7.org/fhir/R4/
codesystem-concept-map-equivalence.html) and the mapping sssom-py uses in ``sssom.writers.to_fhir_json``
(0.4.21; discussed in mapping-commons/sssom#185 and sssom-py#258). Equivalence is read from source (our entity)
to target (the SNOMED CT concept), as SKOS reads ``cc:x skos:broadMatch sct:y``: y is broader than x, so the
target is "wider". ``equivalent`` (extensionally identical) rather than ``equal`` (identical definitions): our
entities have no formal definitions to compare. ``skos:closeMatch`` (similar enough to be interchanged in some
applications, not transitive) is "inexact" (overlapping, boundaries uncertain) rather than "relatedto" (overlap
but unknown relationship); ``skos:relatedMatch`` (an associative link) is "relatedto". FHIR R4 invariant cmd-1
requires a comment on "narrower" and "inexact" targets; every non-equivalent target here has one.
"""
