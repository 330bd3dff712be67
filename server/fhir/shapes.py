"""The shape of a FHIR request body, checked once at the boundary: JSON limits, then typed models.

The operations read request resources as plain JSON (``dict.get`` chains); a value of the wrong JSON type where
they expect a string, a list or an object (``"compose": {"include": "x"}``) used to end as a 500. Here a body is
refused with a 400 OperationOutcome (issue ``structure``, the FHIRPath of the element in ``expression``) before
any operation reads it, when

- it is nested deeper than :data:`MAX_DEPTH` (``json.loads`` itself gives up near 1,000 levels) or holds more
  than :data:`MAX_ELEMENTS` values (the body size limit bounds it too; this bounds the objects made of it);
- a string or a key holds a lone surrogate (``"\\ud800"`` is valid JSON but no Unicode text: it could be
  neither compared with codes nor written back as UTF-8);
- an element the operations read has another type than FHIR R4's JSON gives it: the models below declare those
  elements (strict: a number is not a string, a boolean not an integer) and allow every other element, so a valid
  R4 resource always passes. A ``value[x]`` is checked by its suffix (``valueCoding`` is a Coding,
  ``valueBoolean`` a boolean...), and an element has at most one.

The checked body is passed on unchanged (the models only check; the operations keep their JSON).
"""

from __future__ import annotations

import re
from typing import Any, Required

from pydantic import ConfigDict, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from calcinosis_kg.server.fhir.budget import checkpoint
from calcinosis_kg.server.fhir.errors import FhirError

MAX_DEPTH = 100
"""Deepest nesting of a request body (objects and arrays): a CodeSystem nesting concepts 45 levels deep fits."""
MAX_ELEMENTS = 1_000_000
"""Most values (objects, arrays, strings, numbers...) in a request body."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_PRIMITIVES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("Boolean",), (bool,)),
    **dict.fromkeys(("Integer", "UnsignedInt", "PositiveInt", "Integer64"), (int,)),
    **dict.fromkeys(("Decimal",), (int, float)),
    **dict.fromkeys(
        (
            "String", "Code", "Uri", "Url", "Canonical", "Id", "Oid", "Uuid", "Markdown", "Base64Binary", "Date",
            "DateTime", "Instant", "Time",
        ),
        (str,),
    ),
}  # fmt: skip
"""FHIR's primitive types (the ``value[x]`` suffixes) and their JSON types."""
_COMPLEX = (
    "Address", "Age", "Annotation", "Attachment", "ContactDetail", "ContactPoint", "Contributor", "Count",
    "DataRequirement", "Distance", "Dosage", "Duration", "Expression", "HumanName", "Identifier", "Meta", "Money",
    "ParameterDefinition", "Period", "Quantity", "Range", "Ratio", "Reference", "RelatedArtifact", "SampledData",
    "Signature", "Timing", "TriggerDefinition", "UsageContext",
)  # fmt: skip
"""FHIR's other complex types a ``value[x]`` may hold (objects; their content is not read here)."""


class Structure(FhirError):
    """A request body that is not the FHIR structure the operation reads (400, ``structure``)."""

    code = "structure"


class Element(TypedDict, total=False):
    """A FHIR element: its declared children are type-checked, any other child is allowed (and kept)."""

    __pydantic_config__ = ConfigDict(extra="allow", strict=True)  # type: ignore[misc]


class Coding(Element, total=False):
    system: str
    version: str
    code: str
    display: str
    userSelected: bool


class CodeableConcept(Element, total=False):
    coding: list[Coding]
    text: str


class Extension(Element, total=False):
    url: str
    extension: list[Extension]


class Designation(Element, total=False):
    language: str
    use: Coding
    value: str
    extension: list[Extension]


class ConceptProperty(Element, total=False):
    code: str


class ConceptDefinition(Element, total=False):
    code: str
    display: str
    definition: str
    designation: list[Designation]
    property: list[ConceptProperty]
    extension: list[Extension]
    concept: list[ConceptDefinition]


