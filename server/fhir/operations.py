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
from calcinosis_kg.server.fhir.model import (
    JSON,
    PROPERTY_URIS,
    CodeSystemIndex,
    Concept,
    Registry,
    apply_supplement,
    derived_properties,
    split_canonical,
    value_of,
)

MAX_EXPANSION = 10_000
"""Largest expansion the server builds (the graph's value sets are far smaller)."""
MAX_REGEX_LENGTH = 200
"""Longest regular expression accepted in a ``regex`` filter."""

EXPANSION_ECHO = (
    "activeOnly", "count", "offset", "excludeNested", "includeDesignations", "filter", "designation",
    "excludeNotForUI", "excludePostCoordinated", "system-version", "check-system-version", "force-system-version",
    "date",
)  # fmt: skip
"""Request parameters an expansion reports in ``expansion.parameter`` (the other ones name the value set; the
language used is reported as ``displayLanguage`` wherever it came from; ``property`` and ``includeDefinition``
shape the answer and are not echoed, as the reference servers do)."""
BCP47 = "urn:ietf:bcp:47"
PREFERRED_FOR_LANGUAGE = {
    "system": "http://terminology.hl7.org/CodeSystem/hl7TermMaintInfra",
    "code": "preferredForLanguage",
    "display": "Preferred For Language",
}
"""The designation use of a code system's own display when an expansion shows another language's display."""
EXT_BASE = "http://hl7.org/fhir/StructureDefinition/"
EXPANSION_PARAMETER_EXT = "http://hl7.org/fhir/StructureDefinition/valueset-expansion-parameter"
SUPPLEMENT_EXT = "http://hl7.org/fhir/StructureDefinition/valueset-supplement"
PASSED_EXTENSIONS = frozenset(
    f"http://hl7.org/fhir/StructureDefinition/{name}"
    for name in ("rendering-style", "rendering-xhtml", "valueset-deprecated", "valueset-concept-definition")
)
"""Concept extensions (of the code system or the value set's ``compose``) an expansion passes on to ``contains``."""

CONCEPT_PROPERTIES = "http://hl7.org/fhir/concept-properties"


class Params:
    """The parameters of an operation request (a Parameters resource, or the query string turned into one)."""

    def __init__(self, parameters: list[JSON], accept_language: str | None = None) -> None:
        self.items = parameters
        self.accept_language = accept_language
        """The request's ``Accept-Language`` header (a display language when no parameter gives one)."""

    def plus(self, *extra: JSON) -> Params:
        """These parameters and ``extra`` (the same request headers)."""
        return Params([*self.items, *extra], self.accept_language)

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


# ------------------------------------------------------------------------------------------------ languages
Languages = list[tuple[str, float]]


def parse_languages(text: str | None) -> Languages:
    """An Accept-Language style list (``de, *; q=0``) as (tag, weight) pairs, heaviest first (stable)."""
    found: Languages = []
    for part in (text or "").split(","):
        tag, _, rest = part.strip().partition(";")
        weight = 1.0
        rest = rest.strip()
        if rest.startswith("q="):
            try:
                weight = float(rest[2:])
            except ValueError:
                weight = 1.0
        if tag.strip():
            found.append((tag.strip(), weight))
    return sorted(found, key=lambda item: -item[1])


def language_text(text: str) -> str:
    """A language list as the reference servers echo it (``de,*; q=0`` -> ``de, *; q=0``; ``en,*`` unchanged)."""
    if ";" not in text:
        return text
    return ", ".join(part.strip() for part in text.split(","))


def matches_language(tag: str | None, wanted: str) -> bool:
    """Whether language ``tag`` answers a request for ``wanted`` (``de`` is answered by ``de`` and ``de-CH``)."""
    if not tag:
        return False
    tag, wanted = tag.lower(), wanted.lower()
    return tag == wanted or tag.startswith(wanted + "-")


