"""The terminology operations over a :class:`~.model.Registry`: $lookup, $validate-code, $subsumes, $expand, $translate.

Each operation takes the registry (the server's resources, overlaid with the request's ``tx-resource``\\ s) and
the request's :class:`Params`, and returns a FHIR resource as JSON (Parameters or ValueSet); a refusal is a
:class:`~.errors.FhirError`. Messages follow the wording of the reference server (tx.fhir.org), which HL7's
terminology test cases check by fragment.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from calcinosis_kg.server.fhir.errors import (
    FhirError,
    InvalidRequest,
    ResourceNotFound,
    TooCostly,
    issue,
    operation_outcome,
)
from calcinosis_kg.server.fhir.model import JSON, CodeSystemIndex, Concept, Registry, split_canonical, value_of

MAX_EXPANSION = 10_000
"""Largest expansion the server builds (the graph's value sets are far smaller)."""
MAX_REGEX_LENGTH = 200
"""Longest regular expression accepted in a ``regex`` filter."""

EXPANSION_ECHO = (
    "activeOnly", "count", "offset", "excludeNested", "includeDesignations", "includeDefinition",
    "displayLanguage", "filter", "property", "designation", "excludeNotForUI", "excludePostCoordinated",
    "system-version", "check-system-version", "force-system-version", "date",
)  # fmt: skip
"""Request parameters an expansion reports in ``expansion.parameter`` (the other ones name the value set)."""

CONCEPT_PROPERTIES = "http://hl7.org/fhir/concept-properties"


class Params:
    """The parameters of an operation request (a Parameters resource, or the query string turned into one)."""

    def __init__(self, parameters: list[JSON]) -> None:
        self.items = parameters

    def all(self, name: str) -> list[JSON]:
        """Every parameter called ``name``."""
        return [p for p in self.items if p.get("name") == name]

    def value(self, name: str) -> Any:
        """The value of the first parameter called ``name``, or None."""
        found = self.all(name)
        return value_of(found[0]) if found else None

    def text(self, name: str) -> str | None:
        """The value of ``name`` as a string (None when absent)."""
        value = self.value(name)
        return None if value is None else str(value)

    def flag(self, name: str, default: bool = False) -> bool:
        """The value of a boolean parameter (``true``/``false`` from a query string too)."""
        value = self.value(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise InvalidRequest(f"Parameter {name!r} must be true or false, not {value!r}")

    def integer(self, name: str) -> int | None:
        """The value of an integer parameter, or None."""
        value = self.value(name)
        if value is None:
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise InvalidRequest(f"Parameter {name!r} must be an integer, not {value!r}") from None
        if number < 0:
            raise InvalidRequest(f"Parameter {name!r} must not be negative")
        return number

    def resource(self, name: str) -> JSON | None:
        """The resource of the first parameter called ``name``."""
        found = self.all(name)
        resource = found[0].get("resource") if found else None
        return resource if isinstance(resource, dict) else None

    def resources(self, name: str) -> list[JSON]:
        """The resources of every parameter called ``name``."""
        return [p["resource"] for p in self.all(name) if isinstance(p.get("resource"), dict)]


def parameters(items: Iterable[JSON]) -> JSON:
    """A Parameters resource holding ``items``."""
    return {"resourceType": "Parameters", "parameter": list(items)}


def param(name: str, kind: str, value: Any) -> JSON:
    """One parameter ``name`` with ``value`` of FHIR type ``kind`` (``valueString``...)."""
    return {"name": name, f"value{kind[0].upper()}{kind[1:]}": value}


def now() -> str:
    """The current instant, as FHIR writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def code_system_or_404(registry: Registry, url: str | None, version: str | None = None) -> CodeSystemIndex:
    """The code system ``url`` (and version), or ResourceNotFound."""
    if not url:
        raise InvalidRequest("No code system was given (system, or url for CodeSystem/$validate-code)")
    found = registry.code_system(url, version)
    if found is None:
        shown = f"{url}|{version}" if version else url
        raise ResourceNotFound(
            f"A definition for CodeSystem '{shown}' could not be found, so the code cannot be looked up",
            tx_code="not-found",
        )
    return found


# ------------------------------------------------------------------------------------------------ $lookup
def lookup(registry: Registry, params: Params) -> JSON:
    """``CodeSystem/$lookup``: the concept's display, definition, designations and properties."""
    code, system, version = params.text("code"), params.text("system"), params.text("version")
    coding = params.value("coding")
    if isinstance(coding, dict):
        code, system, version = coding.get("code"), coding.get("system"), coding.get("version") or version
    if not code:
        raise InvalidRequest("$lookup needs a code (code and system, or coding)")
    cs = code_system_or_404(registry, system, version)
    concept = cs.find(code)
    if concept is None:
        shown = f" version '{cs.version}'" if cs.version else ""
        raise ResourceNotFound(
            f"Unknown code '{code}' in the CodeSystem '{cs.url}'{shown}", tx_code="invalid-code", status=404
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
    for designation in concept.designations:
        parts: list[JSON] = []
        if "language" in designation:
            parts.append(param("language", "code", designation["language"]))
        if "use" in designation:
            parts.append(param("use", "coding", designation["use"]))
        parts.append(param("value", "string", designation.get("value", "")))
        out.append({"name": "designation", "part": parts})

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


# ------------------------------------------------------------------------------------------------ $subsumes
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
            raise ResourceNotFound(f"Unknown code '{code}' in the CodeSystem '{cs.url}'", tx_code="invalid-code")
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


# ------------------------------------------------------------------------------------------------ $expand
@dataclass
class Member:
    """One concept of an expansion."""

    system: str
    version: str | None
    concept: Concept


@dataclass
class Expansion:
    """The members of a value set, and the code systems and value sets used to compute them."""

    members: dict[tuple[str, str], Member] = field(default_factory=dict)
    used_systems: dict[str, None] = field(default_factory=dict)
    used_value_sets: dict[str, None] = field(default_factory=dict)
    unknown_systems: dict[str, None] = field(default_factory=dict)


@dataclass
class Expander:
    """Computes the members of value sets over a registry (``active_only`` drops inactive concepts)."""

    registry: Registry
    active_only: bool = False
    depth: int = 0
    strict: bool = True
    """Raise for an unknown code system or value set (an expansion); else record it (validation)."""

    def value_set(self, vs: JSON, contained: dict[str, JSON] | None = None) -> Expansion:
        """The expansion of value set ``vs``."""
        if self.depth > 10:
            raise InvalidRequest("Value set imports are nested too deeply (or circular)")
        contained = {**(contained or {}), **{c.get("id", ""): c for c in vs.get("contained", []) if "id" in c}}
        compose = vs.get("compose")
        result = Expansion()
        if not isinstance(compose, dict):
            expansion = vs.get("expansion", {})
            for item in expansion.get("contains", []):
                cs = self.registry.code_system(item.get("system", ""))
                concept = cs.find(item.get("code", "")) if cs else None
                concept = concept or Concept(code=item.get("code", ""), display=item.get("display"))
                result.members[item.get("system", ""), concept.code] = Member(item.get("system", ""), None, concept)
            return result
        inactive_allowed = compose.get("inactive", True) is not False and not self.active_only
        for index, include in enumerate(compose.get("include", [])):
            for key, member in self._include(include, index, contained, result).items():
                if inactive_allowed or not member.concept.inactive:
                    result.members.setdefault(key, member)
        for index, exclude in enumerate(compose.get("exclude", [])):
            for key in self._include(exclude, index, contained, result, where="exclude"):
                result.members.pop(key, None)
        return result

    def _include(
        self, include: JSON, index: int, contained: dict[str, JSON], result: Expansion, where: str = "include"
    ) -> dict[tuple[str, str], Member]:
        selected: dict[tuple[str, str], Member] | None = None
        system = include.get("system")
        if system:
            cs = self.registry.code_system(system, include.get("version"))
            if cs is None:
                shown = f"{system}|{include['version']}" if include.get("version") else system
                if self.strict:
                    raise ResourceNotFound(
                        f"A definition for CodeSystem '{shown}' could not be found, so the value set cannot be "
                        "expanded",
                        tx_code="not-found",
                    )
                result.unknown_systems[shown] = None
                selected = {}
            else:
                result.used_systems[cs.canonical] = None
                codes = self._select(cs, include, index, where)
                selected = {(cs.url, c.code): Member(cs.url, cs.version, c) for c in codes}
        for reference in include.get("valueSet", []):
            imported = self._import(reference, contained, result)
            selected = imported if selected is None else {k: v for k, v in selected.items() if k in imported}
        return selected or {}

    def _import(self, reference: str, contained: dict[str, JSON], result: Expansion) -> dict[tuple[str, str], Member]:
        vs = contained.get(reference[1:]) if reference.startswith("#") else self.registry.value_set(reference)
        if vs is None:
            raise ResourceNotFound(
                f"A definition for the value Set '{reference}' could not be found", tx_code="not-found"
            )
        if not reference.startswith("#"):
            url = vs.get("url", reference)
            result.used_value_sets[f"{url}|{vs['version']}" if vs.get("version") else url] = None
        inner = Expander(self.registry, self.active_only, self.depth + 1, self.strict).value_set(vs, contained)
        result.used_systems.update(inner.used_systems)
        result.used_value_sets.update(inner.used_value_sets)
        result.unknown_systems.update(inner.unknown_systems)
        return inner.members

    def _select(self, cs: CodeSystemIndex, include: JSON, index: int, where: str) -> list[Concept]:
        listed = include.get("concept")
        filters = include.get("filter", [])
        if listed:
            concepts = [cs.find(item.get("code", "")) for item in listed]
            chosen = [c for c in concepts if c is not None]
        else:
            chosen = list(cs)
        for number, item in enumerate(filters):
            path = f"ValueSet.compose.{where}[{index}].filter[{number}]"
            allowed = {c.code for c in filter_concepts(cs, item, path)}
            chosen = [c for c in chosen if c.code in allowed]
        return chosen


def filter_concepts(cs: CodeSystemIndex, item: JSON, path: str) -> list[Concept]:
    """The concepts of ``cs`` that pass the compose filter ``item`` (property, op, value)."""
    prop, op, value = item.get("property"), item.get("op"), item.get("value")
    if value is None or value == "":
        raise FhirError(
            f"The system {cs.url} filter with property = {prop}, op = {op} has no value", tx_code="vs-invalid"
        ).at(path)
    value = str(value)
    if prop in ("concept", "code") and op in ("is-a", "descendent-of", "is-not-a", "child-of", "generalizes"):
        root = cs.find(value)
        if root is None:
            return [] if op != "is-not-a" else list(cs)
        if op == "is-a":
            codes = [root.code, *cs.descendants(root.code)]
        elif op == "descendent-of":
            codes = cs.descendants(root.code)
        elif op == "child-of":
            codes = list(root.children)
        elif op == "generalizes":
            codes = [root.code, *cs.ancestors(root.code)]
        else:
            below = {root.code, *cs.descendants(root.code)}
            codes = [c.code for c in cs if c.code not in below]
        return [cs.concepts[c] for c in codes]
    if op == "regex":
        if len(value) > MAX_REGEX_LENGTH:
            raise InvalidRequest(f"The regular expression of filter {path} is longer than {MAX_REGEX_LENGTH}")
        try:
            pattern = re.compile(value)
        except re.error as error:
            raise InvalidRequest(f"The regular expression {value!r} of {path} is invalid: {error}") from None
        return [c for c in cs if any(pattern.fullmatch(text) for text in _texts(c, prop))]
    if op in ("=", "in", "not-in"):
        wanted = {value} if op == "=" else {v.strip() for v in value.split(",")}
        if op == "not-in":
            return [c for c in cs if not wanted & set(_texts(c, prop))]
        return [c for c in cs if wanted & set(_texts(c, prop))]
    if op == "exists":
        exists = value.lower() == "true"
        return [c for c in cs if bool(_texts(c, prop)) == exists]
    raise FhirError(f"The filter operator {op!r} on property {prop!r} is not supported", tx_code="vs-invalid").at(path)


def _texts(concept: Concept, prop: str | None) -> list[str]:
    if prop in ("concept", "code"):
        return [concept.code]
    if prop == "display":
        return [concept.display] if concept.display else []
    if prop == "inactive":
        return ["true" if concept.inactive else "false"]
    return [_text(v) for v in concept.property_values(prop or "")]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return str(value.get("code", ""))
    return str(value)


def resolve_value_set(registry: Registry, params: Params) -> JSON:
    """The value set a request names (``url`` and ``valueSetVersion``) or sends (``valueSet``)."""
    supplied = params.resource("valueSet")
    if supplied is not None:
        return supplied
    url = params.text("url") or params.text("context")
    if not url:
        raise InvalidRequest("No value set was given: give url, or valueSet with the value set itself")
    found = registry.value_set(url, params.text("valueSetVersion"))
    if found is None:
        raise ResourceNotFound(f"A definition for the value Set '{url}' could not be found", tx_code="not-found")
    return found


def expand(registry: Registry, params: Params, vs: JSON | None = None) -> JSON:
    """``ValueSet/$expand``: the value set with an ``expansion`` (flat; ``count``/``offset`` paging)."""
    vs = vs if vs is not None else resolve_value_set(registry, params)
    active_only = params.flag("activeOnly")
    expansion = Expander(registry, active_only=active_only).value_set(vs)
    members = list(expansion.members.values())
    text = params.text("filter")
    if text:
        members = [m for m in members if _matches_text(m.concept, text)]
    if len(members) > MAX_EXPANSION:
        raise TooCostly(f"The expansion has {len(members)} concepts, more than the limit {MAX_EXPANSION}")
    offset = params.integer("offset") or 0
    count = params.integer("count")
    page = members[offset:] if count is None else members[offset : offset + count]
    designations = params.flag("includeDesignations")
    definitions = params.flag("includeDefinition")
    echoed = [p for p in params.items if p.get("name") in EXPANSION_ECHO]
    report = [
        *echoed,
        *(param("used-codesystem", "uri", used) for used in expansion.used_systems),
        *(param("used-valueset", "uri", used) for used in expansion.used_value_sets),
    ]
    uses_status = any(m.concept.status for m in page)
    body: JSON = {
        "identifier": f"urn:uuid:{uuid.uuid4()}",
        "timestamp": now(),
        "total": len(members),
        "parameter": report,
    }
    if params.value("offset") is not None:
        body["offset"] = offset
    if uses_status:
        body["property"] = [{"code": "status", "uri": f"{CONCEPT_PROPERTIES}#status"}]
    contains = [_contains(m, designations, definitions) for m in page]
    if contains:
        body["contains"] = contains
    result = {key: value for key, value in vs.items() if key not in ("compose", "expansion", "contained", "text")}
    result["expansion"] = body
    return result


def _matches_text(concept: Concept, text: str) -> bool:
    needle = text.casefold()
    texts = [concept.code, concept.display or "", *(d.get("value", "") for d in concept.designations)]
    return any(needle in t.casefold() for t in texts)


def _contains(member: Member, designations: bool, definitions: bool) -> JSON:
    concept = member.concept
    item: JSON = {"system": member.system}
    if concept.abstract:
        item["abstract"] = True
    if concept.inactive:
        item["inactive"] = True
    item["code"] = concept.code
    if concept.display:
        item["display"] = concept.display
    if designations and concept.designations:
        item["designation"] = [dict(d) for d in concept.designations]
    if definitions and concept.definition:
        item["extension"] = [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/valueset-concept-definition",
                "valueString": concept.definition,
            }
        ]
    if concept.status:
        item["property"] = [{"code": "status", "valueCode": concept.status}]
    return item


# ------------------------------------------------------------------------------------------------ $validate-code
@dataclass
class Check:
    """The outcome of validating one coding."""

    issues: list[JSON] = field(default_factory=list)
    code: str | None = None
    system: str | None = None
    version: str | None = None
    display: str | None = None
    inactive: bool = False
    found: bool = False
    in_value_set: bool = False
    unknown_system: str | None = None
    display_ok: bool = True

    @property
    def result(self) -> bool:
        return self.found and self.in_value_set and self.display_ok


def _codings(params: Params) -> tuple[str, list[JSON]]:
    """How the request gives the code (``code``, ``Coding`` or ``CodeableConcept``) and its codings."""
    concept = params.value("codeableConcept")
    if isinstance(concept, dict):
        return "CodeableConcept", list(concept.get("coding", []))
    coding = params.value("coding")
    if isinstance(coding, dict):
        return "Coding", [coding]
    code = params.text("code")
    if code is None:
        raise InvalidRequest("$validate-code needs a code (code and system, coding or codeableConcept)")
    coding = {"code": code}
    for name in ("system", "version", "display"):
        if params.text(name) is not None:
            coding[name] = params.text(name)
    return "code", [coding]


def _path(form: str, element: str, index: int) -> str:
    if form == "code":
        return element
    if form == "Coding":
        return f"Coding.{element}" if element else "Coding"
    return f"CodeableConcept.coding[{index}]" + (f".{element}" if element else "")


def _check_coding(
    registry: Registry,
    coding: JSON,
    form: str,
    index: int,
    vs: JSON | None,
    members: Expansion | None,
    lenient: bool,
) -> Check:
    check = Check(code=coding.get("code"), system=coding.get("system"))
    code, system = check.code or "", check.system
    vs_canonical = _canonical(vs) if vs is not None else None
    if not system:
        if form != "code":
            check.issues.append(
                issue(
                    "warning",
                    "invalid",
                    "Coding has no system. A code with no system has no defined meaning, and it cannot be "
                    "validated. A system should be provided",
                    tx_code="invalid-data",
                    expression=_path(form, "", index),
                )
            )
        if vs_canonical:
            check.issues.append(_not_in_vs(f"#{code}", vs_canonical, form, index))
        return check
    cs = registry.code_system(system, coding.get("version"))
    if cs is None:
        check.unknown_system = system
        check.issues.append(
            issue(
                "error",
                "not-found",
                f"A definition for CodeSystem {system} could not be found, so the code cannot be validated",
                tx_code="not-found",
                expression=_path(form, "system", index),
            )
        )
        if vs_canonical:
            check.issues.append(_not_in_vs(f"{system}#{code}", vs_canonical, form, index))
        return check
    check.version = cs.version
    concept = cs.find(code)
    if concept is None:
        shown = f" version '{cs.version}'" if cs.version else ""
        check.issues.append(
            issue(
                "error",
                "code-invalid",
                f"Unknown code '{code}' in the CodeSystem '{cs.url}'{shown}",
                tx_code="invalid-code",
                expression=_path(form, "code", index),
            )
        )
        if vs_canonical:
            check.issues.append(_not_in_vs(f"{system}#{code}", vs_canonical, form, index))
        return check
    check.found = True
    check.code = concept.code
    check.display = concept.display
    check.inactive = concept.inactive
    if members is None:
        check.in_value_set = True
    else:
        check.in_value_set = (cs.url, concept.code) in members.members
        if not check.in_value_set and vs_canonical:
            if concept.inactive and _includes_code(members, vs, cs.url, concept.code, registry):
                check.issues.append(
                    issue(
                        "error",
                        "business-rule",
                        f"The concept '{concept.code}' is valid but is not active",
                        tx_code="code-rule",
                        expression=_path(form, "code", index),
                    )
                )
            check.issues.append(_not_in_vs(f"{system}#{code}", vs_canonical, form, index))
    if concept.inactive:
        check.issues.append(
            issue(
                "warning",
                "business-rule",
                f"The concept '{concept.code}' has a status of inactive and its use should be reviewed",
                tx_code="code-comment",
                expression=_path(form, "", index),
            )
        )
    given = coding.get("display")
    if given is not None and concept.display is not None:
        valid = [concept.display, *(d.get("value") for d in concept.designations)]
        if given not in valid and _normal(given) not in {_normal(v or "") for v in valid}:
            check.display_ok = lenient
            language = cs.language or "en"
            check.issues.append(
                issue(
                    "warning" if lenient else "error",
                    "invalid",
                    f"Wrong Display Name '{given}' for {system}#{concept.code}. Valid display is "
                    f"'{concept.display}' (for the language(s) '{language}')",
                    tx_code="invalid-display",
                    expression=_path(form, "display", index),
                )
            )
    return check


def _includes_code(members: Expansion, vs: JSON | None, system: str, code: str, registry: Registry) -> bool:
    """Whether ``vs`` would hold the code if inactive concepts were allowed."""
    if vs is None:
        return False
    try:
        everything = Expander(registry, strict=False).value_set(
            {**vs, "compose": {**vs.get("compose", {}), "inactive": True}}
        )
    except FhirError:
        return False
    return (system, code) in everything.members


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def _not_in_vs(coded: str, vs_canonical: str, form: str, index: int) -> JSON:
    return issue(
        "error",
        "code-invalid",
        f"The provided code '{coded}' was not found in the value set '{vs_canonical}'",
        tx_code="not-in-vs",
        expression=_path(form, "code", index),
    )


def _canonical(resource: JSON) -> str:
    url = resource.get("url") or f"#{resource.get('id', '')}"
    return f"{url}|{resource['version']}" if resource.get("version") else str(url)


def validate_code(registry: Registry, params: Params, *, value_set: bool) -> JSON:
    """``ValueSet/$validate-code`` (``value_set``) or ``CodeSystem/$validate-code``."""
    form, codings = _codings(params)
    lenient = params.flag("lenient-display-validation")
    vs: JSON | None = None
    members: Expansion | None = None
    if value_set:
        vs = resolve_value_set(registry, params)
        try:
            members = Expander(registry, active_only=params.flag("activeOnly"), strict=False).value_set(vs)
        except ResourceNotFound as error:
            if "value Set" not in str(error):
                raise
            return _invalid_import(codings, str(error))
        if form == "code" and "system" not in codings[0] and params.flag("inferSystem", True):
            systems = {key[0] for key in members.members}
            if len(systems) == 1:
                codings[0]["system"] = systems.pop()
    else:
        url = params.text("url") or params.text("system") or (codings[0].get("system") if codings else None)
        cs = code_system_or_404(registry, url, params.text("version"))
        for coding in codings:
            coding.setdefault("system", cs.url)
    checks = [_check_coding(registry, c, form, i, vs, members, lenient) for i, c in enumerate(codings)]
    good = next((c for c in checks if c.result), None)
    out: list[JSON] = []
    issues: list[JSON] = []
    if form == "CodeableConcept":
        out.append(param("codeableConcept", "codeableConcept", params.value("codeableConcept")))
        if good is None and vs is not None:
            issues.append(
                issue(
                    "error",
                    "code-invalid",
                    f"No valid coding was found for the value set '{_canonical(vs)}'",
                    tx_code="not-in-vs",
                )
            )
        for check in checks:
            for found in check.issues:
                if found["details"].get("coding", [{}])[0].get("code") == "not-in-vs":
                    found = {**found, "severity": "information"}
                    found["details"] = {**found["details"], "coding": [dict(found["details"]["coding"][0])]}
                    found["details"]["coding"][0]["code"] = "this-code-not-in-vs"
                issues.append(found)
        chosen = good or (checks[0] if len(checks) == 1 and checks[0].found else None)
    else:
        chosen = checks[0]
        issues = chosen.issues
    if chosen is not None:
        if chosen.code is not None:
            out.append(param("code", "code", chosen.code))
        if chosen.display:
            out.append(param("display", "string", chosen.display))
        if chosen.inactive:
            out.append(param("inactive", "boolean", True))
        if chosen.system and chosen.unknown_system is None and (form != "Coding" or chosen.system):
            out.append(param("system", "uri", chosen.system))
        if chosen.version:
            out.append(param("version", "string", chosen.version))
        if chosen.unknown_system:
            out.append(param("system", "uri", chosen.system))
            out.append(param("x-unknown-system", "canonical", chosen.unknown_system))
    result = good is not None if form == "CodeableConcept" else checks[0].result
    if issues:
        out.append({"name": "issues", "resource": operation_outcome(issues)})
        messages = sorted({i["details"]["text"] for i in issues if i["severity"] in ("error", "warning")})
        if messages:
            out.append(param("message", "string", "; ".join(messages)))
    out.append(param("result", "boolean", result))
    return parameters(out)


def _invalid_import(codings: list[JSON], message: str) -> JSON:
    found = issue("error", "not-found", message, tx_code="not-found")
    out = []
    if codings and codings[0].get("code"):
        out.append(param("code", "code", codings[0]["code"]))
    out += [
        {"name": "issues", "resource": operation_outcome([found])},
        param("message", "string", message),
        param("result", "boolean", False),
    ]
    return parameters(out)


# ------------------------------------------------------------------------------------------------ $translate
R5_RELATIONSHIP_TO_R4 = {
    "equivalent": "equivalent",
    "related-to": "relatedto",
    "source-is-narrower-than-target": "wider",
    "source-is-broader-than-target": "narrower",
    "not-related-to": "disjoint",
}
"""R5 ``ConceptMap...target.relationship`` -> R4 ``equivalence`` (the R4/R5 conversion of the FHIR spec)."""


def translate(registry: Registry, params: Params, concept_map: JSON | None = None) -> JSON:
    """``ConceptMap/$translate``, forward or ``reverse`` (R4 parameter names; R5 names accepted too).

    The answer is R4's: each ``match`` has ``equivalence``, ``concept`` (the translated coding: a target code,
    or with ``reverse`` a source code) and ``source`` (the concept map's canonical URL).
    """
    code, system = params.text("code"), params.text("system")
    reverse = params.flag("reverse")
    coding = params.value("coding")
    if isinstance(coding, dict):
        code, system = coding.get("code"), coding.get("system") or system
    if params.text("sourceCode"):
        code, system = params.text("sourceCode"), params.text("sourceSystem") or system
    target_system = params.text("targetsystem") or params.text("targetSystem")
    if params.text("targetCode"):
        # R5's reverse form: targetCode (and targetSystem) is the code to map back; sourceSystem the wanted one.
        code, system, reverse = params.text("targetCode"), target_system, True
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
        origin = _canonical(cm)
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
                    parts = [
                        param("equivalence", "code", equivalence),
                        param("concept", "coding", found),
                        param("source", "uri", origin),
                    ]
                    if mapped.get("comment"):
                        parts.append(param("comment", "string", mapped["comment"]))
                    matches.append({"name": "match", "part": parts})
    out = [param("result", "boolean", bool(matches))]
    if not matches:
        out.append(param("message", "string", f"No mappings could be found for {system}#{code}"))
    out.extend(matches)
    return parameters(out)


def canonical_split(value: str) -> tuple[str, str | None]:
    """Re-exported :func:`~.model.split_canonical` (for views)."""
    return split_canonical(value)
