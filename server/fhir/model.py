"""The terminology model: code systems, value sets and concept maps as FHIR JSON, indexed for the operations.

A :class:`CodeSystemIndex` is built from any FHIR CodeSystem resource (the graph's own, or one a client sends with
a request as a ``tx-resource`` parameter): its concepts by code, their parents and children (from nested
``concept`` and from ``parent``/``child`` properties), designations, properties, and whether each is inactive
or abstract. A :class:`Registry` holds the resources the server knows by canonical URL (and version) and by id;
:meth:`Registry.overlay` gives a registry that looks in a request's own resources first.

Everything here is plain data and pure functions: no Flask, no SPARQL.
"""

from __future__ import annotations

import copy
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from calcinosis_kg.server.fhir.budget import bounded, checkpoint

T = TypeVar("T")

JSON = dict[str, Any]

EXT = "http://hl7.org/fhir/StructureDefinition/"
EXTENSION_PROPERTIES: dict[str, tuple[str, str]] = {
    f"{EXT}codesystem-label": ("label", "valueString"),
    f"{EXT}valueset-label": ("label", "valueString"),
    f"{EXT}codesystem-conceptOrder": ("order", "valueDecimal"),
    f"{EXT}valueset-conceptOrder": ("order", "valueDecimal"),
    f"{EXT}itemWeight": ("weight", "valueDecimal"),
    f"{EXT}structuredefinition-standards-status": ("status", "valueCode"),
}
"""Concept extensions that R5 made concept properties (http://hl7.org/fhir/concept-properties): extension URL ->
(property code, value type). Expansions report them as properties, as the reference servers do."""
PROPERTY_URIS = {
    "label": "http://hl7.org/fhir/concept-properties#label",
    "order": "http://hl7.org/fhir/concept-properties#order",
    "weight": "http://hl7.org/fhir/concept-properties#itemWeight",
    "status": "http://hl7.org/fhir/concept-properties#status",
    "definition": "http://hl7.org/fhir/concept-properties#definition",
    "inactive": "http://hl7.org/fhir/concept-properties#inactive",
    "parent": "http://hl7.org/fhir/concept-properties#parent",
    "child": "http://hl7.org/fhir/concept-properties#child",
}
"""The URIs of the standard concept properties (R5's concept-properties code system)."""

INACTIVE_STATUSES = frozenset({"retired", "inactive", "deprecated"})
"""Values of the ``status`` concept property (http://hl7.org/fhir/concept-properties) that make a concept inactive.

``deprecated`` concepts are still active in FHIR; they are listed here only for the ``status`` value, see
:func:`_is_inactive`."""


@dataclass
class Concept:
    """One concept of a code system."""

    code: str
    display: str | None = None
    definition: str | None = None
    designations: list[JSON] = field(default_factory=list)
    properties: list[JSON] = field(default_factory=list)
    extensions: list[JSON] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    derived: list[JSON] = field(default_factory=list)
    """Properties carried by extensions (label, order, weight, status: :data:`EXTENSION_PROPERTIES`)."""
    sources: dict[int, str] = field(default_factory=dict)
    """The supplement (canonical) each designation comes from, by its index in ``designations``."""
    inactive: bool = False
    abstract: bool = False

    def property_values(self, code: str) -> list[Any]:
        """The values of property ``code`` of this concept (whatever their ``value[x]`` type)."""
        return [value_of(p) for p in self.properties if p.get("code") == code]

    @property
    def status(self) -> str | None:
        """The ``status`` property's code, if the concept has one."""
        values = self.property_values("status") or [value_of(p) for p in self.derived if p["code"] == "status"]
        return str(values[0]) if values else None


def derived_properties(extensions: Iterable[JSON]) -> list[JSON]:
    """The concept properties that ``extensions`` (of a concept) carry, by :data:`EXTENSION_PROPERTIES`."""
    found: list[JSON] = []
    for extension in extensions:
        known = EXTENSION_PROPERTIES.get(str(extension.get("url")))
        value = value_of(extension)
        if known is not None and value is not None:
            found.append({"code": known[0], known[1]: value})
    return found