def requested_language(params: Params, vs: JSON | None, header: str | None) -> str | None:
    """The display language of a request: ``displayLanguage``, else the value set's own expansion parameter,
    else the ``Accept-Language`` header, else the value set's ``language``."""
    given = params.text("displayLanguage")
    if given:
        return given
    for extension in (vs or {}).get("compose", {}).get("extension", []):
        if extension.get("url") == EXPANSION_PARAMETER_EXT:
            parts = {e.get("url"): value_of(e) for e in extension.get("extension", [])}
            if parts.get("name") == "displayLanguage" and parts.get("value"):
                return str(parts["value"])
    if header:
        return header
    language = (vs or {}).get("language")
    return str(language) if language else None


@dataclass
class Shown:
    """The display an answer shows for a concept in the requested languages."""

    display: str | None
    designation: int | None = None
    """The index of the designation shown as the display, when it is not the code system's display."""
    replaced: bool = False
    """Whether the code system's display was left out (another language's display, or none)."""


def display_in(cs: CodeSystemIndex, concept: Concept, languages: Languages) -> Shown:
    """The display of ``concept`` for ``languages``: the code system's display when its language is wanted (or
    ``*``), else a designation in a wanted language; else the code system's display, unless ``*; q=0`` says
    only the wanted languages will do (then none)."""
    if not languages:
        return Shown(concept.display)
    for wanted, weight in languages:
        if weight <= 0:
            continue
        if wanted == "*" or matches_language(cs.language, wanted):
            return Shown(concept.display)
        for index, designation in enumerate(concept.designations):
            use = designation.get("use", {}).get("code")
            if matches_language(designation.get("language"), wanted) and use in (None, "display"):
                return Shown(designation.get("value"), index, True)
    if any(wanted == "*" and weight <= 0 for wanted, weight in languages):
        return Shown(None, None, concept.display is not None)
    return Shown(concept.display)


def designations_shown(cs: CodeSystemIndex, concept: Concept, shown: Shown, wanted: list[str]) -> list[JSON]:
    """The designations an expansion lists for ``concept`` (``wanted``: the ``designation`` parameters)."""
    found: list[JSON] = []
    if shown.replaced and concept.display:
        own: JSON = {"language": cs.language} if cs.language else {}
        found.append({**own, "use": dict(PREFERRED_FOR_LANGUAGE), "value": concept.display})
    found += [dict(d) for i, d in enumerate(concept.designations) if i != shown.designation]
    if not wanted:
        return found

    def chosen(designation: JSON) -> bool:
        for item in wanted:
            system, _, code = item.rpartition("|")
            if system == BCP47 and designation.get("language") == code:
                return True
            use = designation.get("use", {})
            if system != BCP47 and use.get("code") == code and (not system or use.get("system") == system):
                return True
        return False

    return [d for d in found if chosen(d)]


# ------------------------------------------------------------------------------------------------ supplements
def supplemented(
    registry: Registry, cs: CodeSystemIndex, canonicals: Iterable[str]
) -> tuple[CodeSystemIndex, list[str]]:
    """``cs`` with the supplements ``canonicals`` that supplement it applied, and their canonicals (url|version).

    A supplement that is not known is a 404 ("Required supplement not found"), as for the reference servers."""
    used: list[str] = []
    resource = cs.resource
    for canonical in canonicals:
        supplement = registry.code_system(canonical)
        if supplement is None or supplement.content != "supplement":
            raise ResourceNotFound(f"Required supplement not found: {canonical}", tx_code="not-found")
        if split_canonical(str(supplement.resource.get("supplements", "")))[0] != cs.url:
            continue
        resource = apply_supplement(resource, supplement.resource)
        used.append(supplement.canonical)
    return (CodeSystemIndex(resource) if used else cs), used


