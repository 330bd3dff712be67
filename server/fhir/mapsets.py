"""The graph's value sets (subtypes, causes, ... of calcinosis cutis) and concept maps (its mappings to other
code systems) as FHIR resources.
"""

from __future__ import annotations

from collections import defaultdict

from calcinosis_kg.graph.targets import FHIR_EQUIVALENCE, TARGET_SYSTEMS
from calcinosis_kg.server.fhir.canonical import (
    CODE_SYSTEM_URL,
    CONCEPT_MAP_BASE,
    VALUE_SET_BASE,
    Rows,
    local,
)
from calcinosis_kg.server.fhir.model import JSON


def closure(name: str, superclasses: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(superclasses.get(name, ()))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(superclasses.get(current, ()))
    return seen


def direct_parents(parents: dict[str, set[str]]) -> dict[str, set[str]]:
    """The transitive reduction of ``parents`` (cco:subtypeOf is transitive and may be materialised)."""
    return {
        child: {p for p in ups if not any(p in closure(other, parents) for other in ups if other != p)}
        for child, ups in parents.items()
    }


def value_set(version: str, vs_id: str, name: str, title: str, description: str, include: JSON) -> JSON:
    return {
        "resourceType": "ValueSet",
        "id": vs_id,
        "url": f"{VALUE_SET_BASE}/{vs_id}",
        "version": version,
        "name": name,
        "title": title,
        "status": "active",
        "experimental": False,
        "publisher": "Calcinosis KG team",
        "description": description,
        "compose": {"include": [{"system": CODE_SYSTEM_URL, **include}]},
    }


def pascal_case(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in text.replace("_", "-").split("-") if part)


def value_sets(
    version: str,
    entities: dict[str, dict[str, str]],
    types: dict[str, set[str]],
    class_labels: dict[str, str],
    causes: dict[str, list[str]],
    children: dict[str, list[str]],
) -> list[JSON]:
    value_sets = [
        value_set(version, "all", "CalcinosisKGAll", "All entities of the calcinosis cutis knowledge graph",
                   "Every concept of the graph's code system.", {})
    ]  # fmt: skip
    used = sorted({t for ts in types.values() for t in ts})
    for name in used:
        label = class_labels.get(name, name)
        value_sets.append(
            value_set(
                version,
                f"class-{name}",
                f"CalcinosisKG{name}",
                f"Members of the class {label}",
                f"The entities of the graph typed cco:{name} (or a subclass).",
                {"filter": [{"property": "type", "op": "=", "value": name}]},
            )
        )
    for code in sorted(causes):
        label = entities.get(code, {}).get("label", code)
        value_sets.append(
            value_set(
                version,
                f"causes-of-{code}",
                f"CausesOf{pascal_case(code)}",
                f"Causes of {label}",
                f"What causes {label} (cco:hasCause), per the graph.",
                {"concept": [{"code": c, "display": entities[c]["label"]} for c in sorted(set(causes[code]))]},
            )
        )
    for code in sorted(children):
        if code not in entities:
            continue
        label = entities[code]["label"]
        value_sets.append(
            value_set(
                version,
                f"forms-of-{code}",
                f"FormsOf{pascal_case(code)}",
                f"{label} and its forms",
                f"{label} and every form of it (cco:hasSubtype, transitively, as stated as fact: a form whose "
                "place is disputed or suspected is left out).",
                {"filter": [{"property": "concept", "op": "is-a", "value": code}]},
            )
        )
    return value_sets


SKOS = "http://www.w3.org/2004/02/skos/core#"
MAPPING_PROPERTIES = ("exactMatch", "closeMatch", "broadMatch", "narrowMatch", "relatedMatch")
"""The concept properties of the graph's CodeSystem that carry its mappings: the SKOS predicate's local name, valued
with the code as a Coding (system, code, and display when the code system's own term was verified)."""


def mapping_property_definitions() -> list[JSON]:
    """The CodeSystem ``property`` definitions of :data:`MAPPING_PROPERTIES`."""
    return [
        {
            "code": name,
            "uri": f"{SKOS}{name}",
            "type": "Coding",
            "description": f"A code of another code system the concept is mapped to with skos:{name} (read from the "
            "concept to the code); no display where that system's own term was not verified",
        }
        for name in MAPPING_PROPERTIES
    ]


def mapping_properties(mappings: Rows) -> dict[str, list[JSON]]:
    """Entity code -> its mappings as concept properties (:data:`MAPPING_PROPERTIES`), sorted by property and code."""
    by_entity: dict[str, list[JSON]] = defaultdict(list)
    for row in mappings:
        prefix = row["code"].partition(":")[0]
        if prefix not in TARGET_SYSTEMS:
            continue
        target = TARGET_SYSTEMS[prefix]
        coding: JSON = {"system": target.fhir_system, "code": target.fhir_code(row["code"])}
        if row.get("label"):
            coding["display"] = row["label"]
        by_entity[local(row["e"])].append({"code": local(row["predicate"], SKOS), "valueCoding": coding})
    for props in by_entity.values():
        props.sort(
            key=lambda p: (MAPPING_PROPERTIES.index(p["code"]), p["valueCoding"]["system"], p["valueCoding"]["code"])
        )
    return by_entity


def concept_maps(version: str, entities: dict[str, dict[str, str]], mappings: Rows) -> list[JSON]:
    by_system: dict[str, dict[str, list[dict[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for row in mappings:
        prefix, _, _ = row["code"].partition(":")
        if prefix in TARGET_SYSTEMS and local(row["e"]) in entities:
            by_system[prefix][local(row["e"])].append(row)
    maps = []
    for prefix in sorted(by_system):
        target_system = TARGET_SYSTEMS[prefix]
        system = target_system.fhir_system
        elements = []
        dates = []
        for code in sorted(by_system[prefix]):
            targets = []
            for row in sorted(by_system[prefix][code], key=lambda r: (r["code"], r["predicate"])):
                predicate = "skos:" + local(row["predicate"], "http://www.w3.org/2004/02/skos/core#")
                target: JSON = {"code": target_system.fhir_code(row["code"])}
                if row.get("label"):
                    target["display"] = row["label"]
                target["equivalence"] = FHIR_EQUIVALENCE[predicate]
                notes = [f"{predicate} (read from the graph entity to the {target_system.name} code)"]
                if row.get("confidence"):
                    notes.append(f"confidence {row['confidence']}")
                if row.get("justification"):
                    notes.append(f"justification {local(row['justification'], 'https://w3id.org/semapv/vocab/')}")
                if row.get("comment"):
                    notes.append(row["comment"])
                target["comment"] = "; ".join(notes)
                targets.append(target)
                if row.get("date"):
                    dates.append(row["date"])
            elements.append({"code": code, "display": entities[code]["label"], "target": targets})
        cm_id = f"calcinosis-kg-to-{prefix.lower().replace('.', '-')}"
        resource: JSON = {
            "resourceType": "ConceptMap",
            "id": cm_id,
            "url": f"{CONCEPT_MAP_BASE}/{cm_id}",
            "version": version,
            "name": f"CalcinosisKGTo{pascal_case(prefix.replace('.', '-'))}",
            "title": f"Calcinosis cutis knowledge graph entities to {target_system.name}",
            "status": "active",
            "experimental": False,
            "publisher": "Calcinosis KG team",
            "description": (
                f"The curated mappings of the graph's entities to {target_system.name}: the SKOS predicate as the R4 "
                "equivalence (exactMatch equivalent, closeMatch inexact, broadMatch wider, narrowMatch narrower, "
                "relatedMatch relatedto), the SSSOM confidence, justification and comment in each target's comment."
            ),
            "sourceUri": f"{VALUE_SET_BASE}/all",
            "targetUri": f"{system}?fhir_vs",
            "group": [{"source": CODE_SYSTEM_URL, "sourceVersion": version, "target": system, "element": elements}],
        }
        if dates:
            resource["date"] = max(dates)
        maps.append(resource)
    return maps
