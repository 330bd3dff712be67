"""What ``$validate-code`` judges one coding against (:class:`Validation`) and its verdict (:class:`Check`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from calcinosis_kg.server.fhir.compose import Expansion
from calcinosis_kg.server.fhir.languages import Languages
from calcinosis_kg.server.fhir.model import JSON, Registry
from calcinosis_kg.server.fhir.params import canonical
from calcinosis_kg.server.fhir.versions import VersionRules


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
    unknown_include: bool = False
    """Whether ``caused_by`` is a version the value set's include names (not the coding)."""
    """An unknown code system the value set itself depends on (so the code cannot be checked at all)."""
    display_ok: bool = True
    valid_system: bool = True
    version_ok: bool = True
    """False when the coding's version is not the one the value set uses, or not one the request allows."""

    @property
    def result(self) -> bool:
        return self.found and self.in_value_set and self.display_ok and self.valid_system and self.version_ok


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
    rules: VersionRules = field(default_factory=VersionRules)


QUIET = "x-quiet"


LOUD = "x-loud"
"""Markers (removed before answering) of the issues the reference server leaves out of the ``message`` summary
(a deprecated designation, a concept the value set marks deprecated) or puts in it although they are information
(a display valid only in the default language)."""


def issue_path(form: str, element: str, index: int) -> str:
    if form == "code":
        return element
    if form == "Coding":
        return f"Coding.{element}" if element else "Coding"
    return f"CodeableConcept.coding[{index}]" + (f".{element}" if element else "")


def value_set_name(vs: JSON | None) -> str:
    """The value set as messages name it: ``url|version``, or ``(unidentified)`` when it has no URL."""
    return canonical(vs) if vs is not None and vs.get("url") else "(unidentified)"