def supplement_canonicals(params: Params, vs: JSON | None) -> list[str]:
    """The supplements a request asks for: ``useSupplement`` parameters and the value set's supplement extensions."""
    found = [str(p) for p in (value_of(item) for item in params.all("useSupplement")) if p]
    found += [str(value_of(e)) for e in (vs or {}).get("extension", []) if e.get("url") == SUPPLEMENT_EXT]
    return list(dict.fromkeys(found))


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
    cs, used = supplemented(registry, cs, supplement_canonicals(params, None))
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
    """One concept of an expansion (``cs``: its code system, with the supplements used; ``entry``: the value set's
    own ``compose.include.concept`` item for it, if it lists the concept)."""

    system: str
    version: str | None
    concept: Concept
    cs: CodeSystemIndex | None = None
    entry: JSON | None = None


@dataclass
class Expansion:
    """The members of a value set, and the code systems and value sets used to compute them."""

    members: dict[tuple[str, str], Member] = field(default_factory=dict)
    used_systems: dict[str, None] = field(default_factory=dict)
    used_value_sets: dict[str, None] = field(default_factory=dict)
    used_supplements: dict[str, None] = field(default_factory=dict)
    unknown_systems: dict[str, None] = field(default_factory=dict)


@dataclass
class Expander:
    """Computes the members of value sets over a registry (``active_only`` drops inactive concepts)."""

    registry: Registry
    active_only: bool = False
    depth: int = 0
    strict: bool = True
    """Raise for an unknown code system or value set (an expansion); else record it (validation)."""
    supplements: list[str] = field(default_factory=list)
    """The canonicals of the supplements to apply to the code systems they supplement."""

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
                result.members[item.get("system", ""), concept.code] = Member(item.get("system", ""), None, concept, cs)
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
                cs, used = supplemented(self.registry, cs, self.supplements)
                result.used_supplements.update(dict.fromkeys(used))
                entries = {str(item.get("code")): item for item in include.get("concept", [])}
                codes = self._select(cs, include, index, where)
                selected = {(cs.url, c.code): Member(cs.url, cs.version, c, cs, entries.get(c.code)) for c in codes}
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
        inner = Expander(self.registry, self.active_only, self.depth + 1, self.strict, self.supplements).value_set(
            vs, contained
        )
        result.used_systems.update(inner.used_systems)
        result.used_value_sets.update(inner.used_value_sets)
        result.used_supplements.update(inner.used_supplements)
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
    """``ValueSet/$expand``: the value set with an ``expansion`` (flat; ``count``/``offset`` paging).

    Displays follow the requested language (:func:`requested_language`, :func:`display_in`); the supplements of
    ``useSupplement`` and of the value set's supplement extensions are applied; ``property`` asks for concept
    properties, and the properties R5 carries in concept extensions (label, order, weight, status) are always
    reported."""
    vs = vs if vs is not None else resolve_value_set(registry, params)
    active_only = params.flag("activeOnly")
    expander = Expander(registry, active_only=active_only, supplements=supplement_canonicals(params, vs))
    expansion = expander.value_set(vs)
    members = list(expansion.members.values())
    text = params.text("filter")
    if text:
        members = [m for m in members if _matches_text(m.concept, text)]
    if len(members) > MAX_EXPANSION:
        raise TooCostly(f"The expansion has {len(members)} concepts, more than the limit {MAX_EXPANSION}")
    offset = params.integer("offset") or 0
    count = params.integer("count")
    page = members[offset:] if count is None else members[offset : offset + count]
    language = requested_language(params, vs, params.accept_language)
    languages = parse_languages(language)
    wanted_properties = [str(value_of(p)) for p in params.all("property")]
    designations = params.flag("includeDesignations") or bool(params.all("designation"))
    echoed = [p for p in params.items if p.get("name") in EXPANSION_ECHO]
    if language:
        echoed.append(param("displayLanguage", "code", language_text(language)))
    report = [
        *echoed,
        *(param("used-codesystem", "uri", used) for used in expansion.used_systems),
        *(param("used-valueset", "uri", used) for used in expansion.used_value_sets),
        *(param("used-supplement", "uri", used) for used in expansion.used_supplements),
    ]
    body: JSON = {
        "identifier": f"urn:uuid:{uuid.uuid4()}",
        "timestamp": now(),
        "total": len(members),
        "parameter": report,
    }
    if params.value("offset") is not None:
        body["offset"] = offset
    wanted_designations = [str(value_of(p)) for p in params.all("designation")]
    contains = [_contains(m, languages, designations, wanted_designations, wanted_properties) for m in page]
    used_properties: dict[str, str] = {}
    for member, item in zip(page, contains, strict=True):
        for prop in item.get("property", []):
            defined = member.cs.property_defs.get(prop["code"], {}) if member.cs else {}
            uri = defined.get("uri") or PROPERTY_URIS.get(prop["code"])
            if uri:
                used_properties.setdefault(prop["code"], str(uri))
    if used_properties:
        body["property"] = [{"code": code, "uri": uri} for code, uri in used_properties.items()]
    if contains:
        body["contains"] = contains
    result = {key: value for key, value in vs.items() if key not in ("compose", "expansion", "contained", "text")}
    # The supplements used are named, with their versions, in used-supplement; an unversioned supplement
    # extension is left out of the answer (as the reference server does); a pinned one is kept.
    kept = [e for e in vs.get("extension", []) if e.get("url") != SUPPLEMENT_EXT or "|" in str(value_of(e))]
    if kept:
        result["extension"] = kept
    else:
        result.pop("extension", None)
    result["expansion"] = body
    return result


