"""Canonical URLs of the graph's FHIR resources and the rows read."""

from __future__ import annotations

from calcinosis_kg.ontology import CC, SOURCE_SYSTEM

BASE = "https://w3id.org/calcinosis-kg/fhir"


CODE_SYSTEM_URL = SOURCE_SYSTEM


VALUE_SET_BASE = f"{BASE}/ValueSet"


CONCEPT_MAP_BASE = f"{BASE}/ConceptMap"


Rows = list[dict[str, str]]


def local(iri: str, base: str = str(CC)) -> str:
    """The local name of ``iri`` under ``base``."""
    return iri[len(base) :] if iri.startswith(base) else iri
