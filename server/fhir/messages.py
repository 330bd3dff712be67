"""The messages of the FHIR API's OperationOutcome issues, by HL7's message id: one table, id -> text template.

The ids and templates are those of HL7's reference terminology server (``I18nConstants`` and ``Messages.properties``
in hapifhir/org.hl7.fhir.core, the ``_one`` form where HL7 has plural forms), with Java's ``MessageFormat``
quoting undone (``''`` is ``'``), except where HL7's test cases expect another wording: the display messages take
the whole "Valid display is ..." phrase as ``{3}`` (HL7's ``_one``/``_other`` forms in one),
``INACTIVE_DISPLAY_FOUND`` gives "one of" the correct displays, and some arguments are quoted where HL7's are not.
An issue built with an id (:func:`calcinosis_kg.server.fhir.errors.issue`) carries it in the
``operationoutcome-message-id`` extension, as tx.fhir.org's issues do and HL7's test cases expect.
"""

from __future__ import annotations

MESSAGE_ID = "http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id"
"""The extension (a ``valueString``, in R4 as in R5) that names an issue's message id."""

MESSAGES: dict[str, str] = {
    "CODE_CASE_DIFFERENCE": (
        "The code '{0}' differs from the correct code '{1}' by case. Although the code system '{2}' is case "
        "insensitive, implementers are strongly encouraged to use the correct case anyway"
    ),
    "CODESYSTEM_CS_NO_SUPPLEMENT": "CodeSystem {0} is a supplement, so can't be used as a value in {1}",
    "CONCEPT_DEPRECATED_IN_VALUESET": (
        "The presence of the concept '{1}' in the system '{0}' in the value set {3} is marked with a status of {2} "
        "and its use should be reviewed"
    ),
    "Coding_has_no_system__cannot_validate": (
        "Coding has no system. A code with no system has no defined meaning, and it cannot be validated. A system "
        "should be provided"
    ),
    "DEPRECATED_CONCEPT_FOUND": "The concept '{1}' is deprecated and its use should be reviewed",
    "Display_Name_for__should_be_one_of__instead_of": (
        "Wrong Display Name '{4}' for {1}#{2}. {3} (for the language(s) '{5}')"
    ),
    "Display_Name_WS_for__should_be_one_of__instead_of": (
        "Wrong whitespace in Display Name '{4}' for {1}#{2}. {3} (for the language(s) '{5}')"
    ),
    "INACTIVE_CONCEPT_FOUND": "The concept '{1}' has a status of {0} and its use should be reviewed",
    "INACTIVE_DISPLAY_FOUND": (
        "'{1}' is no longer considered a correct display for code '{2}' (status = {4}). The correct display is one "
        "of {3}."
    ),
    "MSG_DEPRECATED": "Reference to deprecated {2} {0}",
    "MSG_DRAFT": "Reference to draft {2} {0}",
    "MSG_EXPERIMENTAL": "Reference to experimental {2} {0}",
    "MSG_WITHDRAWN": "Reference to withdrawn {2} {0}",
    "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_ERR": (
        "Wrong Display Name '{0}' for {1}#{2}. There are no valid display names found for language(s) '{3}'. "
        "Default display is '{4}'"
    ),
    "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_OK": (
        "There are no valid display names found for the code {1}#{2} for language(s) '{3}'. The display is '{4}' "
        "which is a valid display for the default language"
    ),
    "None_of_the_provided_codes_are_in_the_value_set_one": (
        "The provided code '{2}' was not found in the value set '{1}'"
    ),
    "STATUS_CODE_WARNING_CODE": "The concept '{1}' is valid but is {0}",
    "Terminology_TX_System_Relative": "{0} must be an absolute reference, not a local reference",
    "Terminology_TX_System_ValueSet2": "The Coding references a value set, not a code system ('{0}')",
    "TX_GENERAL_CC_ERROR_MESSAGE": "No valid coding was found for the value set '{0}'",
    "UNABLE_TO_HANDLE_SYSTEM_FILTER_WITH_NO_VALUE": "The system {0} filter with property = {1}, op = {2} has no value",
    "UNABLE_TO_INFER_CODESYSTEM": "The System URI could not be determined for the code '{0}' in the ValueSet '{1}'",
    "Unable_to_resolve_system__value_set_has_multiple_matches": (
        "The System URI could not be determined for the code '{0}' in the ValueSet '{1}': value set expansion has "
        "multiple matches: {2}"
    ),
    "Unable_to_resolve_value_Set_": "A definition for the value Set '{0}' could not be found",
    "Unknown_Code_in": "Unknown code '{0}' in the CodeSystem '{1}'",
    "Unknown_Code_in_Version": "Unknown code '{0}' in the CodeSystem '{1}' version '{2}'",
    "UNKNOWN_CODESYSTEM": "A definition for CodeSystem '{0}' could not be found, so the code cannot be validated",
    "UNKNOWN_CODESYSTEM_EXP": (
        "A definition for CodeSystem '{0}' could not be found, so the value set cannot be expanded"
    ),
    "UNKNOWN_CODESYSTEM_VERSION": (
        "A definition for CodeSystem '{0}' version '{1}' could not be found, so the code cannot be validated. "
        "Valid versions: {2}"
    ),
    "UNKNOWN_CODESYSTEM_VERSION_NONE": (
        "A definition for CodeSystem '{0}' version '{1}' could not be found, so the code cannot be validated. "
        "No versions of this code system are known"
    ),
    "UNKNOWN_CODESYSTEM_VERSION_EXP": (
        "A definition for CodeSystem '{0}' version '{1}' could not be found, so the value set cannot be expanded. "
        "Valid versions: {2}"
    ),
    "UNKNOWN_CODESYSTEM_VERSION_EXP_NONE": (
        "A definition for CodeSystem '{0}' version '{1}' could not be found, so the value set cannot be expanded. "
        "No versions of this code system are known"
    ),
    "VALUESET_SUPPLEMENT_MISSING": "Required supplement not found: {1}",
    "VALUESET_VALUE_MISMATCH": (
        "The code system '{0}' version '{1}' in the ValueSet include is different to the one in the value ('{2}')"
    ),
    "VALUESET_VALUE_MISMATCH_CHANGED": (
        "The code system '{0}' version '{1}' resulting from the version '{2}' in the ValueSet include is different "
        "to the one in the value ('{3}')"
    ),
    "VALUESET_VALUE_MISMATCH_DEFAULT": (
        "The code system '{0}' version '{1}' for the versionless include in the ValueSet include is different to "
        "the one in the value ('{3}')"
    ),
    "VALUESET_VERSION_CHECK": (
        "The version '{1}' is not allowed for system '{0}': required to be '{2}' by a version-check parameter"
    ),
    "VS_EXP_IMPORT_UNK": "Unable to find included value set '{0}'",
    "VS_EXP_IMPORT_UNK_PINNED": "Unable to find included value set '{0}' version '{1}'",
}
"""HL7's message id -> its text template (``str.format`` with HL7's positional arguments)."""


def message(message_id: str, *args: object) -> str:
    """The text of HL7's message ``message_id`` with its arguments."""
    return MESSAGES[message_id].format(*args)