def apply_supplement(resource: JSON, supplement: JSON) -> JSON:
    """``resource`` (a CodeSystem) with the designations, properties and extensions of ``supplement`` added."""
    merged: JSON = copy.deepcopy(resource)
    source = supplement.get("url", "")
    if supplement.get("version"):
        source = f"{source}|{supplement['version']}"
    extra: dict[str, JSON] = {}

    def collect(items: list[JSON]) -> None:
        for item in items:
            if isinstance(item.get("code"), str):
                extra[item["code"]] = item
            collect(item.get("concept", []))

    collect(supplement.get("concept", []))

    def merge(items: list[JSON]) -> None:
        for item in items:
            more = extra.get(item.get("code", ""))
            if more is not None:
                for designation in more.get("designation", []):
                    item.setdefault("designation", []).append({**designation, SOURCE_KEY: source})
                item.setdefault("property", []).extend(more.get("property", []))
                item.setdefault("extension", []).extend(more.get("extension", []))
            merge(item.get("concept", []))

    merge(merged.get("concept", []))
    merged.setdefault("property", []).extend(supplement.get("property", []))
    return merged


SOURCE_KEY = "x-source"
"""Key marking, in a merged CodeSystem, the supplement a designation comes from (never sent to clients)."""


def value_of(element: Mapping[str, Any]) -> Any:
    """The ``value[x]`` of a FHIR element (a property, a parameter), or None."""
    for key, value in element.items():
        if key.startswith("value") and len(key) > len("value"):
            return value
    return None


def value_key(element: Mapping[str, Any]) -> str | None:
    """The ``value[x]`` key of a FHIR element (``valueCode``...), or None."""
    for key in element:
        if key.startswith("value") and len(key) > len("value"):
            return key
    return None


class CodeSystemIndex:
    """A FHIR CodeSystem resource indexed by code, with its hierarchy."""

    def __init__(self, resource: JSON) -> None:
        self.resource = resource
        self.url: str = resource.get("url", "")
        self.version: str | None = resource.get("version")
        self.name: str | None = resource.get("name")
        self.title: str | None = resource.get("title")
        self.content: str = resource.get("content", "complete")
        self.case_sensitive: bool = bool(resource.get("caseSensitive", True))
        self.language: str | None = resource.get("language")
        self.property_defs: dict[str, JSON] = {p["code"]: p for p in resource.get("property", []) if "code" in p}
        self.concepts: dict[str, Concept] = {}
        self._folded: dict[str, str] = {}
        self._links: set[tuple[str, str]] = set()
        for item in resource.get("concept", []):
            self._add(item, None)
        for concept in self.concepts.values():
            for parent in concept.property_values("parent"):
                self._link(str(parent), concept.code)
            for child in concept.property_values("child"):
                self._link(concept.code, str(child))

    def _add(self, item: JSON, parent: str | None) -> None:
        checkpoint()
        code = item.get("code")
        if not isinstance(code, str):
            return
        properties = [p for p in item.get("property", []) if p.get("code") not in ("parent", "child")]
        relational = [p for p in item.get("property", []) if p.get("code") in ("parent", "child")]
        designations = [{k: v for k, v in d.items() if k != SOURCE_KEY} for d in item.get("designation", [])]
        sources = {i: str(d[SOURCE_KEY]) for i, d in enumerate(item.get("designation", [])) if SOURCE_KEY in d}
        concept = Concept(
            code=code,
            display=item.get("display"),
            definition=item.get("definition"),
            designations=designations,
            properties=properties + relational,
            extensions=list(item.get("extension", [])),
            derived=derived_properties(item.get("extension", [])),
            sources=sources,
        )
        concept.inactive = _is_inactive(concept)
        concept.abstract = any(v is True for v in concept.property_values("notSelectable"))
        self.concepts[code] = concept
        self._folded.setdefault(code.casefold(), code)
        if parent is not None:
            self._link(parent, code)
        for child in item.get("concept", []):
            self._add(child, code)

    def _link(self, parent: str, child: str) -> None:
        if parent not in self.concepts or child not in self.concepts or (parent, child) in self._links:
            return
        self._links.add((parent, child))  # a set: a concept with many children is linked in linear time
        self.concepts[child].parents.append(parent)
        self.concepts[parent].children.append(child)

    @property
    def canonical(self) -> str:
        """``url|version`` (or the URL alone when the code system has no version)."""
        return f"{self.url}|{self.version}" if self.version else self.url

    def find(self, code: str) -> Concept | None:
        """The concept with ``code``; case-insensitively when the code system is not case-sensitive."""
        concept = self.concepts.get(code)
        if concept is None and not self.case_sensitive:
            exact = self._folded.get(code.casefold())
            concept = self.concepts.get(exact) if exact else None
        return concept

    def descendants(self, code: str) -> list[str]:
        """The codes below ``code`` in the hierarchy (not ``code`` itself), breadth first, each once."""
        seen: dict[str, None] = {}
        queue = deque(self.concepts[code].children if code in self.concepts else [])
        while queue:
            checkpoint()
            current = queue.popleft()
            if current in seen or current == code:
                continue
            seen[current] = None
            queue.extend(self.concepts[current].children)
        return list(seen)

    def ancestors(self, code: str) -> set[str]:
        """The codes above ``code`` in the hierarchy."""
        seen: set[str] = set()
        queue = list(self.concepts[code].parents) if code in self.concepts else []
        while queue:
            checkpoint()
            current = queue.pop()
            if current not in seen:
                seen.add(current)
                queue.extend(self.concepts[current].parents)
        return seen

    def roots(self) -> list[str]:
        """Codes without a parent, in the code system's order."""
        return [code for code, concept in self.concepts.items() if not concept.parents]

    def __iter__(self) -> Iterator[Concept]:
        return bounded(self.concepts.values())

    def __len__(self) -> int:
        return len(self.concepts)