def _matches_text(concept: Concept, text: str) -> bool:
    needle = text.casefold()
    texts = [concept.code, concept.display or "", *(d.get("value", "") for d in concept.designations)]
    return any(needle in t.casefold() for t in texts)


def _contains(
    member: Member, languages: Languages, designations: bool, wanted_designations: list[str], properties: list[str]
) -> JSON:
    concept, entry = member.concept, member.entry or {}
    item: JSON = {"system": member.system}
    if concept.abstract:
        item["abstract"] = True
    if concept.inactive:
        item["inactive"] = True
    item["code"] = concept.code
    shown = display_in(member.cs, concept, languages) if member.cs else Shown(concept.display)
    display = entry.get("display") if entry.get("display") and not languages else shown.display
    if display:
        item["display"] = display
    if designations and member.cs is not None:
        found = designations_shown(member.cs, concept, shown, wanted_designations)
        for extra in entry.get("designation", []):
            clean = {k: v for k, v in extra.items() if k != "extension"}
            known = [e for e in extra.get("extension", []) if "/test/" not in str(e.get("url"))]
            found.append({**clean, **({"extension": known} if known else {})})
        if found:
            item["designation"] = found
    extensions = [e for e in concept.extensions if e.get("url") in PASSED_EXTENSIONS]
    extensions += [e for e in entry.get("extension", []) if e.get("url") in PASSED_EXTENSIONS]
    if extensions:
        item["extension"] = extensions
    props: dict[str, JSON] = {p["code"]: p for p in concept.derived}
    props.update({p["code"]: p for p in derived_properties(entry.get("extension", []))})
    if member.entry is not None and concept.status and "status" not in props:
        # A concept the value set names explicitly carries its status (retired...), as the reference server shows.
        props["status"] = {"code": "status", "valueCode": concept.status}
    listed: list[JSON] = list(props.values())
    for name in properties:
        if name in props:
            continue
        if name == "definition":
            if concept.definition:
                listed.append({"code": "definition", "valueString": concept.definition})
            continue
        listed += [dict(p) for p in concept.properties if p.get("code") == name]
    if listed:
        item["property"] = listed
    return item


