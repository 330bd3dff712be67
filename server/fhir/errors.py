"""FHIR errors: each refusal of the ``/fhir`` API is a :class:`FhirError`, rendered as an OperationOutcome.

The FHIR blueprint's own error handler (:mod:`calcinosis_kg.server.fhir.views`) maps these to responses; the
endpoint's :mod:`calcinosis_kg.server.errors` is not involved. ``code`` is the OperationOutcome issue type
(http://hl7.org/fhir/issue-type) and ``tx_code`` the detail code of HL7's tx-issue-type code system, which
terminology clients (the HL7 validator) read.
"""

from __future__ import annotations

from typing import Any, Self

from calcinosis_kg.server.fhir.messages import MESSAGE_ID

TX_ISSUE_TYPE = "http://hl7.org/fhir/tools/CodeSystem/tx-issue-type"


class FhirError(Exception):
    """A request the FHIR API refuses; the message is shown to the client in an OperationOutcome."""

    status = 400
    code = "invalid"
    tx_code: str | None = None
    expression: str | None = None
    message_id: str | None = None

    def __init__(
        self, message: str, *, tx_code: str | None = None, status: int | None = None, message_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.message_id = message_id
        if tx_code is not None:
            self.tx_code = tx_code
        if status is not None:
            self.status = status

    def at(self, expression: str) -> Self:
        """This error, located at ``expression`` (a FHIRPath into the request's resource)."""
        self.expression = expression
        return self

    def outcome(self) -> dict[str, Any]:
        """The OperationOutcome describing this error."""
        found = issue(
            "error", self.code, str(self), tx_code=self.tx_code, expression=self.expression, message_id=self.message_id
        )
        return operation_outcome([found])


class InvalidRequest(FhirError):
    """A parameter is missing, repeated, of the wrong type or contradicts another (400, ``invalid``)."""


class ResourceNotFound(FhirError):
    """The resource, or the code system or value set an operation needs, is not known (404, ``not-found``)."""

    status = 404
    code = "not-found"
    tx_code = "not-found"


class NotSupported(FhirError):
    """The request asks for something this server does not do (400, ``not-supported``)."""

    code = "not-supported"


class Unprocessable(FhirError):
    """The request is well formed but its content cannot be processed (422, ``processing``)."""

    status = 422
    code = "processing"


class TooLong(FhirError):
    """The request body is over the size limit (413, ``too-long``)."""

    status = 413
    code = "too-long"


class TooCostly(FhirError):
    """The operation would be too large (an expansion over the limit) (422, ``too-costly``)."""

    status = 422
    code = "too-costly"


# Issue types whose answers give the FHIRPath ``expression`` alone, without the deprecated R4 ``location``, as
# HL7's runner wants them (it reports a property the expected file lacks): display checks (no expected file
# requires ``location`` on them), and codes not in the value set or not in the code system (the permutations and
# overload suites forbid it there; the older files that show it also pass without it).
EXPRESSION_ONLY = frozenset({"invalid-display", "not-in-vs", "this-code-not-in-vs", "invalid-code"})


def issue(
    severity: str,
    code: str,
    text: str,
    *,
    tx_code: str | None = None,
    expression: str | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    """One OperationOutcome issue; ``expression`` (a FHIRPath) is also given as the R4 ``location``,
    except for the issue types in ``EXPRESSION_ONLY``. ``message_id``, the id of HL7's message the text is
    (:mod:`calcinosis_kg.server.fhir.messages`), is given in the ``operationoutcome-message-id`` extension."""
    details: dict[str, Any] = {"text": text}
    if tx_code:
        details["coding"] = [{"system": TX_ISSUE_TYPE, "code": tx_code}]
    result: dict[str, Any] = {"severity": severity, "code": code, "details": details}
    if message_id:
        result["extension"] = [{"url": MESSAGE_ID, "valueString": message_id}]
    if expression:
        if tx_code not in EXPRESSION_ONLY:
            result["location"] = [expression]
        result["expression"] = [expression]
    return result


def operation_outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    """An OperationOutcome holding ``issues``."""
    return {"resourceType": "OperationOutcome", "issue": issues}
