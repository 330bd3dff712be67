"""The terminology operations over a :class:`~.model.Registry`: $lookup, $validate-code, $subsumes, $expand, $translate.

Each operation takes the registry (the server's resources, overlaid with the request's ``tx-resource``\\ s) and
the request's :class:`~.params.Params`, and returns a FHIR resource as JSON (Parameters or ValueSet); a refusal
is a :class:`~.errors.FhirError`. Messages follow the wording of the reference server (tx.fhir.org), which HL7's
terminology test cases check by fragment. One module per operation: :mod:`.lookup` ($lookup, $subsumes),
:mod:`.expand`, :mod:`.validate` (with :mod:`.checks`), :mod:`.translate`; what they share is in
:mod:`.params` and :mod:`.languages` (display languages and supplements).
"""

from calcinosis_kg.server.fhir.expand import expand
from calcinosis_kg.server.fhir.lookup import lookup, subsumes
from calcinosis_kg.server.fhir.params import Params
from calcinosis_kg.server.fhir.translate import translate
from calcinosis_kg.server.fhir.validate import validate_code

__all__ = ["Params", "expand", "lookup", "subsumes", "translate", "validate_code"]
