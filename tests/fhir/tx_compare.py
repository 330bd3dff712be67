"""HL7's comparison of tx test answers, ported from the Java runner (hapifhir/org.hl7.fhir.core).

Three parts, each a port of one Java class, working on R5 JSON (the answer already read back as R5 by
``tests.fhir.tx_r4``):

- **scrubbers** (``TxTesterScrubbers``): what the tests do not control is removed before comparing: ``text`` and
  ``meta`` of resources, extensions with an absolute URL that is not in ``MANAGED_EXTENSIONS`` (except inside
  ``ValueSet.compose``), the ``diagnostics`` output parameter, issues with ``diagnostics`` but no ``details``, and
  ``diagnostics`` itself (unless it names an ``x-request-id``);
- **sorters** (``TxTesterSorters``): both sides are compared in order, so the answer is sorted first: parameters by
  name (``property`` by code then value, ``designation`` by language then value), parts recursively (Java's sort
  only compares, and so sorts the parts of, lists of two or more), issues by severity, code, expression, text,
  expansion parameters by name then value, ``contains`` by code, extensions by URL, designations by language,
  properties by code, the ``"; "``-separated ``message`` sentences alphabetically;
- **comparison** (``CompareUtilities.compareObjects``): arrays in order, an expected entry whose ``$optional$``
  holds may be skipped (``true``, ``warning:...``, ``!mode`` when the mode is off, ``mode`` when it is on,
  ``version:N`` when the FHIR version starts with N), ``$optional-properties$`` and ``$count-arrays$``, the
  templates ``$$ $instant$ $date$ $uuid$ $string$ $id$ $url$ $token$ $semver$ $version$ $choice:..$
  $fragments:..$`` and ``$external:N:fragments$`` (no externals file, as in HL7's default run: the fragments
  are checked); properties the answer has and the expected file lacks fail, except in pattern mode
  (``metadata`` and ``term-caps``), where only the expected properties are looked for.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

JSON = dict[str, Any]

MANAGED_EXTENSIONS = frozenset(
    {
        "http://hl7.org/fhir/StructureDefinition/codesystem-alternate",
        "http://hl7.org/fhir/StructureDefinition/codesystem-conceptOrder",
        "http://hl7.org/fhir/StructureDefinition/codesystem-label",
        "http://hl7.org/fhir/StructureDefinition/coding-sctdescid",
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status",
        "http://hl7.org/fhir/StructureDefinition/itemWeight",
        "http://hl7.org/fhir/StructureDefinition/rendering-style",
        "http://hl7.org/fhir/StructureDefinition/rendering-xhtml",
        "http://hl7.org/fhir/StructureDefinition/translation",
        "http://hl7.org/fhir/StructureDefinition/valueset-concept-definition",
        "http://hl7.org/fhir/StructureDefinition/valueset-conceptOrder",
        "http://hl7.org/fhir/StructureDefinition/valueset-deprecated",
        "http://hl7.org/fhir/StructureDefinition/valueset-label",
        "http://hl7.org/fhir/StructureDefinition/valueset-supplement",
        "http://hl7.org/fhir/test/CodeSystem/de-multi",
        "http://hl7.org/fhir/test/CodeSystem/en-multi",
        "http://hl7.org/fhir/test/StructureDefinition/unknown-extension-1",
        "http://hl7.org/fhir/test/StructureDefinition/unknown-extension-3",
        "http://hl7.org/fhir/test/StructureDefinition/unknown-extension-4",
        "http://hl7.org/fhir/test/StructureDefinition/unknown-extension-5",
        "http://hl7.org/fhir/test/ValueSet/extensions-bad-supplement",
        "http://hl7.org/fhir/test/ValueSet/simple-all",
        "http://hl7.org/fhir/test/ValueSet/simple-enumerated",
        "http://hl7.org/fhir/StructureDefinition/alternate-code-use",
        "http://hl7.org/fhir/StructureDefinition/alternate-code-status",
        "http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id",
        "http://hl7.org/fhir/test/ValueSet/simple-filter-isa",
        "http://hl7.org/fhir/StructureDefinition/valueset-unclosed",
        "http://hl7.org/fhir/StructureDefinition/valueset-unclosed-reason",
    }
)
"""The extensions HL7's runner compares (``TxTesterScrubbers.isManagedExtension``, not ``tight``)."""

