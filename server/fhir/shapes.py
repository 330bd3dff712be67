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
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, model_validator

from calcinosis_kg.server.fhir.errors import FhirError

MAX_DEPTH = 100
"""Deepest nesting of a request body (objects and arrays): a CodeSystem nesting concepts 45 levels deep fits."""
MAX_ELEMENTS = 500_000
"""Most values (objects, arrays, strings, numbers...) in a request body."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_PRIMITIVES: dict[str, Any] = {
    **dict.fromkeys(("Boolean",), bool),
    **dict.fromkeys(("Integer", "UnsignedInt", "PositiveInt", "Integer64"), int),
    **dict.fromkeys(("Decimal",), int | float),
    **dict.fromkeys(
        (
            "String", "Code", "Uri", "Url", "Canonical", "Id", "Oid", "Uuid", "Markdown", "Base64Binary", "Date",
            "DateTime", "Instant", "Time",
        ),
        str,
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


class Element(BaseModel):
    """A FHIR element: the declared children are type-checked, any other child is allowed (and kept)."""

    model_config = ConfigDict(extra="allow", strict=True)

    @model_validator(mode="after")
    def _one_typed_value(self) -> Element:
        """The ``value[x]`` among the undeclared children: at most one, of the type its suffix names."""
        values = [key for key in self.model_extra or {} if key.startswith("value") and key != "value"]
        if len(values) > 1:
            raise ValueError(f"an element has one value[x] at most, not {', '.join(values)}")
        for key in values:
            suffix = key[len("value") :]
            expected = _VALUE_TYPES.get(suffix)
            if expected is None:
                raise ValueError(f"{key}: {suffix!r} is not a FHIR data type")
            try:
                expected.validate_python((self.model_extra or {})[key], strict=True)
            except ValidationError as error:
                detail = error.errors()[0]
                where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in detail["loc"])
                raise ValueError(f"{key}{where}: {detail['msg']}") from None
        return self


class Coding(Element):
    system: str | None = None
    version: str | None = None
    code: str | None = None
    display: str | None = None
    userSelected: bool | None = None  # noqa: N815 (FHIR's name)


class CodeableConcept(Element):
    coding: list[Coding] | None = None
    text: str | None = None


class Extension(Element):
    url: str | None = None
    extension: list[Extension] | None = None


class Designation(Element):
    language: str | None = None
    use: Coding | None = None
    value: str | None = None
    extension: list[Extension] | None = None


class ConceptProperty(Element):
    code: str | None = None


class ConceptDefinition(Element):
    code: str | None = None
    display: str | None = None
    definition: str | None = None
    designation: list[Designation] | None = None
    property: list[ConceptProperty] | None = None
    extension: list[Extension] | None = None
    concept: list[ConceptDefinition] | None = None


class Resource(Element):
    resourceType: str  # noqa: N815
    id: str | None = None
    url: str | None = None
    version: str | None = None
    name: str | None = None
    title: str | None = None
    status: str | None = None
    language: str | None = None
    extension: list[Extension] | None = None
    contained: list[dict[str, Any]] | None = None


class PropertyDefinition(Element):
    code: str | None = None
    uri: str | None = None
    type: str | None = None


class CodeSystem(Resource):
    content: str | None = None
    caseSensitive: bool | None = None  # noqa: N815
    supplements: str | None = None
    property: list[PropertyDefinition] | None = None
    concept: list[ConceptDefinition] | None = None


class Filter(Element):
    property: str | None = None
    op: str | None = None
    value: str | None = None


class IncludedConcept(Element):
    code: str | None = None
    display: str | None = None
    designation: list[Designation] | None = None
    extension: list[Extension] | None = None


class Include(Element):
    system: str | None = None
    version: str | None = None
    concept: list[IncludedConcept] | None = None
    filter: list[Filter] | None = None
    valueSet: list[str] | None = None  # noqa: N815


class Compose(Element):
    inactive: bool | None = None
    include: list[Include] | None = None
    exclude: list[Include] | None = None
    extension: list[Extension] | None = None


class Contains(Element):
    system: str | None = None
    code: str | None = None
    display: str | None = None
    contains: list[Contains] | None = None


class ExpansionElement(Element):
    contains: list[Contains] | None = None


class ValueSet(Resource):
    compose: Compose | None = None
    expansion: ExpansionElement | None = None


class MapTarget(Element):
    code: str | None = None
    display: str | None = None
    equivalence: str | None = None
    relationship: str | None = None
    comment: str | None = None


class MapElement(Element):
    code: str | None = None
    display: str | None = None
    target: list[MapTarget] | None = None


class MapGroup(Element):
    source: str | None = None
    target: str | None = None
    element: list[MapElement] | None = None


class ConceptMap(Resource):
    group: list[MapGroup] | None = None


class Parameter(Element):
    name: str
    resource: dict[str, Any] | None = None
    part: list[Parameter] | None = None


class Parameters(Resource):
    parameter: list[Parameter] | None = None


_VALUE_TYPES: dict[str, TypeAdapter[Any]] = {
    **{suffix: TypeAdapter(kind) for suffix, kind in _PRIMITIVES.items()},
    **{suffix: TypeAdapter(dict[str, Any]) for suffix in _COMPLEX},
    "Coding": TypeAdapter(Coding),
    "CodeableConcept": TypeAdapter(CodeableConcept),
}
RESOURCE_MODELS: dict[str, type[Resource]] = {
    "Parameters": Parameters,
    "CodeSystem": CodeSystem,
    "ValueSet": ValueSet,
    "ConceptMap": ConceptMap,
}
"""The resources whose content the operations read; any other resource needs only a ``resourceType``."""


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
        RESOURCE_MODELS.get(kind, Resource).model_validate(resource, strict=True)
    except ValidationError as error:
        detail = error.errors()[0]
        where = path + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in detail["loc"])
        shown = repr(detail["input"])
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        message = detail["msg"].removeprefix("Value error, ")
        raise Structure(f"{where}: {message} (found {shown})").at(where) from None
    for index, contained in enumerate(resource.get("contained") or []):
        check_resource(contained, f"{path}.contained[{index}]")


def check_json(value: Any) -> None:
    """Refuse JSON nested deeper than :data:`MAX_DEPTH`, larger than :data:`MAX_ELEMENTS` values, or holding a
    lone surrogate in a string or a key (iteratively: no recursion on client input)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    count = 0
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MAX_ELEMENTS:
            raise Structure(f"The request body holds more than {MAX_ELEMENTS} JSON values")
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                raise Structure(f"The string {item[:40]!r} holds a lone surrogate: it is not Unicode text")
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise Structure(f"The request body is nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        else:
            stack.extend((child, depth + 1) for child in item)