# ------------------------------------------------------------------------------------------------ $validate-code
@dataclass
class Check:
    """The outcome of validating one coding."""

    issues: list[JSON] = field(default_factory=list)
    code: str | None = None
    normalized: str | None = None
    """The code system's spelling of the code, when the coding's differs by case only."""
    system: str | None = None
    version: str | None = None
    display: str | None = None
    status: str | None = None
    inactive: bool = False
    found: bool = False
    in_value_set: bool = False
    unknown_system: str | None = None
    caused_by: str | None = None
    """An unknown code system the value set itself depends on (so the code cannot be checked at all)."""
    display_ok: bool = True
    valid_system: bool = True

    @property
    def result(self) -> bool:
        return self.found and self.in_value_set and self.display_ok and self.valid_system


@dataclass
class Validation:
    """What a $validate-code request checks against: the value set and its members, languages, supplements."""

    registry: Registry
    vs: JSON | None
    members: Expansion | None
    lenient: bool
    languages: Languages
    language: str | None
    supplements: list[str]
    membership_only: bool


QUIET = "x-quiet"
LOUD = "x-loud"
"""Markers (removed before answering) of the issues the reference server leaves out of the ``message`` summary
(a deprecated designation, a concept the value set marks deprecated) or puts in it although they are information
(a display valid only in the default language)."""


def _codings(params: Params) -> tuple[str, list[JSON]]:
    """How the request gives the code (``code``, ``Coding`` or ``CodeableConcept``) and its codings."""
    concept = params.value("codeableConcept")
    if isinstance(concept, dict):
        return "CodeableConcept", [dict(c) for c in concept.get("coding", [])]
    coding = params.value("coding")
    if isinstance(coding, dict):
        return "Coding", [dict(coding)]
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


def _vs_name(vs: JSON | None) -> str:
    """The value set as messages name it: ``url|version``, or ``(unidentified)`` when it has no URL."""
    return _canonical(vs) if vs is not None and vs.get("url") else "(unidentified)"


def _unknown_system(check: Check, ctx: Validation, coding: JSON, form: str, index: int) -> None:
    system, code = str(coding.get("system")), str(coding.get("code", ""))
    located = _path(form, "system", index)
    if ctx.members is not None and any(split_canonical(u)[0] == system for u in ctx.members.unknown_systems):
        # The value set itself is built from this code system: nothing can be checked.
        check.caused_by = system
        text = f"A definition for CodeSystem '{system}' could not be found, so the code cannot be validated"
        check.issues.append(issue("error", "not-found", text, tx_code="not-found", expression=located))
        return
    if ctx.registry.value_set(system) is not None:
        check.valid_system = False
        text = f"The Coding references a value set, not a code system ('{system}')"
        check.issues.append(issue("error", "invalid", text, tx_code="invalid-data", expression=located))
    else:
        check.unknown_system = system
        if ":" not in system:
            text = f"{_path(form, 'system', index) or 'system'} must be an absolute reference, not a local reference"
            check.issues.append(issue("error", "invalid", text, tx_code="invalid-data", expression=located))
            text = f"A definition for CodeSystem '{system}' could not be found, so the code cannot be validated"
        else:
            text = f"A definition for CodeSystem {system} could not be found, so the code cannot be validated"
        check.issues.append(issue("error", "not-found", text, tx_code="not-found", expression=located))
    if ctx.vs is not None:
        check.issues.append(_not_in_vs(f"{system}#{code}", coding, ctx.vs, form, index))


def _choices(items: list[tuple[str, str | None]]) -> str:
    shown = [f"'{value}'" + (f" ({language})" if language else "") for value, language in items]
    if len(shown) == 1:
        return f"Valid display is {shown[0]}"
    listed = ", ".join(shown[:-1]) + f" or {shown[-1]}"
    return f"Valid display is one of {len(shown)} choices: {listed}"