def _is_inactive(concept: Concept) -> bool:
    if any(v is True for v in concept.property_values("inactive")):
        return True
    status = concept.status
    return status in ("retired", "inactive")


@dataclass
class Registry:
    """The resources a request can use: code systems, value sets and concept maps, by canonical URL and by id."""

    code_systems: dict[str, list[CodeSystemIndex]] = field(default_factory=dict)
    value_sets: dict[str, list[JSON]] = field(default_factory=dict)
    concept_maps: dict[str, list[JSON]] = field(default_factory=dict)
    parent: Registry | None = None

    @classmethod
    def of(cls, resources: Iterable[JSON], parent: Registry | None = None) -> Registry:
        """A registry holding ``resources`` (other resource types are ignored)."""
        registry = cls(parent=parent)
        for resource in bounded(resources, every=1):
            registry.add(resource)
        return registry

    def add(self, resource: JSON) -> None:
        """Index ``resource`` by its URL (a later version of the same URL comes last)."""
        kind = resource.get("resourceType")
        url = resource.get("url")
        if not isinstance(url, str):
            return
        if kind == "CodeSystem":
            self.code_systems.setdefault(url, []).append(CodeSystemIndex(resource))
        elif kind == "ValueSet":
            self.value_sets.setdefault(url, []).append(resource)
        elif kind == "ConceptMap":
            self.concept_maps.setdefault(url, []).append(resource)

    def overlay(self, resources: Iterable[JSON]) -> Registry:
        """A registry that looks in ``resources`` first, then in this one."""
        return Registry.of(resources, parent=self)

    def code_system(self, url: str, version: str | None = None) -> CodeSystemIndex | None:
        """The code system with ``url`` (``url|version`` accepted) and version (else the latest one)."""
        url, version = split_canonical(url, version)
        found = _pick(self.code_systems.get(url, []), version, lambda cs: cs.version)
        if found is None and self.parent is not None:
            return self.parent.code_system(url, version)
        return found

    def code_system_versions(self, url: str) -> list[str]:
        """Every version of code system ``url`` this registry (and its parents) knows."""
        mine = [cs.version or "" for cs in self.code_systems.get(url, [])]
        return mine + (self.parent.code_system_versions(url) if self.parent else [])

    def value_set(self, url: str, version: str | None = None) -> JSON | None:
        """The value set with ``url`` (``url|version`` accepted) and version (else the latest one)."""
        return self._resource(lambda registry: registry.value_sets, url, version)

    def concept_map(self, url: str, version: str | None = None) -> JSON | None:
        """The concept map with ``url`` (``url|version`` accepted) and version (else the latest one)."""
        return self._resource(lambda registry: registry.concept_maps, url, version)

    def _resource(
        self, resources: Callable[[Registry], dict[str, list[JSON]]], url: str, version: str | None
    ) -> JSON | None:
        """The resource of ``resources`` with ``url`` and version, from this registry or else its parents."""
        url, version = split_canonical(url, version)
        found = _pick(resources(self).get(url, []), version, lambda resource: resource.get("version"))
        if found is None and self.parent is not None:
            return self.parent._resource(resources, url, version)
        return found

    def all_concept_maps(self) -> list[JSON]:
        """Every concept map, the request's own first."""
        mine = [cm for maps in self.concept_maps.values() for cm in maps]
        return mine + (self.parent.all_concept_maps() if self.parent else [])

    def resources(self, kind: str) -> list[JSON]:
        """Every resource of type ``kind`` held here (not in parents)."""
        if kind == "CodeSystem":
            return [cs.resource for systems in self.code_systems.values() for cs in systems]
        if kind == "ValueSet":
            return [vs for sets in self.value_sets.values() for vs in sets]
        if kind == "ConceptMap":
            return [cm for maps in self.concept_maps.values() for cm in maps]
        return []