PATTERNS = {
    "$instant$": r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))",
    "$date$": r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?",
    "$uuid$": r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "$id$": r"[A-Za-z0-9\-\.]{1,64}",
    "$url$": r"(https?)://(%[0-9A-Fa-f]{2}|[-()_.!~*';/?:@&=+$,A-Za-z0-9])+",
    "$token$": r"[0-9a-zA-Z_][0-9a-zA-Z_\.\-]*",
    "$semver$": r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?",
}
"""The templates' patterns (Java's ``RegexConstants``, and ``VersionUtilities.isSemVer`` with a patch)."""


# ------------------------------------------------------------------------------------------------ scrubbers
def _managed(extension: JSON) -> bool:
    url = str(extension.get("url", ""))
    return not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url) or url in MANAGED_EXTENSIONS


def _scrub_extensions(node: Any, path: str = "") -> None:
    """Remove unmanaged extensions from every element under ``node`` (not under ``ValueSet.compose``)."""
    if isinstance(node, list):
        for item in node:
            _scrub_extensions(item, path)
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("extension"), list):
        node["extension"] = [e for e in node["extension"] if not isinstance(e, dict) or _managed(e)]
        if not node["extension"]:
            del node["extension"]
    if path == "ValueSet.compose":
        return
    for key, value in list(node.items()):
        if key == "resource" and isinstance(value, dict):
            continue  # resources inside Parameters are scrubbed by their own rule (scrub_parameters)
        _scrub_extensions(value, f"{path}.{key.lstrip('_')}" if path else key)


def scrub_domain_resource(resource: JSON) -> None:
    resource.pop("text", None)
    resource.pop("meta", None)
    kind = str(resource.get("resourceType", ""))
    if isinstance(resource.get("extension"), list):
        resource["extension"] = [e for e in resource["extension"] if _managed(e)] or None
        if resource["extension"] is None:
            del resource["extension"]
    for key, value in resource.items():
        if key != "extension":
            _scrub_extensions(value, f"{kind}.{key.lstrip('_')}")


def scrub_operation_outcome(outcome: JSON) -> None:
    scrub_domain_resource(outcome)
    outcome["issue"] = [i for i in outcome.get("issue", []) if not ("diagnostics" in i and "details" not in i)]
    for issue in outcome["issue"]:
        if "diagnostics" in issue and "x-request-id" not in str(issue["diagnostics"]).lower():
            del issue["diagnostics"]
    if not outcome["issue"]:
        del outcome["issue"]


def scrub_parameters(parameters: JSON) -> None:
    parameters.pop("meta", None)
    parameters["parameter"] = [p for p in parameters.get("parameter", []) if p.get("name") != "diagnostics"]
    for item in parameters["parameter"]:
        resource = item.get("resource")
        if not isinstance(resource, dict):
            continue
        kind = resource.get("resourceType")
        if kind == "ValueSet":
            scrub_domain_resource(resource)
        elif kind == "OperationOutcome":
            scrub_operation_outcome(resource)
        elif kind == "Parameters":
            scrub_parameters(resource)
    if not parameters["parameter"]:
        del parameters["parameter"]


# ------------------------------------------------------------------------------------------------ sorters
def primitive(element: JSON | None) -> str | None:
    """The primitive value of an element's ``value[x]`` as Java's ``primitiveValue()`` gives it, or None."""
    if not element:
        return None
    for key, value in element.items():
        if key.startswith("value") and not isinstance(value, (dict, list)):
            return str(value).lower() if isinstance(value, bool) else str(value)
    return None