def _check_display(check: Check, ctx: Validation, cs: CodeSystemIndex, concept: Concept, coding: JSON, at: str) -> None:
    """Whether the coding's display is one of the concept's displays in the requested languages."""
    given = coding.get("display")
    if given is None or concept.display is None or ctx.membership_only:
        return
    everything: list[tuple[str, str | None]] = [(concept.display, cs.language)]
    everything += [(str(d.get("value")), d.get("language")) for d in concept.designations if d.get("value")]
    wanted = [tag for tag, weight in ctx.languages if weight > 0 and tag != "*"]
    system_code = f"{cs.url}#{concept.code}"
    deprecated = [
        d
        for d in concept.designations
        if d.get("value") == given and any("standards-status" in str(e.get("url")) for e in d.get("extension", []))
    ]
    if deprecated:
        current = [v for v, _ in everything if v != given]
        text = (
            f"'{given}' is no longer considered a correct display for code '{concept.code}' (status = deprecated). "
            f"The correct display is one of {', '.join(chr(34) + v + chr(34) for v in current[:1])}."
        )
        check.issues.append({**issue("warning", "invalid", text, tx_code="display-comment", expression=at), QUIET: 1})
        return
    if wanted:
        valid = [
            (value, language)
            for value, language in everything
            if any(matches_language(language, tag) for tag in wanted) or (language is None and cs.language is None)
        ]
    else:
        valid = everything
    if given in {value for value, _ in valid}:
        return
    languages = language_text(ctx.language) if ctx.language else "--"
    if wanted and not valid:
        if given in {value for value, _ in everything}:
            text = (
                f"There are no valid display names found for the code {system_code} for language(s) '{languages}'. "
                f"The display is '{given}' which is a valid display for the default language"
            )
            found = issue("information", "invalid", text, tx_code="invalid-display", expression=at)
            check.issues.append({**found, LOUD: 1})
            return
        text = (
            f"Wrong Display Name '{given}' for {system_code}. There are no valid display names found for "
            f"language(s) '{languages}'. Default display is '{concept.display}'"
        )
    else:
        text = f"Wrong Display Name '{given}' for {system_code}. {_choices(valid)} (for the language(s) '{languages}')"
    check.display_ok = ctx.lenient
    severity = "warning" if ctx.lenient else "error"
    check.issues.append(issue(severity, "invalid", text, tx_code="invalid-display", expression=at))


