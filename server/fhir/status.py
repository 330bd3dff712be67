"""The publication status of the code systems and value sets an answer used: the warnings HL7's cases expect.

A resource is ``deprecated`` or ``withdrawn`` by the ``structuredefinition-standards-status`` extension,
``draft`` by its ``status`` and ``experimental`` by its flag. ``$expand`` reports each as an expansion parameter
``warning-{status}`` naming the resource (the value set expanded, the value sets it includes, the code systems it
used); ``$validate-code`` as an information issue (``business-rule``, ``status-check``) "Reference to {status}
{type} {canonical}" about the value set, the value sets it includes and the code systems of the codes it found,
as the reference server words them.
"""

from __future__ import annotations

from collections.abc import Iterable

from calcinosis_kg.server.fhir.errors import issue
from calcinosis_kg.server.fhir.messages import message
from calcinosis_kg.server.fhir.model import JSON, Registry
from calcinosis_kg.server.fhir.params import param

STANDARDS_STATUS = "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status"
WARNED = ("deprecated", "withdrawn")
"""The standards statuses that warn (``trial-use``, ``normative``... do not)."""


def statuses(resource: JSON | None) -> list[str]:
    """The statuses of ``resource`` worth a warning: deprecated, withdrawn, draft, experimental."""
    if resource is None:
        return []
    found = [
        str(e["valueCode"])
        for e in resource.get("extension", [])
        if e.get("url") == STANDARDS_STATUS and e.get("valueCode") in WARNED
    ]
    if resource.get("status") == "draft":
        found.append("draft")
    if resource.get("experimental") is True:
        found.append("experimental")
    return found


def _used(registry: Registry, systems: Iterable[str], value_sets: Iterable[str]) -> list[tuple[str, str, str]]:
    """(status, resource type, canonical) for each warned status of the resources named by canonical."""
    found = []
    for canonical in dict.fromkeys(value_sets):
        found += [(s, "ValueSet", canonical) for s in statuses(registry.value_set(canonical))]
    for canonical in dict.fromkeys(systems):
        cs = registry.code_system(canonical)
        found += [(s, "CodeSystem", canonical) for s in statuses(cs.resource if cs else None)]
    return found


def canonical_of(resource: JSON) -> str:
    url = str(resource.get("url", ""))
    return f"{url}|{resource['version']}" if resource.get("version") and url else url


def expansion_warnings(registry: Registry, systems: Iterable[str], value_sets: Iterable[str]) -> list[JSON]:
    """The ``warning-{status}`` expansion parameters for the code systems and value sets an expansion used."""
    return [
        param(f"warning-{status}", "uri", canonical) for status, _, canonical in _used(registry, systems, value_sets)
    ]


def validation_issues(registry: Registry, systems: Iterable[str], value_sets: Iterable[str]) -> list[JSON]:
    """The ``status-check`` information issues for the code systems and value sets a validation used."""
    return [
        issue(
            "information",
            "business-rule",
            message(f"MSG_{status.upper()}", canonical, None, kind),
            tx_code="status-check",
            message_id=f"MSG_{status.upper()}",
        )
        for status, kind, canonical in _used(registry, systems, value_sets)
    ]
