"""``$lookup`` and ``$subsumes``: a code's details, and how two codes of a code system relate."""

from __future__ import annotations

from typing import Any

from calcinosis_kg.server.fhir.errors import InvalidRequest, ResourceNotFound
from calcinosis_kg.server.fhir.languages import PREFERRED_FOR_LANGUAGE, supplement_canonicals, supplemented
from calcinosis_kg.server.fhir.messages import message
from calcinosis_kg.server.fhir.model import JSON, Registry
from calcinosis_kg.server.fhir.params import Params, code_system_or_404, param, parameters


def lookup(registry: Registry, params: Params) -> JSON:
    """``CodeSystem/$lookup``: the concept's display, definition, designations and properties."""
    code, system, version = params.text("code"), params.text("system"), params.text("version")
    coding = params.value("coding")
    if isinstance(coding, dict):
        code, system, version = coding.get("code"), coding.get("system"), coding.get("version") or version
    if not code:
        raise InvalidRequest("$lookup needs a code (code and system, or coding)")
    cs = code_system_or_404(registry, system, version)
    cs, used = supplemented(registry, cs, supplement_canonicals(params, None))
    concept = cs.find(code)
    if concept is None:
        said = "Unknown_Code_in_Version" if cs.version else "Unknown_Code_in"
        raise ResourceNotFound(
            message(said, code, cs.url, cs.version), tx_code="invalid-code", status=404, message_id=said
        )
    wanted = {str(p.get("valueCode") or p.get("valueString")) for p in params.all("property")}
    every = not wanted or "*" in wanted
    out: list[JSON] = [param("code", "code", concept.code), param("system", "uri", cs.url)]
    out.append(param("name", "string", cs.name or cs.title or cs.url))
    if cs.version:
        out.append(param("version", "string", cs.version))
    if concept.display:
        out.append(param("display", "string", concept.display))
    if concept.definition:
        out.append(param("definition", "string", concept.definition))
    out.append(param("abstract", "boolean", concept.abstract))
    listed = list(enumerate(concept.designations))
    if cs.language and concept.display:
        own = {"language": cs.language, "use": dict(PREFERRED_FOR_LANGUAGE), "value": concept.display}
        listed.insert(0, (-1, own))
    for index, designation in listed:
        parts: list[JSON] = []
        if "language" in designation:
            parts.append(param("language", "code", designation["language"]))
        if "use" in designation:
            parts.append(param("use", "coding", designation["use"]))
        if index in concept.sources:
            parts.append(param("source", "canonical", concept.sources[index]))
        parts.append(param("value", "string", designation.get("value", "")))
        out.append({"name": "designation", "part": parts})
    out += [param("used-supplement", "canonical", canonical) for canonical in used]

    def prop(code: str, kind: str, value: Any, description: str | None = None) -> None:
        if every or code in wanted:
            parts = [param("code", "code", code), param("value", kind, value)]
            if description:
                parts.append(param("description", "string", description))
            out.append({"name": "property", "part": parts})

    for parent in concept.parents:
        prop("parent", "code", parent, cs.concepts[parent].display)
    for child in concept.children:
        prop("child", "code", child, cs.concepts[child].display)
    prop("inactive", "boolean", concept.inactive)
    for item in concept.properties:
        name = str(item.get("code"))
        if name in ("parent", "child", "inactive"):
            continue
        for key, value in item.items():
            if key.startswith("value"):
                prop(name, key[len("value") :], value)
    return parameters(out)


def subsumes(registry: Registry, params: Params) -> JSON:
    """``CodeSystem/$subsumes``: equivalent, subsumes, subsumed-by or not-subsumed."""
    system, version = params.text("system"), params.text("version")
    code_a, code_b = params.text("codeA"), params.text("codeB")
    coding_a, coding_b = params.value("codingA"), params.value("codingB")
    if isinstance(coding_a, dict):
        code_a, system = coding_a.get("code"), coding_a.get("system") or system
    if isinstance(coding_b, dict):
        code_b, system = coding_b.get("code"), coding_b.get("system") or system
    if not code_a or not code_b:
        raise InvalidRequest("$subsumes needs codeA and codeB (or codingA and codingB)")
    cs = code_system_or_404(registry, system, version)
    concepts = []
    for code in (code_a, code_b):
        concept = cs.find(code)
        if concept is None:
            said = "Unknown_Code_in"
            raise ResourceNotFound(message(said, code, cs.url), tx_code="invalid-code", message_id=said)
        concepts.append(concept.code)
    a, b = concepts
    if a == b:
        outcome = "equivalent"
    elif a in cs.ancestors(b):
        outcome = "subsumes"
    elif b in cs.ancestors(a):
        outcome = "subsumed-by"
    else:
        outcome = "not-subsumed"
    return parameters([param("outcome", "code", outcome)])
