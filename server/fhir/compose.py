"""The members of a value set: its compose's includes, excludes and imports over the code systems a request can use,
in the versions the request and the value set choose (:mod:`~.versions`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from calcinosis_kg.server.fhir.budget import bounded, checkpoint
from calcinosis_kg.server.fhir.errors import InvalidRequest, ResourceNotFound
from calcinosis_kg.server.fhir.filters import filter_concepts
from calcinosis_kg.server.fhir.languages import supplemented
from calcinosis_kg.server.fhir.messages import message
from calcinosis_kg.server.fhir.model import (
    JSON,
    CodeSystemIndex,
    Concept,
    Registry,
    split_canonical,
    value_of,
    version_key,
)
from calcinosis_kg.server.fhir.params import EXPANSION_PARAMETER_EXT
from calcinosis_kg.server.fhir.versions import FORCE, IncludeVersion, VersionError, VersionRules, unknown_version_error

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
                    said = "UNKNOWN_CODESYSTEM_EXP"
                    raise ResourceNotFound(message(said, shown), tx_code="not-found", message_id=said)
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
            said, text = "Unable_to_resolve_value_Set_", message("Unable_to_resolve_value_Set_", reference)
            if self.strict:  # an expansion's import: HL7's expansion messages
                url, pinned = split_canonical(reference)
                said = "VS_EXP_IMPORT_UNK_PINNED" if pinned else "VS_EXP_IMPORT_UNK"
                text = message(said, url, pinned)
            raise ResourceNotFound(text, tx_code="not-found", message_id=said)
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
    compose = vs.get("compose")
    if not isinstance(compose, dict):
        compose = {}
    for extension in [*vs.get("extension", []), *compose.get("extension", [])]:
        if extension.get("url") != EXPANSION_PARAMETER_EXT:
            continue
        parts = {str(part.get("url")): value_of(part) for part in extension.get("extension", [])}
        if parts.get("name") == "versionsMatch":
            return str(parts.get("value")).lower() == "true"
    return None