def _check_coding(ctx: Validation, coding: JSON, form: str, index: int) -> Check:
    check = Check(code=coding.get("code"), system=coding.get("system"))
    code, system = check.code or "", check.system
    vs = ctx.vs
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
        if vs is not None:
            check.issues.append(_not_in_vs(f"#{code}", coding, vs, form, index))
        return check
    base = ctx.registry.code_system(system, coding.get("version"))
    if base is None:
        _unknown_system(check, ctx, coding, form, index)
        return check
    if base.content == "supplement":
        check.valid_system = False
        where = _path(form, "system", index) or "system"
        text = f"CodeSystem {base.canonical} is a supplement, so can't be used as a value in {where}"
        check.issues.append(
            issue("error", "invalid", text, tx_code="invalid-data", expression=_path(form, "system", index))
        )
        return check
    cs, _ = supplemented(ctx.registry, base, ctx.supplements)
    check.version = cs.version
    concept = cs.find(code)
    if concept is None:
        if not ctx.membership_only:
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
        if vs is not None:
            check.issues.append(_not_in_vs(f"{system}#{code}", coding, vs, form, index))
        return check
    check.found = True
    if concept.code != code:
        check.normalized = concept.code
        text = (
            f"The code '{code}' differs from the correct code '{concept.code}' by case. Although the code system "
            f"'{cs.canonical}' is case insensitive, implementers are strongly encouraged to use the correct case anyway"
        )
        check.issues.append(
            issue("information", "business-rule", text, tx_code="code-rule", expression=_path(form, "code", index))
        )
    check.display = display_in(cs, concept, ctx.languages).display or concept.display
    check.inactive = concept.inactive
    check.status = concept.status
    members = ctx.members
    if members is None:
        check.in_value_set = True
    else:
        member = members.members.get((cs.url, concept.code))
        check.in_value_set = member is not None
        if member is None and vs is not None:
            if concept.inactive and _includes_code(vs, cs.url, concept.code, ctx.registry):
                check.issues.append(
                    issue(
                        "error",
                        "business-rule",
                        f"The concept '{concept.code}' is valid but is not active",
                        tx_code="code-rule",
                        expression=_path(form, "code", index),
                    )
                )
            check.issues.append(_not_in_vs(f"{system}#{code}", coding, vs, form, index))
        elif (
            member is not None
            and member.entry is not None
            and vs is not None
            and any(
                e.get("url") == f"{EXT_BASE}valueset-deprecated" and value_of(e) is True
                for e in member.entry.get("extension", [])
            )
        ):
            text = (
                f"The presence of the concept '{concept.code}' in the system '{cs.url}' in the value set "
                f"{_vs_name(vs)} is marked with a status of deprecated and its use should be reviewed"
            )
            check.issues.append(
                {
                    **issue(
                        "warning",
                        "business-rule",
                        text,
                        tx_code="code-comment",
                        expression=_path(form, "code", index),
                    ),
                    QUIET: 1,
                }
            )
    if concept.inactive:
        status = concept.status if concept.status and concept.status != "inactive" else None
        text = f"has a status of {status} and inactive" if status else "has a status of inactive"
        check.issues.append(
            issue(
                "warning",
                "business-rule",
                f"The concept '{concept.code}' {text} and its use should be reviewed",
                tx_code="code-comment",
                expression=_path(form, "", index),
            )
        )
    elif concept.status == "deprecated":
        check.issues.append(
            issue(
                "warning",
                "business-rule",
                f"The concept '{concept.code}' is deprecated and its use should be reviewed",
                tx_code="code-comment",
                expression=_path(form, "code", index),
            )
        )
    _check_display(check, ctx, cs, concept, coding, _path(form, "display", index))
    return check


def _includes_code(vs: JSON | None, system: str, code: str, registry: Registry) -> bool:
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


def _not_in_vs(coded: str, coding: JSON, vs: JSON, form: str, index: int) -> JSON:
    shown = f" ('{coding['display']}')" if coding.get("display") else ""
    return issue(
        "error",
        "code-invalid",
        f"The provided code '{coded}{shown}' was not found in the value set '{_vs_name(vs)}'",
        tx_code="not-in-vs",
        expression=_path(form, "code", index),
    )


def _canonical(resource: JSON) -> str:
    url = resource.get("url") or f"#{resource.get('id', '')}"
    return f"{url}|{resource['version']}" if resource.get("version") else str(url)


def _infer_system(ctx: Validation, coding: JSON, form: str) -> None:
    """Give a bare code the system of the value set's member with that code (``inferSystem``)."""
    members = ctx.members
    if members is None or ctx.vs is None:
        return
    code = str(coding.get("code", ""))
    systems = sorted({system for system, member_code in members.members if member_code == code})
    if len(systems) == 1:
        coding["system"] = systems[0]
        return
    everywhere = sorted({system for system, _ in members.members})
    if len(systems) > 1:
        reason = f"value set expansion has multiple matches: [{', '.join(systems)}]"
    else:
        reason = f"the code was not found in the value set's code systems: [{', '.join(everywhere)}]"
    text = (
        f"The System URI could not be determined for the code '{code}' in the ValueSet '{_vs_name(ctx.vs)}': {reason}"
    )
    coding["x-cannot-infer"] = issue(
        "error", "not-found", text, tx_code="cannot-infer", expression=_path(form, "code", 0)
    )


