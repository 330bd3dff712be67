"""How ``$validate-code`` judges one coding: system, code, display, with messages worded as the reference server's."""

from __future__ import annotations

from calcinosis_kg.server.fhir.compose import Expander
from calcinosis_kg.server.fhir.errors import FhirError, issue
from calcinosis_kg.server.fhir.languages import display_in, language_text, matches_language, supplemented
from calcinosis_kg.server.fhir.model import (
    JSON,
    CodeSystemIndex,
    Concept,
    Registry,
    split_canonical,
    value_of,
)
from calcinosis_kg.server.fhir.params import EXT_BASE
from calcinosis_kg.server.fhir.verdict import LOUD, QUIET, Check, Validation, issue_path, value_set_name
from calcinosis_kg.server.fhir.version_checks import code_system_version
from calcinosis_kg.server.fhir.versions import unknown_version


def _unknown_system(check: Check, ctx: Validation, coding: JSON, form: str, index: int) -> None:
    system, code = str(coding.get("system")), str(coding.get("code", ""))
    located = issue_path(form, "system", index)
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
            text = (
                f"{issue_path(form, 'system', index) or 'system'} must be an absolute reference, not a local reference"
            )
            check.issues.append(issue("error", "invalid", text, tx_code="invalid-data", expression=located))
            text = f"A definition for CodeSystem '{system}' could not be found, so the code cannot be validated"
        else:
            text = f"A definition for CodeSystem {system} could not be found, so the code cannot be validated"
            if coding.get("version"):
                text = unknown_version(ctx.registry, system, str(coding["version"]), "the code cannot be validated")
        check.issues.append(issue("error", "not-found", text, tx_code="not-found", expression=located))
    if ctx.vs is not None:
        check.issues.append(not_in_value_set(f"{_versioned(coding)}#{code}", coding, ctx.vs, form, index))


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
    # A designation with a use of its own and no language (an "olde-english" form...) is not a display.
    everything += [
        (str(d.get("value")), d.get("language"))
        for d in concept.designations
        if d.get("value") and (d.get("language") or not d.get("use"))
    ]
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


def _marks_deprecated(extension: JSON) -> bool:
    """Whether a value set's concept extension marks it deprecated: ``valueset-deprecated`` true (a boolean, or
    the code "true" some value sets give), or the standards status ``deprecated``."""
    if extension.get("url") == f"{EXT_BASE}valueset-deprecated":
        return value_of(extension) in (True, "true")
    return extension.get("url") == f"{EXT_BASE}structuredefinition-standards-status" and value_of(extension) == (
        "deprecated"
    )


def check_coding(ctx: Validation, coding: JSON, form: str, index: int) -> Check:
    check = Check(code=coding.get("code"), system=coding.get("system"))
    code, system = check.code or "", check.system
    vs = ctx.vs

    def about(element: str, severity: str, kind: str, text: str, tx_code: str) -> JSON:
        """An issue about the coding's ``element`` (``code``, or ``""`` for the coding)."""
        return issue(severity, kind, text, tx_code=tx_code, expression=issue_path(form, element, index))

    if not system:
        if form != "code":
            check.issues.append(
                about(
                    "",
                    "warning",
                    "invalid",
                    "Coding has no system. A code with no system has no defined meaning, and it cannot be "
                    "validated. A system should be provided",
                    "invalid-data",
                )
            )
        if vs is not None:
            check.issues.append(not_in_value_set(f"#{code}", coding, vs, form, index))
        return check
    base = code_system_version(check, ctx, coding, form, index)
    if base is None:
        _unknown_system(check, ctx, coding, form, index)
        return check
    if base.content == "supplement":
        check.valid_system = False
        where = issue_path(form, "system", index) or "system"
        text = f"CodeSystem {base.canonical} is a supplement, so can't be used as a value in {where}"
        check.issues.append(about("system", "error", "invalid", text, "invalid-data"))
        return check
    cs, _ = supplemented(ctx.registry, base, ctx.supplements)
    check.version = cs.version
    concept = cs.find(code)
    if concept is None:
        if not ctx.membership_only:
            shown = f" version '{cs.version}'" if cs.version else ""
            check.issues.append(
                about(
                    "code",
                    "error",
                    "code-invalid",
                    f"Unknown code '{code}' in the CodeSystem '{cs.url}'{shown}",
                    "invalid-code",
                )
            )
        if vs is not None:
            check.issues.append(not_in_value_set(f"{_versioned(coding)}#{code}", coding, vs, form, index))
        return check
    check.found = True
    if concept.code != code:
        check.normalized = concept.code
        text = (
            f"The code '{code}' differs from the correct code '{concept.code}' by case. Although the code system "
            f"'{cs.canonical}' is case insensitive, implementers are strongly encouraged to use the correct case anyway"
        )
        check.issues.append(about("code", "information", "business-rule", text, "code-rule"))
    check.display = display_in(cs, concept, ctx.languages).display or concept.display
    check.inactive = concept.inactive
    check.status = concept.status
    members = ctx.members
    if members is None:
        check.in_value_set = True
    else:
        member = members.members.get((cs.url, concept.code, cs.version))
        check.in_value_set = member is not None
        if member is None and vs is not None:
            if concept.inactive and _includes_code(vs, cs.url, concept.code, ctx.registry):
                check.issues.append(
                    about(
                        "code",
                        "error",
                        "business-rule",
                        f"The concept '{concept.code}' is valid but is not active",
                        "code-rule",
                    )
                )
            check.issues.append(not_in_value_set(f"{_versioned(coding)}#{code}", coding, vs, form, index))
        elif (
            member is not None
            and member.entry is not None
            and vs is not None
            and any(_marks_deprecated(e) for e in member.entry.get("extension", []))
        ):
            text = (
                f"The presence of the concept '{concept.code}' in the system '{cs.url}' in the value set "
                f"{value_set_name(vs)} is marked with a status of deprecated and its use should be reviewed"
            )
            check.issues.append(
                {
                    **about("code", "warning", "business-rule", text, "code-comment"),
                    QUIET: 1,
                }
            )
    if concept.inactive:
        status = concept.status if concept.status and concept.status != "inactive" else None
        text = f"has a status of {status} and inactive" if status else "has a status of inactive"
        check.issues.append(
            about(
                "",
                "warning",
                "business-rule",
                f"The concept '{concept.code}' {text} and its use should be reviewed",
                "code-comment",
            )
        )
    elif concept.status == "deprecated":
        check.issues.append(
            about(
                "code",
                "warning",
                "business-rule",
                f"The concept '{concept.code}' is deprecated and its use should be reviewed",
                "code-comment",
            )
        )
    _check_display(check, ctx, cs, concept, coding, issue_path(form, "display", index))
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
    return bool(everything.find(system, code))


def _versioned(coding: JSON) -> str:
    """The coding's system, with ``|version`` when it gives one (as the reference server names it in messages)."""
    return f"{coding['system']}|{coding['version']}" if coding.get("version") else str(coding.get("system"))


def not_in_value_set(coded: str, coding: JSON, vs: JSON, form: str, index: int) -> JSON:
    shown = f" ('{coding['display']}')" if coding.get("display") else ""
    return issue(
        "error",
        "code-invalid",
        f"The provided code '{coded}{shown}' was not found in the value set '{value_set_name(vs)}'",
        tx_code="not-in-vs",
        expression=issue_path(form, "code", index),
    )
