"""The R4 exchange of HL7's runner: R5 test files sent to an R4 server, its R4 answers read back as R5.

HL7's runner asks the server its FHIR version (``/metadata``: 4.0.1 here) and then talks to it with its R4 client
(``TerminologyClientR4``), which converts each request from R5 to R4 and each answer from R4 to R5 with the
version convertor (``VersionConvertor_40_50``), and parses answers with the R4 parser, which drops what R4 does not
define. This module ports what of that the suites touch:

- R5 -> R4 (requests): ConceptMap ``sourceScopeUri``/``targetScopeUri`` -> ``sourceUri``/``targetUri``,
  ``target.relationship`` -> ``equivalence`` (the spec's map), ``noMap`` -> an ``unmatched`` target,
  ``unmapped.otherMap`` -> ``url``; ValueSet filter operators R4 lacks (``child-of``, ``descendent-leaf``) -> R4's
  cross-version extension on ``_op``, ``versionAlgorithm[x]`` -> its cross-version extension; what else R4 does
  not define is left out (the convertor copies only R4's elements);
  ``"valueBoolean": "true"`` strings (two request files) are read as booleans, as Java's parser does;
- R4 -> R5 (answers): the cross-version extensions ``extension-ValueSet.expansion.property`` and
  ``extension-ValueSet.expansion.contains.property`` become R5's ``expansion.property`` and
  ``contains.property``; ``_op`` extensions become R5 operators;
- R4 validity: :func:`r4_problems` checks an answer against ``fhir.resources``' R4B models (``fhir.resources``
  8.x is R5 by default and has no 4.0.1 package; R4B's terminology resources, CodeSystem, ValueSet, ConceptMap,
  Parameters, OperationOutcome, Bundle, CapabilityStatement and TerminologyCapabilities, have R4's structure) and
  :func:`r4_only` leaves out what R4 does not define, as HL7's R4 parser does.
"""

from __future__ import annotations

import copy
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

JSON = dict[str, Any]

XV = "http://hl7.org/fhir/5.0/StructureDefinition/extension-"
FILTER_OP = f"{XV}ValueSet.compose.include.filter.op"
EXPANSION_PROPERTY = f"{XV}ValueSet.expansion.property"
CONTAINS_PROPERTY = f"{XV}ValueSet.expansion.contains.property"
VERSION_ALGORITHM = f"{XV}CanonicalResource.versionAlgorithm"
OLD_EQUIVALENCE = "http://hl7.org/fhir/1.0/StructureDefinition/extension-ConceptMap.element.target.equivalence"
R4_FILTER_OPERATORS = frozenset(
    {"=", "is-a", "descendent-of", "is-not-a", "regex", "in", "not-in", "generalizes", "exists"}
)
RELATIONSHIP_TO_EQUIVALENCE = {
    "equivalent": "equivalent",
    "related-to": "relatedto",
    "source-is-narrower-than-target": "wider",
    "source-is-broader-than-target": "narrower",
    "not-related-to": "disjoint",
}
"""R5 ``ConceptMap...target.relationship`` -> R4 ``equivalence`` (``ConceptMap40_50``)."""


# ------------------------------------------------------------------------------------------------ R5 -> R4
def request_to_r4(resource: JSON) -> JSON:
    """A request (Parameters or Bundle, with its resources) converted from R5 to R4."""
    converted = _to_r4(copy.deepcopy(resource))
    return r4_only(converted)