def _sort(items: list[Any], compare: Callable[[Any, Any], int], prepare: Callable[[Any], None] | None = None) -> None:
    """Sort ``items`` in place with a Java comparator (stable; ``prepare`` runs on each item a comparison sees)."""
    if len(items) < 2:
        return
    if prepare:
        for item in items:
            prepare(item)
    items.sort(key=functools.cmp_to_key(compare))


def _cmp(a: str, b: str) -> int:
    return (a > b) - (a < b)


def _by(key: Callable[[Any], str]) -> Callable[[Any, Any], int]:
    return lambda a, b: _cmp(key(a), key(b))


def _sort_extensions(element: JSON) -> None:
    _sort(element.get("extension", []), _by(lambda e: e.get("url", "")), _sort_extensions)


def _part(parameter: JSON, name: str) -> JSON | None:
    return next((p for p in parameter.get("part", []) if p.get("name") == name), None)


def _prepare_parameter(parameter: JSON) -> None:
    _sort_extensions(parameter)
    _sort(parameter.get("part", []), _compare_parameters, _prepare_parameter)


def _compare_parameters(a: JSON, b: JSON) -> int:
    name_a, name_b = a.get("name", ""), b.get("name", "")
    if name_a == name_b == "property":
        for part in ("code", "value"):
            va, vb = primitive(_part(a, part)), primitive(_part(b, part))
            if va is not None and vb is not None and va.lower() != vb.lower():
                return _cmp(va.lower(), vb.lower())
    if name_a == name_b == "designation":
        la, lb = (primitive(_part(x, "language")) or "" for x in (a, b))
        if la.lower() != lb.lower():
            return _cmp(la.lower(), lb.lower())
        va, vb = primitive(_part(a, "value")), primitive(_part(b, "value"))
        if va is not None and vb is not None and va.lower() != vb.lower():
            return _cmp(va.lower(), vb.lower())
    return _cmp(name_a, name_b)


def _issue_key(issue: JSON) -> tuple[str, str, str, str]:
    expression = issue.get("expression") or [""]
    return issue.get("severity", ""), issue.get("code", ""), expression[0], issue.get("details", {}).get("text", "")


def sort_operation_outcome(outcome: JSON) -> None:
    outcome.get("issue", []).sort(key=_issue_key)


def sort_parameters(parameters: JSON) -> None:
    _sort(parameters.get("parameter", []), _compare_parameters, _prepare_parameter)
    for item in parameters.get("parameter", []):
        resource = item.get("resource")
        if isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome":
            sort_operation_outcome(resource)
        if isinstance(resource, dict) and resource.get("resourceType") == "Parameters":
            sort_parameters(resource)
        value = item.get("valueString")
        if item.get("name") == "message" and isinstance(value, str) and "; " in value:
            item["valueString"] = "; ".join(sorted(value.split("; ")))


def _compare_designations(a: JSON, b: JSON) -> int:
    if "language" in a and "language" in b:
        return _cmp(a["language"], b["language"])
    return _cmp(a.get("value", ""), b.get("value", ""))


def _sort_contains(item: JSON) -> None:
    _sort(item.get("contains", []), _by(lambda c: c.get("code", "")))
    _sort(item.get("extension", []), _by(lambda e: e.get("url", "")), _sort_extensions)
    _sort(item.get("designation", []), _compare_designations)
    _sort(item.get("property", []), _by(lambda p: p.get("code", "")))
    for child in item.get("contains", []):
        _sort_contains(child)


def _compare_property_definitions(a: JSON, b: JSON) -> int:
    both = "uri" in a and "uri" in b
    found = _cmp(a["uri"], b["uri"]) if both else ("uri" in a) - ("uri" in b)
    return found or _cmp(a.get("code", ""), b.get("code", ""))


def _compare_expansion_parameters(a: JSON, b: JSON) -> int:
    return _cmp(a.get("name", ""), b.get("name", "")) or _cmp(primitive(a) or "", primitive(b) or "")


