"""``$expand``: a value set's members, filtered and paged, in the requested language."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from calcinosis_kg.server.fhir.budget import bounded, checkpoint
from calcinosis_kg.server.fhir.errors import InvalidRequest, ResourceNotFound, TooCostly
from calcinosis_kg.server.fhir.filters import filter_concepts
from calcinosis_kg.server.fhir.languages import (
    Languages,
    Shown,
    designations_shown,
    display_in,
    language_text,
    parse_languages,
    requested_language,
    supplement_canonicals,
    supplemented,
)
from calcinosis_kg.server.fhir.model import (
    JSON,
    PROPERTY_URIS,
    CodeSystemIndex,
    Concept,
    Registry,
    derived_properties,
    value_of,
    version_key,
)
from calcinosis_kg.server.fhir.params import (
    EXPANSION_PARAMETER_EXT,
    PASSED_EXTENSIONS,
    SUPPLEMENT_EXT,
    Params,
    now,
    param,
)
from calcinosis_kg.server.fhir.status import STANDARDS_STATUS, canonical_of, expansion_warnings
from calcinosis_kg.server.fhir.versions import (
    FORCE,
    IncludeVersion,
    VersionError,
    VersionRules,
    unknown_version_error,
)

MAX_EXPANSION = 10_000
"""Largest expansion the server builds (the graph's value sets are far smaller)."""


EXPANSION_ECHO = (
    "activeOnly", "count", "offset", "excludeNested", "includeDesignations", "filter", "designation",
    "excludeNotForUI", "excludePostCoordinated", "force-system-version", "date",
)  # fmt: skip
"""Request parameters an expansion reports in ``expansion.parameter`` (the other ones name the value set; the
language used is reported as ``displayLanguage`` wherever it came from; ``property`` and ``includeDefinition``
shape the answer and are not echoed, as the reference servers do). ``system-version`` and
``check-system-version`` are reported when they chose a version (:attr:`VersionRules.used`)."""


Key = tuple[str, str, str | None]
"""A member's key in an expansion: (system, code, version)."""


@dataclass
class Member:
    """One concept of an expansion (``cs``: its code system, with the supplements used; ``entry``: the value set's
    own ``compose.include.concept`` item for it, if it lists the concept)."""

    system: str
    version: str | None
    concept: Concept
    cs: CodeSystemIndex | None = None
    entry: JSON | None = None
    pinned: bool = False
    """Whether the include it comes from names its version (or a version was forced)."""


@dataclass
class Expansion:
    """The members of a value set, and the code systems and value sets used to compute them."""

    members: dict[Key, Member] = field(default_factory=dict)
    """By (system, code, version): two versions of one code system give two members of one code."""
    used_systems: dict[str, None] = field(default_factory=dict)
    used_value_sets: dict[str, None] = field(default_factory=dict)
    used_supplements: dict[str, None] = field(default_factory=dict)
    unknown_systems: dict[str, None] = field(default_factory=dict)
    includes: list[IncludeVersion] = field(default_factory=list)
    """The code system versions the includes asked for and used, in order."""
    unknown_versions: dict[str, IncludeVersion] = field(default_factory=dict)
    """By system: an include that asked for a version of a known code system that is not known (validation)."""

    versions_match: bool = False
    repeated_systems: set[str] = field(default_factory=set)
    """The code systems the value set's compose names in more than one include or exclude."""
    """Whether codes were matched across versions (``versionsMatch``), which the expansion reports."""

    def find(self, system: str, code: str) -> list[Member]:
        """The members with ``code`` of ``system``, whatever their version."""
        return [member for key, member in self.members.items() if key[0] == system and key[1] == code]

    def versions_of(self, system: str) -> list[IncludeVersion]:
        """The versions the includes of ``system`` asked for and used."""
        return [chosen for chosen in self.includes if chosen.system == system]


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
    rules: VersionRules = field(default_factory=VersionRules)
    """The request's version parameters (``system-version``...)."""
    preferred: dict[str, str] = field(default_factory=dict)
    """By system: the version the validated coding gives, used where an include's pattern (``1.x``) allows it."""

    def value_set(self, vs: JSON, contained: dict[str, JSON] | None = None) -> Expansion:
        """The expansion of value set ``vs``."""
        checkpoint()
        if self.depth > 10:
            raise InvalidRequest("Value set imports are nested too deeply (or circular)")
        contained = {**(contained or {}), **{c.get("id", ""): c for c in vs.get("contained", []) if "id" in c}}
        compose = vs.get("compose")
        result = Expansion()
        if not isinstance(compose, dict):
            expansion = vs.get("expansion", {})
            for item in bounded(expansion.get("contains", [])):
                cs = self.registry.code_system(item.get("system", ""))
                concept = cs.find(item.get("code", "")) if cs else None
                concept = concept or Concept(code=item.get("code", ""), display=item.get("display"))
                system = item.get("system", "")
                result.members[system, concept.code, item.get("version")] = Member(system, None, concept, cs)
            return result
        inactive_allowed = compose.get("inactive", True) is not False and not self.active_only
        merged = versions_match(vs)
        named = [str(item.get("system")) for item in [*compose.get("include", []), *compose.get("exclude", [])]]
        result.repeated_systems = {system for system in named if named.count(system) > 1}
        for index, include in enumerate(compose.get("include", [])):
            for key, member in self._include(include, index, contained, result).items():
                if inactive_allowed or not member.concept.inactive:
                    if merged and (other := result.find(key[0], key[1])):
                        # versionsMatch: one member per code, of the latest version.
                        if version_key(other[0].version) >= version_key(member.version):
                            continue
                        result.members.pop((key[0], key[1], other[0].version))
                    result.members.setdefault(key, member)
        included = {(chosen.system, chosen.used) for chosen in result.includes}
        for index, exclude in enumerate(compose.get("exclude", [])):
            # An exclude of a version the value set does not include matches codes across versions (as
            # versionsMatch asks), as the reference server does; versionsMatch false keeps to the version.
            across = merged is True or (
                merged is None and (exclude.get("system"), exclude.get("version")) not in included
            )
            for key in self._include(exclude, index, contained, result, where="exclude"):
                found = [(key[0], key[1], m.version) for m in result.find(key[0], key[1])] if across else [key]
                result.versions_match |= across and merged is not False and bool(found)
                for gone in found:
                    result.members.pop(gone, None)
        return result

    def _include(
        self, include: JSON, index: int, contained: dict[str, JSON], result: Expansion, where: str = "include"
    ) -> dict[Key, Member]:
        selected: dict[Key, Member] | None = None
        system = include.get("system")
        if system:
            preferred = self.preferred.get(system)
            cs, chosen = self.rules.resolve(self.registry, system, include.get("version"), preferred)
            if where == "include":
                result.includes.append(chosen)
            if cs is None and chosen.pattern and self.registry.code_system(system) is not None:
                if self.strict:
                    raise unknown_version_error(self.registry, system, chosen.pattern)
                result.unknown_versions.setdefault(system, chosen)
                cs = self.rules.fallback(self.registry, system, preferred)
                chosen.fallback = cs.version if cs else None
            elif cs is not None and self.strict and chosen.how != FORCE:
                failure = self.rules.check_failure(system, cs.version)
                if failure:
                    raise VersionError(failure)
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
                pinned = bool(include.get("version")) or chosen.how == FORCE
                selected = {
                    (cs.url, c.code, cs.version): Member(cs.url, cs.version, c, cs, entries.get(c.code), pinned)
                    for c in codes
                }
        for reference in include.get("valueSet", []):
            imported = self._import(reference, contained, result)
            codes_in = {key[:2] for key in imported}
            selected = imported if selected is None else {k: v for k, v in selected.items() if k[:2] in codes_in}
        return selected or {}

    def _import(self, reference: str, contained: dict[str, JSON], result: Expansion) -> dict[Key, Member]:
        if "|" not in reference and reference in self.rules.value_sets:
            self.rules.used[f"default-valueset-version|{reference}"] = None
            reference = f"{reference}|{self.rules.value_sets[reference]}"
        vs = contained.get(reference[1:]) if reference.startswith("#") else self.registry.value_set(reference)
        if vs is None:
            raise ResourceNotFound(
                f"A definition for the value Set '{reference}' could not be found", tx_code="not-found"
            )
        if not reference.startswith("#"):
            url = vs.get("url", reference)
            result.used_value_sets[f"{url}|{vs['version']}" if vs.get("version") else url] = None
        inner = Expander(
            self.registry, self.active_only, self.depth + 1, self.strict, self.supplements, self.rules, self.preferred
        ).value_set(vs, contained)
        result.used_systems.update(inner.used_systems)
        result.used_value_sets.update(inner.used_value_sets)
        result.used_supplements.update(inner.used_supplements)
        result.unknown_systems.update(inner.unknown_systems)
        result.includes += inner.includes
        for system, chosen in inner.unknown_versions.items():
            result.unknown_versions.setdefault(system, chosen)
        return inner.members

    def _select(self, cs: CodeSystemIndex, include: JSON, index: int, where: str) -> list[Concept]:
        listed = include.get("concept")
        filters = include.get("filter", [])
        if listed:
            concepts = [cs.find(item.get("code", "")) for item in bounded(listed)]
            chosen = [c for c in concepts if c is not None]
        else:
            chosen = list(cs)
        for number, item in enumerate(filters):
            path = f"ValueSet.compose.{where}[{index}].filter[{number}]"
            allowed = {c.code for c in filter_concepts(cs, item, path)}
            chosen = [c for c in chosen if c.code in allowed]
        return chosen


def versions_match(vs: JSON) -> bool | None:
    """The value set's ``versionsMatch`` expansion parameter (its ``valueset-expansion-parameter`` extension): whether
    its includes of two versions of one code system give one member per code (None: it does not say)."""
    compose = vs.get("compose") if isinstance(vs.get("compose"), dict) else {}
    for extension in [*vs.get("extension", []), *compose.get("extension", [])]:
        if extension.get("url") != EXPANSION_PARAMETER_EXT:
            continue
        parts = {str(part.get("url")): value_of(part) for part in extension.get("extension", [])}
        if parts.get("name") == "versionsMatch":
            return str(parts.get("value")).lower() == "true"
    return None


def resolve_value_set(registry: Registry, params: Params) -> JSON:
    """The value set a request names (``url`` and ``valueSetVersion``) or sends (``valueSet``)."""
    supplied = params.resource("valueSet")
    if supplied is not None:
        return supplied
    url = params.text("url") or params.text("context")
    if not url:
        raise InvalidRequest("No value set was given: give url, or valueSet with the value set itself")
    version = params.text("valueSetVersion")
    found = registry.value_set(url, version)
    if found is None:
        shown = f"{url}|{version}" if version and "|" not in url else url
        raise ResourceNotFound(f"A definition for the value Set '{shown}' could not be found", tx_code="not-found")
    return found


def expand(registry: Registry, params: Params, vs: JSON | None = None) -> JSON:
    """``ValueSet/$expand``: the value set with an ``expansion`` (flat; ``count``/``offset`` paging).

    Displays follow the requested language (:func:`requested_language`, :func:`display_in`); the supplements of
    ``useSupplement`` and of the value set's supplement extensions are applied; ``property`` asks for concept
    properties, and the properties R5 carries in concept extensions (label, order, weight, status) are always
    reported."""
    vs = vs if vs is not None else resolve_value_set(registry, params)
    active_only = params.flag("activeOnly")
    rules = VersionRules.of(params.items)
    expander = Expander(registry, active_only=active_only, supplements=supplement_canonicals(params, vs), rules=rules)
    expansion = expander.value_set(vs)
    members = _in_order(list(expansion.members.values()))
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
    echoed = [
        p
        for p in params.items
        if p.get("name") in EXPANSION_ECHO or f"{p.get('name')}|{str(value_of(p)).partition('|')[0]}" in rules.used
    ]
    if language:
        echoed.append(param("displayLanguage", "code", language_text(language)))
    report = [
        *echoed,
        *([param("versionsMatch", "boolean", True)] if expansion.versions_match or versions_match(vs) else []),
        *(param("used-codesystem", "uri", used) for used in expansion.used_systems),
        *(param("used-valueset", "uri", used) for used in expansion.used_value_sets),
        *(param("used-supplement", "uri", used) for used in expansion.used_supplements),
        *expansion_warnings(registry, expansion.used_systems, [canonical_of(vs), *expansion.used_value_sets]),
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
    for member, item in zip(page, contains, strict=True):
        # A value set that names one code system in several includes or excludes (two versions...): each concept
        # says which version it is of, as the reference server does.
        if member.version and member.system in expansion.repeated_systems:
            item["version"] = member.version
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
    # The value set's standards status is reported as a warning-{status} parameter, not echoed.
    kept = [
        e
        for e in vs.get("extension", [])
        if (e.get("url") != SUPPLEMENT_EXT or "|" in str(value_of(e))) and e.get("url") != STANDARDS_STATUS
    ]
    if kept:
        result["extension"] = kept
    else:
        result.pop("extension", None)
    result["expansion"] = body
    return result


def _in_order(members: list[Member]) -> list[Member]:
    """``members`` with the versions of one code next to each other: the versions an include names, latest first,
    then those of includes that name none (the reference server's order; other codes keep the value set's order)."""
    groups: dict[tuple[str, str], list[Member]] = {}
    for member in members:
        groups.setdefault((member.system, member.concept.code), []).append(member)
    ordered: list[Member] = []
    for group in groups.values():
        group.sort(key=lambda member: version_key(member.version), reverse=True)
        ordered += sorted(group, key=lambda member: not member.pinned)
    return ordered


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
