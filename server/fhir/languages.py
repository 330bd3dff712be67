"""Display languages (``displayLanguage``, ``Accept-Language``, designations) and code system supplements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from calcinosis_kg.server.fhir.budget import bounded
from calcinosis_kg.server.fhir.errors import ResourceNotFound
from calcinosis_kg.server.fhir.messages import message
from calcinosis_kg.server.fhir.model import (
    JSON,
    CodeSystemIndex,
    Concept,
    Registry,
    apply_supplement,
    split_canonical,
    value_of,
)
from calcinosis_kg.server.fhir.params import BCP47, EXPANSION_PARAMETER_EXT, SUPPLEMENT_EXT, Params

PREFERRED_FOR_LANGUAGE = {
    "system": "http://terminology.hl7.org/CodeSystem/hl7TermMaintInfra",
    "code": "preferredForLanguage",
    "display": "Preferred For Language",
}
"""The designation use of a code system's own display when an expansion shows another language's display."""


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


def supplemented(
    registry: Registry, cs: CodeSystemIndex, canonicals: Iterable[str]
) -> tuple[CodeSystemIndex, list[str]]:
    """``cs`` with the supplements ``canonicals`` that supplement it applied, and their canonicals (url|version).

    A supplement that is not known is a 404 ("Required supplement not found"), as for the reference servers."""
    used: list[str] = []
    resource = cs.resource
    for canonical in bounded(canonicals, every=1):
        supplement = registry.code_system(canonical)
        if supplement is None or supplement.content != "supplement":
            said = "VALUESET_SUPPLEMENT_MISSING"
            raise ResourceNotFound(message(said, 1, canonical), tx_code="not-found", message_id=said)
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
