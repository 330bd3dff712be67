"""A terminology operation's request parameters (``Parameters`` in, JSON out) and what every operation shares."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from calcinosis_kg.server.fhir.errors import InvalidRequest, ResourceNotFound
from calcinosis_kg.server.fhir.model import JSON, CodeSystemIndex, Registry, split_canonical, value_of
from calcinosis_kg.server.fhir.versions import unknown_version

BCP47 = "urn:ietf:bcp:47"


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


def code_system_or_404(registry: Registry, url: str | None, version: str | None = None) -> CodeSystemIndex:
    """The code system ``url`` (and version), or ResourceNotFound."""
    if not url:
        raise InvalidRequest("No code system was given (system, or url for CodeSystem/$validate-code)")
    found = registry.code_system(url, version)
    if found is None:
        base, pinned = split_canonical(url, version)
        if pinned and registry.code_system(base) is not None:
            # A known code system, not in that version: HL7's UNKNOWN_CODESYSTEM_VERSION, with the versions known.
            said, text = unknown_version(registry, base, pinned, "the code cannot be looked up")
            raise ResourceNotFound(text, tx_code="not-found", message_id=said)
        shown = f"{url}|{version}" if version else url
        raise ResourceNotFound(
            f"A definition for CodeSystem '{shown}' could not be found, so the code cannot be looked up",
            tx_code="not-found",
        )
    return found


def canonical_split(value: str) -> tuple[str, str | None]:
    """Re-exported :func:`~.model.split_canonical` (for views)."""
    return split_canonical(value)


def canonical(resource: JSON) -> str:
    """A resource's canonical reference: its URL (or ``#id``) and ``|version`` when it has one."""
    url = resource.get("url") or f"#{resource.get('id', '')}"
    return f"{url}|{resource['version']}" if resource.get("version") else str(url)