def validate_code(registry: Registry, params: Params, *, value_set: bool) -> JSON:
    """``ValueSet/$validate-code`` (``value_set``) or ``CodeSystem/$validate-code``."""
    form, codings = _codings(params)
    vs: JSON | None = None
    members: Expansion | None = None
    supplements = supplement_canonicals(params, None)
    if value_set:
        vs = resolve_value_set(registry, params)
        supplements = supplement_canonicals(params, vs)
        try:
            members = Expander(
                registry, active_only=params.flag("activeOnly"), strict=False, supplements=supplements
            ).value_set(vs)
        except ResourceNotFound as error:
            if "value Set" not in str(error):
                raise
            return _invalid_import(form, params, codings, str(error))
    language = requested_language(params, vs, params.accept_language)
    ctx = Validation(
        registry=registry,
        vs=vs,
        members=members,
        lenient=params.flag("lenient-display-validation"),
        languages=parse_languages(language),
        language=language,
        supplements=supplements,
        membership_only=params.flag("valueset-membership-only"),
    )
    if value_set:
        if form == "code" and "system" not in codings[0] and params.flag("inferSystem", True):
            _infer_system(ctx, codings[0], form)
    else:
        url = params.text("url") or params.text("system") or (codings[0].get("system") if codings else None)
        cs = code_system_or_404(registry, url, params.text("version"))
        for coding in codings:
            coding.setdefault("system", cs.url)
    cannot_infer = [c.pop("x-cannot-infer") for c in codings if "x-cannot-infer" in c]
    checks = [_check_coding(ctx, c, form, i) for i, c in enumerate(codings)]
    good = next((c for c in checks if c.found and c.in_value_set and c.valid_system), None)
    out: list[JSON] = []
    issues: list[JSON] = list(cannot_infer)
    if form == "CodeableConcept":
        out.append(param("codeableConcept", "codeableConcept", params.value("codeableConcept")))
        if good is None and vs is not None and not any(c.caused_by for c in checks):
            issues.append(
                issue(
                    "error",
                    "code-invalid",
                    f"No valid coding was found for the value set '{_vs_name(vs)}'",
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
        result = good is not None and good.result
    else:
        chosen = checks[0]
        issues += chosen.issues
        result = chosen.result
    if chosen is not None:
        if chosen.code is not None:
            out.append(param("code", "code", chosen.code))
        if chosen.normalized:
            out.append(param("normalized-code", "code", chosen.normalized))
        if chosen.display and chosen.found:
            out.append(param("display", "string", chosen.display))
        if chosen.inactive:
            out.append(param("inactive", "boolean", True))
        if chosen.status and chosen.found:
            out.append(param("status", "code", chosen.status))
        if chosen.system and (form != "CodeableConcept" or chosen.found):
            out.append(param("system", "uri", chosen.system))
        if chosen.version and chosen.found:
            out.append(param("version", "string", chosen.version))
    for check in checks:
        if check.unknown_system:
            out.append(param("x-unknown-system", "canonical", check.unknown_system))
        if check.caused_by:
            out.append(param("x-caused-by-unknown-system", "canonical", check.caused_by))
    if any(c.caused_by for c in checks):
        issues = [i for i in issues if i["details"].get("coding", [{}])[0].get("code") != "not-in-vs"]
    if issues:
        messages = sorted(
            {
                i["details"]["text"]
                for i in issues
                if (i["severity"] in ("error", "warning") and QUIET not in i) or LOUD in i
            }
        )
        clean = [{k: v for k, v in i.items() if k not in (QUIET, LOUD)} for i in issues]
        out.append({"name": "issues", "resource": operation_outcome(clean)})
        if messages:
            out.append(param("message", "string", "; ".join(messages)))
    out.append(param("result", "boolean", result))
    return parameters(out)


def _invalid_import(form: str, params: Params, codings: list[JSON], message: str) -> JSON:
    found = issue("error", "not-found", message, tx_code="not-found")
    out = []
    if form == "CodeableConcept":
        out.append(param("codeableConcept", "codeableConcept", params.value("codeableConcept")))
    elif codings and codings[0].get("code"):
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