def _to_r4(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_r4(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("valueBoolean") in ("true", "false"):
        node["valueBoolean"] = node["valueBoolean"] == "true"
    kind = node.get("resourceType")
    for key in [k for k in node if k.startswith("versionAlgorithm") and kind]:
        value = {f"value{key[len('versionAlgorithm') :]}": node.pop(key)}
        node.setdefault("extension", []).append({"url": VERSION_ALGORITHM, **value})
    if kind == "ConceptMap":
        _concept_map_to_r4(node)
    elif kind == "ValueSet":
        for part in ("include", "exclude"):
            for include in node.get("compose", {}).get(part, []):
                for item in include.get("filter", []):
                    if item.get("op") not in R4_FILTER_OPERATORS and "op" in item:
                        item["_op"] = {"extension": [{"url": FILTER_OP, "valueCode": item.pop("op")}]}
    return {key: _to_r4(value) for key, value in node.items()}


def _concept_map_to_r4(resource: JSON) -> None:
    for r5, r4 in (("sourceScopeUri", "sourceUri"), ("targetScopeUri", "targetUri")):
        if r5 in resource:
            resource[r4] = resource.pop(r5)
    for group in resource.get("group", []):
        unmapped = group.get("unmapped")
        if isinstance(unmapped, dict):
            if "otherMap" in unmapped:
                unmapped["url"] = unmapped.pop("otherMap")
            unmapped.pop("relationship", None)
        for element in group.get("element", []):
            if element.pop("noMap", False):
                element["target"] = [{"equivalence": "unmatched"}]
            for target in element.get("target", []):
                old = [e for e in target.get("extension", []) if e.get("url") == OLD_EQUIVALENCE]
                if old:
                    target["equivalence"] = old[0]["valueCode"]
                    target.pop("relationship", None)
                elif "relationship" in target:
                    target["equivalence"] = RELATIONSHIP_TO_EQUIVALENCE.get(target.pop("relationship"), "relatedto")


# ------------------------------------------------------------------------------------------------ R4 -> R5
def answer_to_r5(node: Any) -> Any:
    """An R4 answer (already :func:`r4_only`) read as R5: cross-version extensions become R5 elements."""
    if isinstance(node, list):
        return [answer_to_r5(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: answer_to_r5(value) for key, value in node.items()}
    if "_op" in node and "op" not in node:
        code = _extension_value(node["_op"], FILTER_OP)
        if code is not None:
            node["op"] = code
            node["_op"] = _without(node["_op"], FILTER_OP)
            if not node["_op"]:
                del node["_op"]
    expansion = node.get("expansion") if node.get("resourceType") == "ValueSet" else None
    if isinstance(expansion, dict):
        definitions = [e for e in expansion.get("extension", []) if e.get("url") == EXPANSION_PROPERTY]
        if definitions:
            expansion["property"] = [
                {k: v for k, v in (("code", _sub(d, "code")), ("uri", _sub(d, "uri"))) if v is not None}
                for d in definitions
            ]
            _set_extensions(expansion, _without(expansion, EXPANSION_PROPERTY).get("extension", []))
        for item in expansion.get("contains", []):
            _contains_to_r5(item)
    return node


def _contains_to_r5(item: JSON) -> None:
    properties = []
    for extension in [e for e in item.get("extension", []) if e.get("url") == CONTAINS_PROPERTY]:
        prop: JSON = {}
        others = []
        for sub in extension.get("extension", []):
            if sub.get("url") == "code":
                prop["code"] = _value(sub)
            elif sub.get("url") in ("value", "value[x]"):
                prop.update({k: v for k, v in sub.items() if k.startswith("value")})
            else:
                others.append(sub)
        if others:
            prop["extension"] = others
        properties.append(prop)
    if properties:
        item["property"] = properties
        _set_extensions(item, _without(item, CONTAINS_PROPERTY).get("extension", []))
    for child in item.get("contains", []):
        _contains_to_r5(child)


def _value(extension: JSON) -> Any:
    return next((v for k, v in extension.items() if k.startswith("value")), None)


def _sub(extension: JSON, url: str) -> Any:
    return next((_value(s) for s in extension.get("extension", []) if s.get("url") == url), None)


def _extension_value(element: JSON, url: str) -> Any:
    return next((_value(e) for e in element.get("extension", []) if e.get("url") == url), None)


def _without(element: JSON, url: str) -> JSON:
    rest = [e for e in element.get("extension", []) if e.get("url") != url]
    return {**{k: v for k, v in element.items() if k != "extension"}, **({"extension": rest} if rest else {})}


def _set_extensions(element: JSON, extensions: list[JSON]) -> None:
    if extensions:
        element["extension"] = extensions
    else:
        element.pop("extension", None)


# ------------------------------------------------------------------------------------------------ R4 validity
def r4_problems(resource: Any) -> list[str]:
    """What makes ``resource`` invalid R4 JSON (fhir.resources R4B models), or nothing."""
    if not isinstance(resource, dict) or "resourceType" not in resource:
        return ["not a FHIR resource"]
    try:
        get_fhir_model_class(str(resource["resourceType"])).model_validate(resource)
    except ValidationError as error:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
    except (KeyError, ValueError):
        return [f"no R4 resource type {resource['resourceType']!r}"]
    return []


def r4_only(resource: JSON) -> JSON:
    """``resource`` without the properties R4 does not define (as HL7's R4 parser reads it)."""
    resource = copy.deepcopy(resource)
    for _ in range(20):
        try:
            model = get_fhir_model_class(str(resource.get("resourceType")))
            model.model_validate(resource)
            return resource
        except ValidationError as error:
            extras = [e["loc"] for e in error.errors() if e["type"] == "extra_forbidden"]
            if not extras:
                return resource
            for loc in extras:
                _delete(resource, list(loc))
        except (KeyError, ValueError, TypeError):
            return resource
    return resource


def _delete(node: Any, loc: list[Any]) -> None:
    for step in loc[:-1]:
        in_object = isinstance(node, dict) and isinstance(step, str) and step in node
        if in_object or (isinstance(node, list) and isinstance(step, int) and step < len(node)):
            node = node[step]
        else:
            return  # a model's own step (a union member's name): not in the JSON
    if isinstance(node, dict):
        node.pop(loc[-1], None)
