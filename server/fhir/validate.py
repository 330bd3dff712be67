"""``$validate-code`` of CodeSystem and ValueSet: codes, codings and codeable concepts, with issues and messages."""

from __future__ import annotations

from calcinosis_kg.server.fhir.checks import check_coding
from calcinosis_kg.server.fhir.compose import Expander, Expansion
from calcinosis_kg.server.fhir.errors import InvalidRequest, ResourceNotFound, issue, operation_outcome
from calcinosis_kg.server.fhir.expand import resolve_value_set
from calcinosis_kg.server.fhir.languages import parse_languages, requested_language, supplement_canonicals
from calcinosis_kg.server.fhir.messages import message
from calcinosis_kg.server.fhir.model import JSON, Registry, split_canonical
from calcinosis_kg.server.fhir.params import Params, code_system_or_404, param, parameters
from calcinosis_kg.server.fhir.status import canonical_of, validation_issues
from calcinosis_kg.server.fhir.verdict import LOUD, QUIET, Validation, issue_path, value_set_name
from calcinosis_kg.server.fhir.versions import VersionRules


def _codings(params: Params) -> tuple[str, list[JSON]]:
    """How the request gives the code (``code``, ``Coding`` or ``CodeableConcept``) and its codings."""
    concept = params.value("codeableConcept")
    if isinstance(concept, dict):
        return "CodeableConcept", [dict(c) for c in concept.get("coding", [])]
    coding = params.value("coding")
    if isinstance(coding, dict):
        return "Coding", [dict(coding)]
    code = params.text("code")
    if code is None:
        # The reference server's wording (HL7's batch test checks it), its unclosed parenthesis too.
        raise InvalidRequest(
            "Unable to find code to validate (looked for coding | codeableConcept | code+system | code+inferSystem"
            " in parameters"
        )
    coding = {"code": code}
    for name in ("system", "version", "display"):
        if params.text(name) is not None:
            coding[name] = params.text(name)
    if "version" not in coding and params.text("systemVersion") is not None:
        coding["version"] = params.text("systemVersion")  # R5's name, which HL7's tools send to R4 servers too
    return "code", [coding]


def _infer_system(ctx: Validation, coding: JSON, form: str) -> None:
    """Give a bare code the system of the value set's member with that code (``inferSystem``)."""
    members = ctx.members
    if members is None or ctx.vs is None:
        return
    code = str(coding.get("code", ""))
    systems = sorted({system for system, member_code, _ in members.members if member_code == code})
    if len(systems) == 1:
        coding["system"] = systems[0]
        return
    everywhere = sorted({key[0] for key in members.members})
    said = "UNABLE_TO_INFER_CODESYSTEM"
    if len(systems) > 1:
        said = "Unable_to_resolve_system__value_set_has_multiple_matches"
        text = message(said, code, value_set_name(ctx.vs), f"[{', '.join(systems)}]")
    else:
        reason = f"the code was not found in the value set's code systems: [{', '.join(everywhere)}]"
        text = f"{message(said, code, value_set_name(ctx.vs))}: {reason}"
    coding["x-cannot-infer"] = issue(
        "error", "not-found", text, tx_code="cannot-infer", expression=issue_path(form, "code", 0), message_id=said
    )


