"""Which version of a code system or value set a request uses: the operations' version parameters and HL7's errors.

A value set's ``compose.include`` names a code system and, optionally, a version or a version pattern (``1.x``,
``1.0.x``: :func:`~.model.version_matches`). The request can change it (FHIR R4/R5 ``$expand`` and
``$validate-code``, each parameter a canonical ``url|version``):

- ``force-system-version``: the version to use for that code system, whatever the value set says;
- ``system-version`` (R5's default): the version to use where the include names none;
- ``check-system-version``: the version the code system used must match (an error otherwise); where the include
  names none, it chooses the version as a default does (as HL7's reference server does);
- ``default-valueset-version``: the version of a value set to use where an import (``include.valueSet``) names none.

Otherwise the latest version known is used. A version that is not known is an error worded as the reference server
words it (``UNKNOWN_CODESYSTEM_VERSION``: "... could not be found ... Valid versions: 1.0.0 or 1.2.0").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from calcinosis_kg.server.fhir.errors import FhirError, ResourceNotFound
from calcinosis_kg.server.fhir.messages import message
from calcinosis_kg.server.fhir.model import (
    JSON,
    CodeSystemIndex,
    Registry,
    is_wildcard,
    value_of,
    version_key,
    version_matches,
)

FORCE, INCLUDE, DEFAULT, CHECK, LATEST = "force", "include", "default", "check", "latest"
"""How an include's version was chosen: by ``force-system-version``, by the include itself, by ``system-version``,
by ``check-system-version`` (as a default), or as the latest version known."""


class VersionError(FhirError):
    """The version a code system is used in is not the one a ``check-system-version`` parameter requires (400)."""

    code = "exception"
    tx_code = "version-error"

    def __init__(self, text: str) -> None:
        super().__init__(text, message_id="VALUESET_VERSION_CHECK")


VALIDATE, EXPAND = "the code cannot be validated", "the value set cannot be expanded"
"""The purposes of the unknown-version messages HL7 has ids for (:func:`unknown_version`)."""


def _canonicals(items: list[JSON]) -> dict[str, str]:
    """``url -> version`` of parameters whose values are canonicals ``url|version`` (the last one wins)."""
    found: dict[str, str] = {}
    for item in items:
        value = value_of(item)
        if isinstance(value, str) and "|" in value:
            url, _, version = value.partition("|")
            found[url] = version
    return found


@dataclass
class IncludeVersion:
    """The version an include of a code system asked for (``pattern``, None: none), how it was chosen, and the
    version it resolved to (None: not known)."""

    system: str
    pattern: str | None
    how: str
    version: str | None
    asked: str | None = None
    """The version the include itself names (before ``force-system-version``)."""
    fallback: str | None = None
    """The version a validation went on with when ``version`` is None (:meth:`VersionRules.fallback`)."""

    @property
    def used(self) -> str | None:
        """The version of the code system the include's concepts came from."""
        return self.version or self.fallback


@dataclass
class VersionRules:
    """The version parameters of a request, by code system (or value set) URL."""

    force: dict[str, str] = field(default_factory=dict)
    default: dict[str, str] = field(default_factory=dict)
    check: dict[str, str] = field(default_factory=dict)
    value_sets: dict[str, str] = field(default_factory=dict)
    used: dict[str, None] = field(default_factory=dict)
    """The parameters (``name|url``) that chose a version, which an expansion reports."""

    @classmethod
    def of(cls, items: list[JSON]) -> VersionRules:
        """The rules of a request's parameters (``Params.items``)."""

        def named(name: str) -> dict[str, str]:
            return _canonicals([item for item in items if item.get("name") == name])

        return cls(
            force=named("force-system-version"),
            default=named("system-version"),
            check=named("check-system-version"),
            value_sets=named("default-valueset-version"),
        )

    def pattern(self, system: str, asked: str | None) -> tuple[str | None, str]:
        """The version (or pattern) to use for ``system`` where an include asks for ``asked``, and how it was chosen."""
        if system in self.force:
            return self.force[system], FORCE
        if asked:
            return asked, INCLUDE
        if system in self.default:
            return self.default[system], DEFAULT
        if system in self.check:
            return self.check[system], CHECK
        return None, LATEST

    def resolve(
        self, registry: Registry, system: str, asked: str | None, preferred: str | None = None
    ) -> tuple[CodeSystemIndex | None, IncludeVersion]:
        """The code system version an include of ``system`` asking for ``asked`` uses (None: that version is not
        known), with how it was chosen. ``preferred`` (the version a validated coding gives) is used when it
        matches a pattern (``1.x``)."""
        pattern, how = self.pattern(system, asked)
        cs = None
        if preferred and is_wildcard(pattern):
            candidate = registry.code_system(system, preferred)
            if candidate is not None and version_matches(str(pattern), candidate.version):
                cs = candidate
        cs = cs or registry.code_system(system, pattern)
        if cs is not None and how in (DEFAULT, CHECK):
            self.used[f"{'system-version' if how == DEFAULT else 'check-system-version'}|{system}"] = None
        return cs, IncludeVersion(system, pattern, how, cs.version if cs else None, asked)

    def fallback(self, registry: Registry, system: str, preferred: str | None) -> CodeSystemIndex | None:
        """The code system version a validation goes on with when the include's version is not known: the coding's,
        else the request's default, else the latest."""
        for version in (preferred, self.default.get(system), self.check.get(system)):
            if version and (found := registry.code_system(system, version)) is not None:
                return found
        return registry.code_system(system)

    def check_failure(self, system: str, version: str | None) -> str | None:
        """The message when ``version`` of ``system`` does not match its ``check-system-version``, else None."""
        wanted = self.check.get(system)
        if wanted is None or version is None or version_matches(wanted, version):
            return None
        return message("VALUESET_VERSION_CHECK", system, version, wanted)


def valid_versions(registry: Registry, system: str) -> str:
    """The known versions of ``system`` as the reference server lists them: ``1.0.0 or 1.2.0``."""
    known = sorted({v for v in registry.code_system_versions(system) if v}, key=version_key)
    if len(known) <= 1:
        return "".join(known)
    return ", ".join(known[:-1]) + f" or {known[-1]}"


def unknown_version(registry: Registry, system: str, version: str, purpose: str) -> tuple[str | None, str]:
    """HL7's ``UNKNOWN_CODESYSTEM_VERSION`` message id and text (``purpose``: "the code cannot be validated", "the
    value set cannot be expanded", whose messages HL7 has (``..._EXP``), or another, whose message has no id)."""
    known = valid_versions(registry, system)
    said = {VALIDATE: "UNKNOWN_CODESYSTEM_VERSION", EXPAND: "UNKNOWN_CODESYSTEM_VERSION_EXP"}.get(purpose)
    if said is not None:
        said = said if known else f"{said}_NONE"
        return said, message(said, system, version, known)
    text = f"A definition for CodeSystem '{system}' version '{version}' could not be found, so {purpose}"
    return None, f"{text}. Valid versions: {known}" if known else f"{text}. No versions of this code system are known"


def unknown_version_error(registry: Registry, system: str, version: str) -> ResourceNotFound:
    """The 404 of an expansion that needs a version of a known code system that is not known."""
    said, text = unknown_version(registry, system, version, EXPAND)
    return ResourceNotFound(text, tx_code="not-found", message_id=said)