def split_canonical(url: str, version: str | None = None) -> tuple[str, str | None]:
    """``url|version`` split into URL and version (an explicit ``version`` wins)."""
    base, sep, pinned = url.partition("|")
    return base, version or (pinned if sep else None)


WILDCARDS = frozenset({"x", "X", "*"})
"""Segments of a version pattern that match any value (``1.x``, ``1.0.x``, ``1.x.x``, ``*``), as FHIR's
``versionAlgorithm`` semver rules and HL7's version cases use them."""


def is_wildcard(pattern: str | None) -> bool:
    """Whether ``pattern`` is a version pattern with a wildcard segment (``1.x``), not one version."""
    return pattern is not None and any(part in WILDCARDS for part in pattern.split("."))


def version_matches(pattern: str, version: str | None) -> bool:
    """Whether ``version`` is ``pattern`` or matches it segment by segment (a wildcard segment matches any value;
    a last wildcard segment matches the rest: ``1.x`` matches ``1.2.0``). ``1`` does not match ``1.0.0``."""
    if version is None:
        return False
    if pattern == version:
        return True
    wanted, actual = pattern.split("."), version.split(".")
    for index, part in enumerate(wanted):
        if part in WILDCARDS:
            if index == len(wanted) - 1:
                return index < len(actual)
            if index >= len(actual):
                return False
            continue
        if index >= len(actual) or actual[index] != part:
            return False
    return len(actual) == len(wanted)


def version_key(version: str | None) -> tuple[tuple[int, int, str], ...]:
    """A sort key that orders versions as semver and dates do (numeric segments as numbers: 1.10 after 1.9)."""
    parts = re.split(r"[.\-+]", version or "")
    return tuple((1, int(part), "") if part.isdigit() else (0, 0, part) for part in parts)


def _pick(items: list[T], version: str | None, version_of: Callable[[T], Any]) -> T | None:
    """The item of ``version`` (a version, or a wildcard pattern: the latest that matches), else the latest."""
    if not items:
        return None
    if version is None:
        return max(reversed(items), key=lambda item: version_key(version_of(item)))
    exact = [item for item in items if version_of(item) == version]
    if exact:
        return exact[-1]
    if is_wildcard(version):
        matching = [item for item in items if version_matches(version, version_of(item))]
        if matching:
            return max(reversed(matching), key=lambda item: version_key(version_of(item)))
    return None
