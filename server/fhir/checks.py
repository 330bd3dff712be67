"""How ``$validate-code`` judges one coding: system, code, display, with messages worded as the reference server's."""

from __future__ import annotations

from calcinosis_kg.server.fhir.compose import Expander
from calcinosis_kg.server.fhir.errors import FhirError, issue
from calcinosis_kg.server.fhir.languages import display_in, language_text, matches_language, supplemented
from calcinosis_kg.server.fhir.messages import message
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
from calcinosis_kg.server.fhir.versions import VALIDATE, unknown_version


def _unknown_system(check: Check, ctx: Validation, coding: JSON, form: str, index: int) -> None:
    system, code = str(coding.get("system")), str(coding.get("code", ""))
    located = issue_path(form, "system", index)
    if ctx.members is not None and any(split_canonical(u)[0] == system for u in ctx.members.unknown_systems):
        # The value set itself is built from this code system: nothing can be checked.
        check.caused_by = system
        text = message("UNKNOWN_CODESYSTEM", system)
        check.issues.append(
            issue("error", "not-found", text, tx_code="not-found", expression=located, message_id="UNKNOWN_CODESYSTEM")
        )
        return
    said: str | None
    if ctx.registry.value_set(system) is not None:
        check.valid_system = False
        said = "Terminology_TX_System_ValueSet2"
        text = message(said, system)
        check.issues.append(
            issue("error", "invalid", text, tx_code="invalid-data", expression=located, message_id=said)
        )
    else:
        check.unknown_system = system
        if ":" not in system:
            said = "Terminology_TX_System_Relative"
            text = message(said, issue_path(form, "system", index) or "system")
            check.issues.append(
                issue("error", "invalid", text, tx_code="invalid-data", expression=located, message_id=said)
            )
            said = "UNKNOWN_CODESYSTEM"
            text = message(said, system)
        elif coding.get("version"):
            said, text = unknown_version(ctx.registry, system, str(coding["version"]), VALIDATE)
        else:
            # The older wording without quotes, which HL7's cases give without a message id.
            said = None
            text = f"A definition for CodeSystem {system} could not be found, so the code cannot be validated"
        check.issues.append(issue("error", "not-found", text, tx_code="not-found", expression=located, message_id=said))
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
    deprecated = [
        d
        for d in concept.designations
        if d.get("value") == given and any("standards-status" in str(e.get("url")) for e in d.get("extension", []))
    ]
    if deprecated:
        current = [v for v, _ in everything if v != given]
        said = "INACTIVE_DISPLAY_FOUND"
        text = message(
            said, None, given, concept.code, ", ".join(chr(34) + v + chr(34) for v in current[:1]), "deprecated"
        )
        found = issue("warning", "invalid", text, tx_code="display-comment", expression=at, message_id=said)
        check.issues.append({**found, QUIET: 1})
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
            said = "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_OK"
            text = message(said, None, cs.url, concept.code, languages, given)
            found = issue("information", "invalid", text, tx_code="invalid-display", expression=at, message_id=said)
            check.issues.append({**found, LOUD: 1})
            return
        said = "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_ERR"
        text = message(said, given, cs.url, concept.code, languages, concept.display)
    else:
        # Only the whitespace differs: HL7's own message for that.
        spaced = " ".join(given.split()) in {" ".join(value.split()) for value, _ in valid}
        said = (
            "Display_Name_WS_for__should_be_one_of__instead_of"
            if spaced
            else ("Display_Name_for__should_be_one_of__instead_of")
        )
        text = message(said, len(valid), cs.url, concept.code, _choices(valid), given, languages)
    check.display_ok = ctx.lenient
    severity = "warning" if ctx.lenient else "error"
    check.issues.append(issue(severity, "invalid", text, tx_code="invalid-display", expression=at, message_id=said))


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

    def about(element: str, severity: str, kind: str, tx_code: str, said: str, *args: object) -> JSON:
        """An issue about the coding's ``element`` (``code``, or ``""`` for the coding): HL7's message ``said``."""
        at = issue_path(form, element, index)
        return issue(severity, kind, message(said, *args), tx_code=tx_code, expression=at, message_id=said)

    if not system:
        if form != "code":
            check.issues.append(
                about("", "warning", "invalid", "invalid-data", "Coding_has_no_system__cannot_validate")
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
        check.issues.append(
            about("system", "error", "invalid", "invalid-data", "CODESYSTEM_CS_NO_SUPPLEMENT", base.canonical, where)
        )
        return check
    cs, _ = supplemented(ctx.registry, base, ctx.supplements)
    check.version = cs.version
    concept = cs.find(code)
    if concept is None:
        if not ctx.membership_only:
            said = "Unknown_Code_in_Version" if cs.version else "Unknown_Code_in"
            check.issues.append(about("code", "error", "code-invalid", "invalid-code", said, code, cs.url, cs.version))
        if vs is not None:
            check.issues.append(not_in_value_set(f"{_versioned(coding)}#{code}", coding, vs, form, index))
        return check
    check.found = True
    if concept.code != code:
        check.normalized = concept.code
        check.issues.append(
            about(
                "code",
                "information",
                "business-rule",
                "code-rule",
                "CODE_CASE_DIFFERENCE",
                code,
                concept.code,
                cs.canonical,
            )
        )
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
                said = "STATUS_CODE_WARNING_CODE"
                check.issues.append(
                    about("code", "error", "business-rule", "code-rule", said, "not active", concept.code)
                )
            check.issues.append(not_in_value_set(f"{_versioned(coding)}#{code}", coding, vs, form, index))
        elif (
            member is not None
            and member.entry is not None
            and vs is not None
            and any(_marks_deprecated(e) for e in member.entry.get("extension", []))
        ):
            said = "CONCEPT_DEPRECATED_IN_VALUESET"
            args = (cs.url, concept.code, "deprecated", value_set_name(vs))
            check.issues.append({**about("code", "warning", "business-rule", "code-comment", said, *args), QUIET: 1})
    if concept.inactive:
        status = concept.status if concept.status and concept.status != "inactive" else None
        shown = f"{status} and inactive" if status else "inactive"
        check.issues.append(
            about("", "warning", "business-rule", "code-comment", "INACTIVE_CONCEPT_FOUND", shown, concept.code)
        )
    elif concept.status == "deprecated":
        said = "DEPRECATED_CONCEPT_FOUND"
        check.issues.append(about("code", "warning", "business-rule", "code-comment", said, None, concept.code))
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
    said = "None_of_the_provided_codes_are_in_the_value_set_one"
    return issue(
        "error",
        "code-invalid",
        message(said, None, value_set_name(vs), f"{coded}{shown}"),
        tx_code="not-in-vs",
        expression=issue_path(form, "code", index),
        message_id=said,
    )