def sort_value_set(value_set: JSON) -> None:
    _sort(value_set.get("extension", []), _by(lambda e: e.get("url", "")), _sort_extensions)
    expansion = value_set.get("expansion")
    if not isinstance(expansion, dict):
        return
    _sort(expansion.get("parameter", []), _compare_expansion_parameters, _sort_extensions)
    _sort(expansion.get("property", []), _compare_property_definitions)
    _sort(expansion.get("extension", []), _by(lambda e: e.get("url", "")), _sort_extensions)
    _sort(expansion.get("contains", []), _by(lambda c: c.get("code", "")))
    for item in expansion.get("contains", []):
        _sort_contains(item)


def _sort_by(items: Iterable[Any] | None, key: str) -> None:
    if isinstance(items, list):
        _sort(items, _by(lambda x: str(x.get(key, "")) if isinstance(x, dict) else str(x)))


def sort_capability_statement(statement: JSON) -> None:
    for key in ("format", "instantiates", "imports", "acceptLanguage"):
        _sort_by(statement.get(key), "")
    _sort_by(statement.get("rest"), "mode")
    for rest in statement.get("rest", []):
        _sort_by(rest.get("resource"), "type")
        for resource in rest.get("resource", []):
            _sort_by(resource.get("interaction"), "code")
            _sort_by(resource.get("searchParam"), "name")
            _sort_by(resource.get("operation"), "name")
        _sort_by(rest.get("interaction"), "code")
        _sort_by(rest.get("searchParam"), "name")
        _sort_by(rest.get("operation"), "name")


def sort_terminology_capabilities(caps: JSON) -> None:
    _sort_by(caps.get("codeSystem"), "uri")
    for system in caps.get("codeSystem", []):
        _sort(
            system.get("version", []),
            lambda a, b: 0 if "code" not in a or "code" not in b else _by(lambda v: v["code"])(a, b),
        )
        for version in system.get("version", []):
            _sort_by(version.get("language"), "")
            _sort_by(version.get("property"), "")
            _sort_by(version.get("filter"), "code")
    _sort_by(caps.get("expansion", {}).get("parameter"), "name")