class Resource(Element, total=False):
    resourceType: Required[str]
    id: str
    url: str
    version: str
    name: str
    title: str
    status: str
    language: str
    extension: list[Extension]
    contained: list[dict[str, Any]]


class PropertyDefinition(Element, total=False):
    code: str
    uri: str
    type: str


class CodeSystem(Resource, total=False):
    content: str
    caseSensitive: bool
    supplements: str
    property: list[PropertyDefinition]
    concept: list[ConceptDefinition]


class Filter(Element, total=False):
    property: str
    op: str
    value: str


class IncludedConcept(Element, total=False):
    code: str
    display: str
    designation: list[Designation]
    extension: list[Extension]


class Include(Element, total=False):
    system: str
    version: str
    concept: list[IncludedConcept]
    filter: list[Filter]
    valueSet: list[str]


class Compose(Element, total=False):
    inactive: bool
    include: list[Include]
    exclude: list[Include]
    extension: list[Extension]


class Contains(Element, total=False):
    system: str
    code: str
    display: str
    contains: list[Contains]


class ExpansionElement(Element, total=False):
    contains: list[Contains]


class ValueSet(Resource, total=False):
    compose: Compose
    expansion: ExpansionElement


class MapTarget(Element, total=False):
    code: str
    display: str
    equivalence: str
    relationship: str
    comment: str


class MapElement(Element, total=False):
    code: str
    display: str
    target: list[MapTarget]


class MapGroup(Element, total=False):
    source: str
    target: str
    element: list[MapElement]


class ConceptMap(Resource, total=False):
    group: list[MapGroup]


class Parameter(Element, total=False):
    name: Required[str]
    resource: dict[str, Any]
    part: list[Parameter]


class Parameters(Resource, total=False):
    parameter: list[Parameter]


_COMPLEX_VALUES: dict[str, TypeAdapter[Any]] = {
    "Coding": TypeAdapter(Coding),
    "CodeableConcept": TypeAdapter(CodeableConcept),
    **{suffix: TypeAdapter(dict[str, Any]) for suffix in _COMPLEX},
}
RESOURCE_MODELS: dict[str, TypeAdapter[Any]] = {
    "Parameters": TypeAdapter(Parameters),
    "CodeSystem": TypeAdapter(CodeSystem),
    "ValueSet": TypeAdapter(ValueSet),
    "ConceptMap": TypeAdapter(ConceptMap),
}
"""The resources whose content the operations read; any other resource needs only a ``resourceType``."""
_ANY_RESOURCE = TypeAdapter(Resource)


def check_body(body: Any) -> dict[str, Any]:
    """``body`` (parsed JSON) if it is a Parameters resource of the shape the operations read, else
    :class:`Structure`."""
    check_json(body)
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise Structure("A POST to an operation takes a Parameters resource (JSON)")
    check_resource(body, "Parameters")
    for index, parameter in enumerate(body.get("parameter") or []):
        _check_parts(parameter, f"Parameters.parameter[{index}]")
    return body


def _check_parts(parameter: dict[str, Any], path: str) -> None:
    if isinstance(parameter.get("resource"), dict):
        check_resource(parameter["resource"], f"{path}.resource")
    for index, part in enumerate(parameter.get("part") or []):
        _check_parts(part, f"{path}.part[{index}]")


def check_resource(resource: dict[str, Any], path: str) -> None:
    """Check ``resource`` (at FHIRPath ``path``) against its model, and its contained resources."""
    kind = resource.get("resourceType")
    if not isinstance(kind, str) or not kind:
        raise Structure(f"{path} is not a resource: it has no resourceType").at(path)
    try:
        RESOURCE_MODELS.get(kind, _ANY_RESOURCE).validate_python(resource, strict=True)
    except ValidationError as error:
        raise _structure(error, path) from None
    for index, contained in enumerate(resource.get("contained") or []):
        check_resource(contained, f"{path}.contained[{index}]")


