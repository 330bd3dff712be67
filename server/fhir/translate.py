"""``$translate``: a code's mappings, from the graph's concept maps or one sent with the request."""

from __future__ import annotations

from calcinosis_kg.server.fhir.budget import bounded
from calcinosis_kg.server.fhir.canonical import CODE_SYSTEM_URL
from calcinosis_kg.server.fhir.errors import InvalidRequest, ResourceNotFound
from calcinosis_kg.server.fhir.model import JSON, Registry
from calcinosis_kg.server.fhir.params import Params, canonical, param, parameters

R5_RELATIONSHIP_TO_R4 = {
    "equivalent": "equivalent",
    "related-to": "relatedto",
    "source-is-narrower-than-target": "wider",
    "source-is-broader-than-target": "narrower",
    "not-related-to": "disjoint",
}
"""R5 ``ConceptMap...target.relationship`` -> R4 ``equivalence`` (the R4/R5 conversion of the FHIR spec)."""
R5_NAMES = ("sourceCode", "sourceCoding", "sourceCodeableConcept", "targetCode", "targetCoding")
"""The parameters only R5's ``$translate`` has: a request that uses them is answered with R5's match parts."""


def translate(registry: Registry, params: Params, concept_map: JSON | None = None) -> JSON:
    """``ConceptMap/$translate``, forward or ``reverse``, answered in the vocabulary of the request.

    Asked with R4's parameter names (``system``, ``code``, ``coding``, ``reverse``...), the answer is R4's: each
    ``match`` has ``equivalence``, ``concept`` (the translated coding: a target code, or with ``reverse`` a source
    code) and ``source`` (the concept map's canonical URL). Asked with R5's names (``sourceCode``,
    ``targetCode``...), as HL7's tools do even of an R4 server, each match names its map R5's way,
    ``originMap`` (a canonical), keeps R4's ``equivalence``, and for ``targetCode`` gives the coding asked about as
    ``concept`` and the source code found as ``source`` (a coding), as HL7's reference server does in R4 too.
    """
    code, system = params.text("code"), params.text("system")
    reverse = params.flag("reverse")
    coding = params.value("coding")
    if isinstance(coding, dict):
        code, system = coding.get("code"), coding.get("system") or system
    if params.text("sourceCode"):
        code, system = params.text("sourceCode"), params.text("sourceSystem") or system
    target_system = params.text("targetsystem") or params.text("targetSystem")
    r5 = any(params.value(name) is not None for name in R5_NAMES)
    asked_target = None
    if params.text("targetCode"):
        # R5's reverse form: targetCode (and targetSystem) is the code to map back; sourceSystem the wanted one.
        code, system, reverse = params.text("targetCode"), target_system, True
        asked_target = {k: v for k, v in (("system", system), ("code", code)) if v}
        target_system = params.text("sourceSystem")
    if not code:
        raise InvalidRequest("$translate needs a code (code and system, coding, or sourceCode/targetCode)")
    if concept_map is None:
        url = params.text("url")
        if url:
            concept_map = registry.concept_map(url, params.text("conceptMapVersion"))
            if concept_map is None:
                raise ResourceNotFound(f"A definition for the ConceptMap '{url}' could not be found")
    supplied = params.resource("conceptMap")
    maps = [concept_map] if concept_map is not None else ([supplied] if supplied else registry.all_concept_maps())
    matches: list[JSON] = []
    for cm in maps:
        origin = canonical(cm)
        for group in bounded(cm.get("group", []), every=1):
            source, target = group.get("source"), group.get("target")
            here, there = (target, source) if reverse else (source, target)
            if system and here != system:
                continue
            if target_system and there != target_system:
                continue
            for element in bounded(group.get("element", [])):
                for mapped in element.get("target", []):
                    near, far = (mapped, element) if reverse else (element, mapped)
                    if near.get("code") != code:
                        continue
                    equivalence = mapped.get("equivalence") or R5_RELATIONSHIP_TO_R4.get(
                        mapped.get("relationship", ""), "relatedto"
                    )
                    if equivalence in ("unmatched", "disjoint"):
                        continue
                    found: JSON = {"system": there, "code": far.get("code")}
                    if far.get("display"):
                        found["display"] = far["display"]
                    if not r5:
                        parts = [param("concept", "coding", found), param("source", "uri", origin)]
                    elif asked_target is not None:
                        parts = [param("concept", "coding", asked_target), param("source", "coding", found)]
                        parts.append(param("originMap", "canonical", origin))
                    else:
                        parts = [param("concept", "coding", found), param("originMap", "canonical", origin)]
                    parts.insert(0, param("equivalence", "code", equivalence))
                    if mapped.get("comment"):
                        parts.append(param("comment", "string", mapped["comment"]))
                    matches.append({"name": "match", "part": parts})
    if not matches and not reverse and concept_map is None and not supplied and system and system != CODE_SYSTEM_URL:
        matches = chained(maps, code, system, target_system)
    out = [param("result", "boolean", bool(matches))]
    if not matches:
        out.append(param("message", "string", f"No mappings could be found for {system}#{code}"))
    out.extend(matches)
    return parameters(out)


def chained(maps: list[JSON], code: str, system: str, target_system: str | None) -> list[JSON]:
    """Matches for a code of another system (ICD-10-CM L94.2...) through the graph's concepts equivalent to it.

    The graph's concept maps go from its own code system to the others, so a code of another system has no group
    of its own. Its ``equivalent`` targets give the graph concepts that mean the same; each of their mappings to
    ``target_system`` (any other system when none is asked) is a match with that mapping's equivalence (an exact
    link passes the other through), ``source`` the concept map of the second step and a comment naming the graph
    concept it went through. Only exact first links are used: a wider or narrower one would not compose.
    """
    graph_maps = [(cm, group) for cm in maps for group in cm.get("group", []) if group.get("source") == CODE_SYSTEM_URL]
    via = sorted(
        {
            element["code"]
            for _, group in graph_maps
            if group.get("target") == system
            for element in group.get("element", [])
            for mapped in element.get("target", [])
            if mapped.get("code") == code and mapped.get("equivalence") == "equivalent"
        }
    )
    matches: list[JSON] = []
    for concept in via:
        for cm, group in graph_maps:
            there = group.get("target")
            if there == system or (target_system and there != target_system):
                continue
            for element in group.get("element", []):
                if element.get("code") != concept:
                    continue
                for mapped in element.get("target", []):
                    equivalence = mapped.get("equivalence", "relatedto")
                    if equivalence in ("unmatched", "disjoint") or not mapped.get("code"):
                        continue
                    found: JSON = {"system": there, "code": mapped["code"]}
                    if mapped.get("display"):
                        found["display"] = mapped["display"]
                    note = f"Through {CODE_SYSTEM_URL}#{concept}, equivalent to {system}#{code}."
                    if mapped.get("comment"):
                        note = f"{note} {mapped['comment']}"
                    matches.append(
                        {
                            "name": "match",
                            "part": [
                                param("equivalence", "code", equivalence),
                                param("concept", "coding", found),
                                param("source", "uri", canonical(cm)),
                                param("comment", "string", note),
                            ],
                        }
                    )
    return matches