# ------------------------------------------------------------------------------------------------ comparison
class Comparer:
    """``CompareUtilities`` with the runner's modes and variables (``version``), optionally in pattern mode."""

    def __init__(self, modes: frozenset[str], version: str, pattern: bool = False) -> None:
        self.modes, self.version, self.pattern = modes, version, pattern

    def compare(self, expected: JSON, actual: JSON) -> str | None:
        """None when ``actual`` matches ``expected``, else HL7's message for the first difference."""
        return self._objects("", expected, actual)

    def _objects(self, path: str, expected: JSON, actual: JSON) -> str | None:
        optionals: list[str] = []
        if "$optional-properties$" in expected:
            optionals = ["$optional-properties$", "$count-arrays$", *expected["$optional-properties$"]]
        count_only = list(expected.get("$count-arrays$", []))
        for name, value in actual.items():
            if name == "fhir_comments":
                continue
            if name in expected:
                found = self._nodes(f"{path}.{name}", expected[name], value, name in count_only)
                if found:
                    return found
            elif not self.pattern and name not in optionals:
                return f"properties differ at {path}: unexpected property {name}"
        for name, value in expected.items():
            if name in ("fhir_comments", "$optional$") or "*" in optionals or name in optionals:
                continue
            if name not in actual and not _all_optional(value):
                return f"properties differ at {path}: missing property {name}"
        return None

    def _nodes(self, path: str, expected: Any, actual: Any, count_only: bool) -> str | None:
        kinds = (_kind(expected), _kind(actual))
        if kinds[0] != kinds[1]:
            return f"properties differ at {path}: expected {kinds[0]}, got {kinds[1]}"
        if isinstance(actual, dict):
            return self._objects(path, expected, actual)
        if isinstance(actual, list):
            return self._arrays(path, expected, actual, count_only)
        return self._primitives(path, expected, actual)

    def _primitives(self, path: str, expected: Any, actual: Any) -> str | None:
        if isinstance(expected, bool) and isinstance(actual, bool):
            return None if expected == actual else f"boolean property values differ at {path}: {expected} != {actual}"
        if isinstance(expected, str) and isinstance(actual, str):
            if ("<div" in actual and "<div" in expected) or self.matches(actual, expected):
                return None
            return f"string property values differ at {path}: expected {expected!r}, got {actual!r}"
        numbers = (int, Decimal)
        if isinstance(expected, numbers) and isinstance(actual, numbers):
            if isinstance(expected, bool) or isinstance(actual, bool) or str(expected) != str(actual):
                return f"property types or number values differ at {path}: {expected!r} != {actual!r}"
            return None
        if expected is None:
            return None if actual is None else f"null properties differ at {path}: {actual!r}"
        return f"property types differ at {path}: expected {expected!r}, got {actual!r}"

    def _arrays(self, path: str, expected: list[Any], actual: list[Any], count_only: bool) -> str | None:
        if count_only:
            return None if len(actual) == len(expected) else f"array item count differs at {path}"
        if self.pattern:
            position = 0
            for index, item in enumerate(expected):
                found: str | None = "Doesn't exist"
                while found is not None and position < len(actual):
                    found = self._nodes(f"{path}[{index}]", item, actual[position], False)
                    position += 1
                if found is not None:
                    return f"The expected item at {path} at index {index} was not found: {found}"
            return None
        optional = [self.optional(item) for item in expected]
        if len(actual) > len(expected) or len(actual) < len(expected) - sum(optional):
            return f"array item count differs at {path}: expected {len(expected)}, got {len(actual)}"
        position = 0
        for index, item in enumerate(expected):
            if position >= len(actual):
                if index >= len(expected) - sum(optional) and optional[index]:
                    return None
                return f"One or more array items did not match at {path} starting at index {index}"
            found = self._nodes(f"{path}[{index}]", item, actual[position], False)
            if found and not optional[index]:
                return found
            if not found:
                position += 1
        if position < len(actual):
            return f"Unexpected Node found in array at '{path}' at index {position}"
        return None

    def optional(self, item: Any) -> bool:
        """Whether an expected array entry may be missing (its ``$optional$`` holds)."""
        if not isinstance(item, dict):
            return False
        flag = item.get("$optional$")
        if flag is True:
            return True
        return isinstance(flag, str) and self._passes(flag)

    def _passes(self, token: str) -> bool:
        if token.startswith("!"):
            return token[1:] not in self.modes
        if token.startswith("warning:"):
            return True
        if token.startswith("version:"):
            return self.version.startswith(token[len("version:") :])
        return token in self.modes

    def matches(self, actual: str, expected: str) -> bool:
        """Whether ``actual`` matches the expected string or template (``CompareUtilities.matches``)."""
        if not (expected.startswith("$") and expected.endswith("$") and len(expected) > 1):
            return actual == expected.replace("$version$", self.version)
        if expected.startswith("$choice:"):
            return actual in expected[len("$choice:") : -1].split("|")
        if expected.startswith("$fragments:"):
            return all(f.lower() in actual.lower() for f in expected[len("$fragments:") : -1].split("|"))
        if expected.startswith("$external:"):
            command = expected[1:-1].split(":")
            return len(command) <= 2 or all(f.lower() in actual.lower() for f in command[2].split("|"))
        if expected == "$$":
            return True
        if expected == "$string$":
            return actual == actual.strip()
        if expected == "$version$":
            return actual == self.version
        if expected in PATTERNS:
            return re.fullmatch(PATTERNS[expected], actual) is not None
        raise ValueError(f"Unhandled template: {expected}")


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "primitive"


def _all_optional(value: Any) -> bool:
    """An expected array whose object entries all carry ``$optional$`` (whatever its value) may be missing."""
    return isinstance(value, list) and all("$optional$" in v for v in value if isinstance(v, dict))