def _structure(error: ValidationError, path: str) -> Structure:
    """The first error of a model validation, located under ``path``."""
    detail = error.errors()[0]
    where = path + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in detail["loc"])
    shown = repr(detail["input"])
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return Structure(f"{where}: {detail['msg']} (found {shown})").at(where)


def check_json(body: Any) -> None:
    """Refuse JSON nested deeper than :data:`MAX_DEPTH`, larger than :data:`MAX_ELEMENTS` values, holding a lone
    surrogate in a string or a key, or a ``value[x]`` not of the type its suffix names (or two in one element).

    One iterative pass (no recursion on client input) that keeps no paths; the path of a fault is looked up
    afterwards (:func:`_locate`)."""
    if isinstance(body, str):
        _check_text(body)
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(body, 1)] if isinstance(body, dict | list) else []
    count = 0
    while stack:
        item, depth = stack.pop()
        if len(stack) % 1024 == 0:
            checkpoint()  # the deadline, and the other threads' turn for the GIL
        if depth > MAX_DEPTH:
            raise Structure(f"The request body is nested more than {MAX_DEPTH} levels deep")
        count += len(item)
        if count > MAX_ELEMENTS:
            raise Structure(f"The request body holds more than {MAX_ELEMENTS} JSON values")
        if isinstance(item, dict):
            valued = False
            for key, child in item.items():
                if not key.isascii():
                    _check_text(key)
                elif key.startswith("value") and key != "value":
                    valued = True
                if isinstance(child, str):
                    if not child.isascii():
                        _check_text(child)
                elif isinstance(child, dict | list):
                    stack.append((child, depth + 1))
            if valued:
                _check_value(body, item)
        else:
            for child in item:
                if isinstance(child, str):
                    if not child.isascii():
                        _check_text(child)
                elif isinstance(child, dict | list):
                    stack.append((child, depth + 1))


def _check_text(text: str) -> None:
    if _SURROGATE.search(text):
        raise Structure(f"The string {text[:40]!r} holds a lone surrogate: it is not Unicode text")


def _check_value(body: Any, element: dict[str, Any]) -> None:
    """The ``value[x]`` of ``element`` (a key ``value`` + a type name; ``valueSet`` is an element of its own): one at
    most, of the JSON type of its suffix (a Coding and a CodeableConcept by their models)."""
    keys = [k for k in element if k.startswith("value") and k[5:6].isupper() and k != "valueSet"]
    if not keys:
        return
    if len(keys) > 1:
        path = _locate(body, element)
        raise Structure(f"{path}: an element has one value[x] at most, not {', '.join(keys)}").at(path)
    key = keys[0]
    value, suffix = element[key], key[5:]
    primitive = _PRIMITIVES.get(suffix)
    if primitive is not None:
        if isinstance(value, primitive) and (bool in primitive) == isinstance(value, bool):
            return
        wanted = {bool: "a boolean", int: "an integer", str: "a string"}.get(primitive[-1], "a number")
        where = f"{_locate(body, element)}.{key}"
        raise Structure(f"{where}: {key} must be {wanted} (found {str(value)[:40]!r})").at(where)
    model = _COMPLEX_VALUES.get(suffix)
    if model is None:
        where = f"{_locate(body, element)}.{key}"
        raise Structure(f"{where}: {suffix!r} is not a FHIR data type").at(where)
    try:
        model.validate_python(value, strict=True)
    except ValidationError as error:
        raise _structure(error, f"{_locate(body, element)}.{key}") from None


def _locate(body: Any, target: object) -> str:
    """The FHIRPath-like path (``Parameters.parameter[0].resource...``) of the object ``target`` in ``body``."""
    root = body.get("resourceType") if isinstance(body, dict) else None
    stack: list[tuple[Any, str]] = [(body, root if isinstance(root, str) else "$")]
    while stack:
        item, path = stack.pop()
        if item is target:
            return path
        if isinstance(item, dict):
            stack.extend((child, f"{path}.{key}") for key, child in item.items() if isinstance(child, dict | list))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item) if isinstance(child, dict | list))
    return "$"
