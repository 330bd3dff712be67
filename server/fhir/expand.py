"""``$expand``: a value set's members, filtered and paged, in the requested language."""

from __future__ import annotations

import uuid

from calcinosis_kg.server.fhir.compose import Expander, Member, versions_match
from calcinosis_kg.server.fhir.errors import InvalidRequest, ResourceNotFound, TooCostly
from calcinosis_kg.server.fhir.languages import (
    Languages,
    Shown,
    designations_shown,
    display_in,
    language_text,
    parse_languages,
    requested_language,
    supplement_canonicals,
)
from calcinosis_kg.server.fhir.messages import message
from calcinosis_kg.server.fhir.model import (
    JSON,
    PROPERTY_URIS,
    Concept,
    Registry,
    derived_properties,
    value_of,
    version_key,
)
from calcinosis_kg.server.fhir.params import (
    PASSED_EXTENSIONS,
    SUPPLEMENT_EXT,
    Params,
    now,
    param,
)
from calcinosis_kg.server.fhir.status import STANDARDS_STATUS, canonical_of, expansion_warnings
from calcinosis_kg.server.fhir.versions import (
    VersionRules,
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


DEFINITION = frozenset({"publisher", "description", "purpose", "contact", "copyright"})
"""The value set's descriptive elements an expansion gives only with ``includeDefinition`` (HL7's reference server's
``ValueSetExpander`` clears them, with the compose, otherwise)."""


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
        said = "Unable_to_resolve_value_Set_"
        raise ResourceNotFound(message(said, shown), tx_code="not-found", message_id=said)
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
    left_out = {"compose", "expansion", "contained", "text"}
    if not params.flag("includeDefinition"):
        left_out |= DEFINITION  # as HL7's reference server (ValueSetExpander) leaves them out
    result = {key: value for key, value in vs.items() if key not in left_out}
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
    extensions += [e for e in entry.get("extension", []) if e.get("url") in PASSED_EXTENSIONS | {STANDARDS_STATUS}]
    if extensions:
        item["extension"] = extensions
    props: dict[str, JSON] = {p["code"]: p for p in concept.derived}
    # The value set's own status mark on a concept (standards-status) is echoed as that extension, not as a status
    # property (HL7's deprecated/vs-deprecation case): a status property is the code system's.
    props.update({p["code"]: p for p in derived_properties(entry.get("extension", [])) if p["code"] != "status"})
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
