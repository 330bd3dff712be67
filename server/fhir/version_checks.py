"""The versions ``$validate-code`` judges a coding in: the coding's, the value set include's, the request's."""

from __future__ import annotations

from calcinosis_kg.server.fhir.errors import issue
from calcinosis_kg.server.fhir.messages import message
from calcinosis_kg.server.fhir.model import JSON, CodeSystemIndex, version_key, version_matches
from calcinosis_kg.server.fhir.verdict import QUIET, Check, Validation, issue_path
from calcinosis_kg.server.fhir.versions import CHECK, DEFAULT, FORCE, LATEST, VALIDATE, IncludeVersion, unknown_version


def code_system_version(check: Check, ctx: Validation, coding: JSON, form: str, index: int) -> CodeSystemIndex | None:
    """The version of the coding's code system to validate it in (None: the code system is not known), with the
    issues HL7's reference server gives about versions: the coding's version is not known (``x-caused-by-unknown-
    system``), the value set's include names a version that is not known, the coding's version is not the one the
    value set uses (``VALUESET_VALUE_MISMATCH``), or not one a ``check-system-version`` allows."""
    system, asked = str(coding.get("system")), coding.get("version")
    registry = ctx.registry
    if registry.code_system(system) is None:
        return None
    at = issue_path(form, "system", index)
    version_at = issue_path(form, "version", index)
    own = registry.code_system(system, str(asked)) if asked else None
    if asked and own is None:
        check.caused_by = f"{system}|{asked}"
        check.version_ok = False
        said, text = unknown_version(registry, system, str(asked), VALIDATE)
        check.issues.append(issue("error", "not-found", text, tx_code="not-found", expression=at, message_id=said))
    chosen = _include_for(ctx, system, str(coding.get("code", "")), str(asked) if own else None, coding.get("display"))
    if chosen is None:
        return own or registry.code_system(system, ctx.rules.pattern(system, None)[0]) or registry.code_system(system)
    if ctx.members is not None and ctx.members.unknown_versions.get(system) is chosen and chosen.pattern:
        check.caused_by = f"{system}|{chosen.pattern}"
        check.unknown_include = True
        check.version_ok = False
        said, text = unknown_version(registry, system, chosen.pattern, VALIDATE)
        check.issues.append(issue("error", "not-found", text, tx_code="not-found", expression=at, message_id=said))
    used = chosen.used
    target = chosen.version or chosen.pattern
    if asked and target != asked and not (chosen.pattern and chosen.version and version_matches(chosen.pattern, asked)):
        check.version_ok = False
        if own is None and chosen.how == LATEST:
            said = "VALUESET_VALUE_MISMATCH_DEFAULT"
            text = message(said, system, used, None, asked)
            found = issue("warning", "invalid", text, tx_code="vs-invalid", expression=version_at, message_id=said)
            check.issues.append({**found, QUIET: 1})
        else:
            if chosen.how in (DEFAULT, CHECK, FORCE):
                said = "VALUESET_VALUE_MISMATCH_CHANGED"
                text = message(said, system, chosen.pattern, chosen.asked or "", asked)
            else:
                said = "VALUESET_VALUE_MISMATCH"
                text = message(said, system, chosen.pattern if chosen.how != LATEST else used, asked)
            check.issues.append(
                issue("error", "invalid", text, tx_code="vs-invalid", expression=version_at, message_id=said)
            )
    failure = ctx.rules.check_failure(system, used) if chosen.how != FORCE else None
    if failure:
        check.version_ok = False
        said = "VALUESET_VERSION_CHECK"
        check.issues.append(
            issue("error", "exception", failure, tx_code="version-error", expression=version_at, message_id=said)
        )
    return registry.code_system(system, used)


def _include_for(
    ctx: Validation, system: str, code: str, asked: str | None, display: str | None
) -> IncludeVersion | None:
    """The include of ``system`` a coding is judged by: the one that uses the coding's version, else the one the
    code is a member by, else the one that uses the latest version (two includes may name two versions of one code
    system)."""
    includes = ctx.members.versions_of(system) if ctx.members is not None else []
    if not includes:
        return None
    members = ctx.members.find(system, code) if ctx.members is not None else []
    # The member whose display is the coding's, else the latest version's.
    members.sort(key=lambda member: (member.concept.display == display, version_key(member.version)), reverse=True)
    same = [chosen for chosen in includes if asked and chosen.used == asked]
    same += [chosen for chosen in includes if members and chosen.used == members[0].version]
    return same[0] if same else max(reversed(includes), key=lambda chosen: version_key(chosen.used))
