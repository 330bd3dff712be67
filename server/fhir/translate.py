"""``$translate``: a code's mappings, from the graph's concept maps or one sent with the request."""

from __future__ import annotations

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
        for group in cm.get("group", []):
            source, target = group.get("source"), group.get("target")
            here, there = (target, source) if reverse else (source, target)
            if system and here != system:
                continue
            if target_system and there != target_system:
                continue
            for element in group.get("element", []):
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
    out = [param("result", "boolean", bool(matches))]
    if not matches:
        out.append(param("message", "string", f"No mappings could be found for {system}#{code}"))
    out.extend(matches)
    return parameters(out)
