"""``$batch-validate-code``: many ``$validate-code`` requests in one, as HL7's tools send them.

The request's parameters other than ``validation`` (``url``, ``tx-resource``, ``lenient-display-validation``...)
are shared; each ``validation`` parameter holds a Parameters resource with one validation's own parameters, which
win over the shared ones of the same name. The answer has one ``validation`` parameter per request, in order,
holding that validation's answer: the Parameters of ``$validate-code``, or the OperationOutcome of its refusal
(a refused validation does not refuse the batch).
"""

from __future__ import annotations

from calcinosis_kg.server.fhir.errors import FhirError, InvalidRequest
from calcinosis_kg.server.fhir.model import JSON, Registry
from calcinosis_kg.server.fhir.params import Params, parameters
from calcinosis_kg.server.fhir.validate import validate_code

MAX_VALIDATIONS = 1000
"""The most validations one batch may hold (each is a full ``$validate-code``)."""


def batch_validate_code(registry: Registry, params: Params, *, value_set: bool) -> JSON:
    """``ValueSet/$batch-validate-code`` (``value_set``) or ``CodeSystem/$batch-validate-code``."""
    requests = params.all("validation")
    if not requests:
        raise InvalidRequest("$batch-validate-code needs at least one validation parameter (a Parameters resource)")
    if len(requests) > MAX_VALIDATIONS:
        raise InvalidRequest(f"$batch-validate-code takes at most {MAX_VALIDATIONS} validations, not {len(requests)}")
    shared = [p for p in params.items if p.get("name") != "validation"]
    answers: list[JSON] = []
    for number, request in enumerate(requests):
        own = request.get("resource")
        if not isinstance(own, dict) or own.get("resourceType") != "Parameters":
            raise InvalidRequest(f"validation[{number}] must hold a Parameters resource")
        items = [p for p in own.get("parameter", []) if isinstance(p, dict) and isinstance(p.get("name"), str)]
        try:
            answer = validate_code(registry, Params([*items, *shared], params.accept_language), value_set=value_set)
        except FhirError as refusal:
            answer = refusal.outcome()
        answers.append({"name": "validation", "resource": answer})
    return parameters(answers)
