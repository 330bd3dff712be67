"""R4 on the wire: the R5 ideas the operations work with travel as R4's cross-version extensions, both ways.

The operations build some answers with R5 elements R4 lacks (``ValueSet.expansion.property`` and
``ValueSet.expansion.contains.property``); :func:`answer_to_r4` turns them into the cross-version extensions of
R4 (``http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.property`` with the sub-extensions
``code`` and ``uri``; ``...extension-ValueSet.expansion.contains.property`` with ``code`` and ``value``), and
echoed expansion parameters of a type R4's ``expansion.parameter`` lacks (``valueCanonical``) are ``valueUri``, as
HL7's version convertor (``ValueSet40_50``) writes them and as R4 clients, HL7's among them, read them back, so
every answer is valid R4 (4.0.1) JSON. Requests come the other way: :func:`request_from_r4` reads R5 filter
operators R4 lacks (``child-of``, ``descendent-leaf``), sent as the cross-version extension on ``_op``, into
``op``, in every resource of a request's parameters (``tx-resource``, ``valueSet``...).
"""

from __future__ import annotations

from typing import Any

from calcinosis_kg.server.fhir.model import JSON

CROSS_VERSION = "http://hl7.org/fhir/5.0/StructureDefinition/extension-"
EXPANSION_PROPERTY = f"{CROSS_VERSION}ValueSet.expansion.property"
CONTAINS_PROPERTY = f"{CROSS_VERSION}ValueSet.expansion.contains.property"
FILTER_OP = f"{CROSS_VERSION}ValueSet.compose.include.filter.op"


def answer_to_r4(resource: JSON) -> JSON:
    """``resource`` (an answer: a ValueSet, or a Parameters or Bundle holding some) with R4's extensions for R5's
    expansion properties (a new object where something changes; ``resource`` itself is left as it is)."""
    kind = resource.get("resourceType")
    if kind == "ValueSet" and isinstance(resource.get("expansion"), dict):
        return {**resource, "expansion": _expansion_to_r4(resource["expansion"])}
    key, items = {"Parameters": ("parameter", "resource"), "Bundle": ("entry", "resource")}.get(str(kind), ("", ""))
    if key and isinstance(resource.get(key), list):
        converted = [
            {**item, items: answer_to_r4(item[items])}
            if isinstance(item, dict) and isinstance(item.get(items), dict)
            else item
            for item in resource[key]
        ]
        return {**resource, key: converted}
    return resource


def _expansion_to_r4(expansion: JSON) -> JSON:
    expansion = dict(expansion)
    if isinstance(expansion.get("parameter"), list):
        expansion["parameter"] = [_expansion_parameter(p) for p in expansion["parameter"]]
    definitions = expansion.pop("property", None)
    if definitions:
        expansion["extension"] = [
            *expansion.get("extension", []),
            *(
                {"url": EXPANSION_PROPERTY, "extension": _subs(("code", "valueCode", d), ("uri", "valueUri", d))}
                for d in definitions
            ),
        ]
    if isinstance(expansion.get("contains"), list):
        expansion["contains"] = [_contains_to_r4(item) for item in expansion["contains"]]
    return expansion


def _expansion_parameter(parameter: Any) -> Any:
    """An expansion parameter with R4's value types: an echoed canonical (``system-version``...) is a uri."""
    if isinstance(parameter, dict) and "valueCanonical" in parameter:
        return {("valueUri" if k == "valueCanonical" else k): v for k, v in parameter.items()}
    return parameter


def _contains_to_r4(item: JSON) -> JSON:
    item = dict(item)
    properties = item.pop("property", None)
    if properties:
        item["extension"] = [*item.get("extension", []), *(_property_extension(p) for p in properties)]
    if isinstance(item.get("contains"), list):
        item["contains"] = [_contains_to_r4(child) for child in item["contains"]]
    return item


def _property_extension(prop: JSON) -> JSON:
    subs: list[JSON] = [{"url": "code", "valueCode": prop.get("code")}]
    subs += [{"url": "value", key: value} for key, value in prop.items() if key.startswith("value")]
    return {"url": CONTAINS_PROPERTY, "extension": [*prop.get("extension", []), *subs]}


def _subs(*fields: tuple[str, str, JSON]) -> list[JSON]:
    return [{"url": url, kind: source[url]} for url, kind, source in fields if source.get(url) is not None]


def request_from_r4(parameter: JSON) -> JSON:
    """A request parameter with the R5 filter operators of its resources read from R4's ``_op`` extension."""
    resource = parameter.get("resource")
    if isinstance(resource, dict):
        _filters_from_r4(resource)
    for part in parameter.get("part", []) if isinstance(parameter.get("part"), list) else []:
        if isinstance(part, dict):
            request_from_r4(part)
    return parameter


def _filters_from_r4(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _filters_from_r4(item)
    elif isinstance(node, dict):
        op = node.get("_op")
        if "op" not in node and isinstance(op, dict):
            found = [e for e in op.get("extension", []) if isinstance(e, dict) and e.get("url") == FILTER_OP]
            if found and isinstance(found[0].get("valueCode"), str):
                node["op"] = found[0]["valueCode"]
        for value in node.values():
            if isinstance(value, (dict, list)):
                _filters_from_r4(value)
