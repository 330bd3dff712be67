"""Canonical URLs of the graph's FHIR resources, the code systems its concept maps target, the rows read."""

from __future__ import annotations

from calcinosis_kg.ontology import CC, SOURCE_SYSTEM

BASE = "https://w3id.org/calcinosis-kg/fhir"


CODE_SYSTEM_URL = SOURCE_SYSTEM


VALUE_SET_BASE = f"{BASE}/ValueSet"


CONCEPT_MAP_BASE = f"{BASE}/ConceptMap"


TARGET_SYSTEMS: dict[str, tuple[str, str, bool]] = {
    "SCTID": ("http://snomed.info/sct", "SNOMED CT", False),
    "ICD10CM": ("http://hl7.org/fhir/sid/icd-10-cm", "ICD-10-CM", False),
    "icd11.foundation": ("http://id.who.int/icd/entity", "ICD-11 Foundation", False),
    "LOINC": ("http://loinc.org", "LOINC", False),
    "UMLS": ("http://www.nlm.nih.gov/research/umls", "UMLS", False),
    "MESH": ("http://id.nlm.nih.gov/mesh", "MeSH", False),
    "MONDO": ("http://purl.obolibrary.org/obo/mondo.owl", "Mondo", True),
    "HP": ("http://human-phenotype-ontology.org", "HPO", True),
    "UBERON": ("http://purl.obolibrary.org/obo/uberon.owl", "Uberon", True),
    "DOID": ("http://purl.obolibrary.org/obo/doid.owl", "Disease Ontology", True),
    "Orphanet": ("http://www.orpha.net", "Orphanet", False),
    "RXNORM": ("http://www.nlm.nih.gov/research/umls/rxnorm", "RxNorm", False),
    "ATC": ("http://www.whocc.no/atc", "ATC", False),
}
"""CURIE prefix -> (FHIR system URI, name, whether the FHIR code is the whole CURIE, as OBO ontologies write it)."""


Rows = list[dict[str, str]]


def local(iri: str, base: str = str(CC)) -> str:
    """The local name of ``iri`` under ``base``."""
    return iri[len(base) :] if iri.startswith(base) else iri