def validate_code(registry: Registry, params: Params, *, value_set: bool) -> JSON:
    """``ValueSet/$validate-code`` (``value_set``) or ``CodeSystem/$validate-code``."""
    form, codings = _codings(params)
    vs: JSON | None = None
    members: Expansion | None = None
    supplements = supplement_canonicals(params, None)
    rules = VersionRules.of(params.items)
    preferred = {str(c["system"]): str(c["version"]) for c in codings if c.get("system") and c.get("version")}
    if value_set:
        vs = resolve_value_set(registry, params)
        supplements = supplement_canonicals(params, vs)
        try:
            members = Expander(
                registry,
                active_only=params.flag("activeOnly"),
                strict=False,
                supplements=supplements,
                rules=rules,
                preferred=preferred,
            ).value_set(vs)
        except ResourceNotFound as error:
            if error.message_id != "Unable_to_resolve_value_Set_":  # not an unknown import: another 404
                raise
            return _invalid_import(form, params, codings, error)
    language = requested_language(params, vs, params.accept_language)
    ctx = Validation(
        registry=registry,
        vs=vs,
        members=members,
        lenient=params.flag("lenient-display-validation"),
        languages=parse_languages(language),
        language=language,
        supplements=supplements,
        membership_only=params.flag("valueset-membership-only"),
        rules=rules,
    )
    if value_set:
        if form == "code" and "system" not in codings[0] and params.flag("inferSystem", True):
            _infer_system(ctx, codings[0], form)
    else:
        url = params.text("url") or params.text("system") or (codings[0].get("system") if codings else None)
        base, version = split_canonical(url or "", params.text("version"))
        if version and registry.code_system(base) is not None and registry.code_system(base, version) is None:
            # An unknown version of a known code system: HL7's UNKNOWN_CODESYSTEM_VERSION issue and result false
            # (with x-caused-by-unknown-system), as for a coding's version, not a 404 (the reference server's).
            for coding in codings:
                coding.setdefault("system", base)
                coding.setdefault("version", version)
        else:
            cs = code_system_or_404(registry, url, params.text("version"))
            for coding in codings:
                coding.setdefault("system", cs.url)
    cannot_infer = [c.pop("x-cannot-infer") for c in codings if "x-cannot-infer" in c]
    checks = [check_coding(ctx, c, form, i) for i, c in enumerate(codings)]
    good = next((c for c in checks if c.found and c.in_value_set and c.valid_system), None)
    out: list[JSON] = []
    issues: list[JSON] = list(cannot_infer)
    if form == "CodeableConcept":
        out.append(param("codeableConcept", "codeableConcept", params.value("codeableConcept")))
        if good is None and vs is not None and not any(c.caused_by for c in checks):
            issues.append(
                issue(
                    "error",
                    "code-invalid",
                    message("TX_GENERAL_CC_ERROR_MESSAGE", value_set_name(vs)),
                    tx_code="not-in-vs",
                    message_id="TX_GENERAL_CC_ERROR_MESSAGE",
                )
            )
        for check in checks:
            for found in check.issues:
                if found["details"].get("coding", [{}])[0].get("code") == "not-in-vs":
                    found = {**found, "severity": "information"}
                    found["details"] = {**found["details"], "coding": [dict(found["details"]["coding"][0])]}
                    found["details"]["coding"][0]["code"] = "this-code-not-in-vs"
                issues.append(found)
        chosen = good or (checks[0] if len(checks) == 1 and checks[0].found and checks[0].in_value_set else None)
        # A code unknown to its (known) code system makes the concept invalid, whatever its other codings.
        unknown_code = any(
            i["severity"] == "error" and i["details"].get("coding", [{}])[0].get("code") == "invalid-code"
            for c in checks
            for i in c.issues
        )
        result = good is not None and good.result and not unknown_code
    else:
        chosen = checks[0]
        issues += chosen.issues
        result = chosen.result
    if chosen is not None:
        # A concept whose value set includes an unknown version names no code and system (the reference server's).
        named = not (form == "CodeableConcept" and chosen.unknown_include)
        if chosen.code is not None and named:
            out.append(param("code", "code", chosen.code))
        if chosen.normalized:
            out.append(param("normalized-code", "code", chosen.normalized))
        if chosen.display and chosen.found:
            out.append(param("display", "string", chosen.display))
        if chosen.inactive:
            out.append(param("inactive", "boolean", True))
        if chosen.status and chosen.found:
            out.append(param("status", "code", chosen.status))
        if chosen.system and (form != "CodeableConcept" or chosen.found) and named:
            out.append(param("system", "uri", chosen.system))
        if chosen.version and chosen.found:
            out.append(param("version", "string", chosen.version))
    for check in checks:
        if check.unknown_system:
            out.append(param("x-unknown-system", "canonical", check.unknown_system))
        if check.caused_by:
            out.append(param("x-caused-by-unknown-system", "canonical", check.caused_by))
    used_systems = [
        used.canonical
        for c in checks
        if c.found and c.system and (used := registry.code_system(c.system, c.version)) is not None
    ]
    used_value_sets = [canonical_of(vs), *(members.used_value_sets if members else [])] if vs else []
    issues += validation_issues(registry, used_systems, used_value_sets)
    if any(c.caused_by for c in checks):
        issues = [i for i in issues if i["details"].get("coding", [{}])[0].get("code") != "not-in-vs"]
    if issues:
        messages = sorted(
            {
                i["details"]["text"]
                for i in issues
                if (i["severity"] in ("error", "warning") and QUIET not in i) or LOUD in i
            }
        )
        clean = [{k: v for k, v in i.items() if k not in (QUIET, LOUD)} for i in issues]
        out.append({"name": "issues", "resource": operation_outcome(clean)})
        if messages:
            out.append(param("message", "string", "; ".join(messages)))
    out.append(param("result", "boolean", result))
    return parameters(out)


def _invalid_import(form: str, params: Params, codings: list[JSON], error: ResourceNotFound) -> JSON:
    text = str(error)
    found = issue("error", "not-found", text, tx_code="not-found", message_id=error.message_id)
    out = []
    if form == "CodeableConcept":
        out.append(param("codeableConcept", "codeableConcept", params.value("codeableConcept")))
    elif codings and codings[0].get("code"):
        out.append(param("code", "code", codings[0]["code"]))
    out += [
        {"name": "issues", "resource": operation_outcome([found])},
        param("message", "string", text),
        param("result", "boolean", False),
    ]
    return parameters(out)
