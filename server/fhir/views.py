"""``/fhir``: a FHIR R4 (4.0.1) terminology service over the graph, JSON only.

Routes (GET, and POST with a Parameters body for operations; instance forms ``/{type}/{id}/$op`` too):

- ``/fhir/metadata`` (CapabilityStatement; ``?mode=terminology``: TerminologyCapabilities);
- ``/fhir/{CodeSystem|ValueSet|ConceptMap}`` search by ``url``, ``version``, ``name``, ``title``, ``status``,
  ``_id``; ``/fhir/{type}/{id}`` read;
- ``CodeSystem/$lookup``, ``CodeSystem/$validate-code``, ``CodeSystem/$subsumes``, ``ValueSet/$expand``,
  ``ValueSet/$validate-code``, ``ConceptMap/$translate``, ``{ValueSet|CodeSystem}/$batch-validate-code``.

Resources sent with a request as ``tx-resource`` parameters (code systems, value sets, concept maps) are used
for that request only, before the server's own. Errors are OperationOutcomes (:mod:`.errors`). ``_format`` and
``Accept`` are honoured: JSON (``application/fhir+json``, ``application/json``, ``json``) is answered, XML is
refused with 406.

The operations (with their value-set machinery) and the body's shape checks (pydantic models) are imported by
the first request that needs them, not with this module: they were a fifth of the server's import time
(about 0.15 s of ``python -X importtime``), paid before every start's first ``/health`` by servers that may
never see a FHIR operation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from calcinosis_kg.server.errors import EndpointError, error_parts
from calcinosis_kg.server.fhir.budget import limited
from calcinosis_kg.server.fhir.capability import capability_statement, terminology_capabilities
from calcinosis_kg.server.fhir.errors import FhirError, InvalidRequest, NotSupported, ResourceNotFound, TooLong, issue
from calcinosis_kg.server.fhir.errors import operation_outcome as outcome_of
from calcinosis_kg.server.fhir.model import JSON, Registry
from calcinosis_kg.server.fhir.params import Params
from calcinosis_kg.server.fhir.wire import answer_to_r4, request_from_r4
from calcinosis_kg.server.http.guard import RouteLimits, register_route_limits

if TYPE_CHECKING:
    from calcinosis_kg.server.fhir.resources import GraphTerminology

FHIR_JSON = "application/fhir+json"
JSON_FORMATS = {"json", "application/json", FHIR_JSON, "application/json+fhir"}
XML_FORMATS = {"xml", "application/xml", "application/fhir+xml", "text/xml", "application/xml+fhir"}
TYPES = ("CodeSystem", "ValueSet", "ConceptMap")
SEARCH_PARAMETERS = ("url", "version", "name", "title", "status", "_id")
MAX_BODY = 5 * 1024 * 1024


def fhir_response(resource: JSON, status: int = 200) -> Response:
    """``resource`` as an ``application/fhir+json`` response, in R4 (:func:`~.wire.answer_to_r4`)."""
    body = json.dumps(answer_to_r4(resource), ensure_ascii=False)
    return Response(body, status=status, content_type=f"{FHIR_JSON}; charset=utf-8")


def check_format() -> None:
    """Refuse (406) a request whose ``_format`` or ``Accept`` asks for XML only."""
    wanted = request.args.get("_format")
    if wanted:
        if wanted.split(";")[0].strip() in XML_FORMATS:
            raise FhirError("This server answers JSON only (_format=json)", status=406)
        if wanted.split(";")[0].strip() not in JSON_FORMATS:
            raise FhirError(f"Unknown _format {wanted!r}: use json", status=406)
        return
    accept = request.accept_mimetypes
    if not accept or accept.provided is False:
        return
    if any(accept[kind] for kind in JSON_FORMATS if "/" in kind) or accept.best is None:
        return
    if any(accept[kind] for kind in XML_FORMATS if "/" in kind):
        raise FhirError("This server answers JSON only (Accept: application/fhir+json)", status=406)


def read_body() -> JSON:
    """The request's Parameters body: at most :data:`MAX_BODY` bytes (a chunked body too), JSON as FHIR writes
    it (no ``NaN``), of the shape the operations read (:func:`~.shapes.check_body`); else a 4xx."""
    from calcinosis_kg.server.fhir.shapes import MAX_DEPTH, Structure, check_body  # on first use: see the docstring

    if (request.content_length or 0) > MAX_BODY:
        raise TooLong(f"The request body is larger than {MAX_BODY} bytes")
    data = request.stream.read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        raise TooLong(f"The request body is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(data.decode("utf-8") or "{}", parse_constant=_no_constant)
    except UnicodeDecodeError as error:
        raise InvalidRequest(f"The request body is not UTF-8: {error}") from None
    except ValueError as error:
        raise InvalidRequest(f"The request body is not JSON: {error}") from None
    except RecursionError:
        raise Structure(f"The request body is nested more than {MAX_DEPTH} levels deep") from None
    return check_body(body)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def request_params() -> Params:
    """The operation's parameters: the Parameters body of a POST, or the query string (and form)."""
    items: list[JSON] = []
    for name, value in request.args.items(multi=True):
        if not name.startswith("_"):
            items.append({"name": name, "valueString": value})
    if request.method == "POST":
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            items += [{"name": n, "valueString": v} for n, v in request.form.items(multi=True)]
        else:
            parameters = read_body().get("parameter") or []
            for parameter in parameters:
                empty = [key for key, value in parameter.items() if key.startswith("value") and value == ""]
                if empty:
                    # FHIR's primitive values may not be empty strings (a string holds at least one character).
                    raise InvalidRequest(f"The parameter {parameter['name']!r} has an empty {empty[0]}")
            items += [request_from_r4(p) for p in parameters]
    return Params(items, request.headers.get("Accept-Language") or None)


def endpoint_outcome(error: EndpointError) -> Response:
    """A refusal of the endpoint's (time limit, a body too large or too slow...) as an OperationOutcome."""
    status, _, headers = error_parts(error)
    code = {408: "timeout", 413: "too-long", 429: "throttled", 431: "too-long", 503: "timeout", 504: "timeout"}.get(
        status, "exception"
    )
    response = fhir_response(outcome_of([issue("error", code, str(error))]), status)
    response.headers.extend((name, value) for name, value in headers if name != "Content-Type")
    return response


def guard_refusal(error: EndpointError) -> tuple[int, bytes, list[tuple[str, str]]]:
    """The request guard's refusal of a FHIR request (:mod:`~calcinosis_kg.server.http.guard`)."""
    response = endpoint_outcome(error)
    return response.status_code, response.get_data(), [(n, v) for n, v in response.headers if n != "Content-Length"]


def make_fhir_blueprint(terminology: GraphTerminology, *, software_version: str = "0.1.0") -> Blueprint:
    """The blueprint answering ``/fhir/...`` from ``terminology`` (the graph's resources, built through the pool).

    Its body limit (:data:`MAX_BODY`) and its refusals as OperationOutcomes hold in the request guard too.
    """
    blueprint = Blueprint("fhir", __name__, url_prefix="/fhir")
    blueprint.record_once(
        lambda state: register_route_limits(
            cast(Flask, state.app), "/fhir/", RouteLimits(MAX_BODY, guard_refusal, "the FHIR body limit")
        )
    )

    @blueprint.before_request
    def only_fhir_formats() -> None:
        check_format()

    @blueprint.errorhandler(FhirError)
    def fhir_error(error: FhirError) -> Response:
        return fhir_response(error.outcome(), error.status)

    blueprint.register_error_handler(EndpointError, endpoint_outcome)

    @blueprint.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code = {404: "not-found", 405: "not-supported"}.get(status, "exception")
        return fhir_response(outcome_of([issue("error", code, f"{error.name}: {error.description}")]), status)

    def registry_for(params: Params) -> Registry:
        own = terminology.registry()
        supplied = params.resources("tx-resource")
        return own.overlay(supplied) if supplied else own

    def instance(kind: str, resource_id: str) -> JSON:
        for resource in terminology.resources(kind):
            if resource.get("id") == resource_id:
                return resource
        raise ResourceNotFound(f"{kind}/{resource_id} is not known to this server", tx_code=None)

    @blueprint.get("/metadata")
    def metadata() -> Response:
        if request.args.get("mode") == "terminology":
            return fhir_response(terminology_capabilities(terminology, software_version))
        return fhir_response(capability_statement(request.url_root.rstrip("/") + "/fhir", software_version))

    @blueprint.get("/<kind>")
    def search(kind: str) -> Response:
        if kind not in TYPES:
            raise FhirError(f"Resource type {kind!r} is not supported here: {', '.join(TYPES)}", status=404)
        unknown = sorted({k for k in request.args if k not in SEARCH_PARAMETERS and not k.startswith("_")})
        if unknown:
            raise NotSupported(f"Unknown search parameter(s) {', '.join(unknown)}: {', '.join(SEARCH_PARAMETERS)}")
        found = [r for r in terminology.resources(kind) if _matches(r, request.args)]
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "link": [{"relation": "self", "url": request.url}],
            "entry": [
                {"fullUrl": f"{request.url_root}fhir/{kind}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                for r in found
            ],
        }
        if not found:
            del bundle["entry"]
        return fhir_response(bundle)

    @blueprint.get("/<kind>/<resource_id>")
    def read(kind: str, resource_id: str) -> Response:
        if kind not in TYPES:
            raise FhirError(f"Resource type {kind!r} is not supported here: {', '.join(TYPES)}", status=404)
        return fhir_response(instance(kind, resource_id))

    def operation(kind: str, name: str, run: Callable[[Registry, Params, JSON | None], JSON]) -> None:
        # The graph's resources are built first (their queries have the pool's limits); the operation then has
        # the query time limit (budget.limited), its Python work checked against it as it goes.
        def type_level() -> Response:
            terminology.registry()
            with limited(terminology.time_limit):
                params = request_params()
                return fhir_response(run(registry_for(params), params, None))

        def instance_level(resource_id: str) -> Response:
            terminology.registry()
            with limited(terminology.time_limit):
                params = request_params()
                return fhir_response(run(registry_for(params), params, instance(kind, resource_id)))

        methods = ["GET", "POST"]
        endpoint = f"{kind}_{name}".replace("-", "_")
        blueprint.add_url_rule(f"/{kind}/${name}", endpoint, type_level, methods=methods)
        blueprint.add_url_rule(
            f"/{kind}/<resource_id>/${name}", f"{endpoint}_instance", instance_level, methods=methods
        )

    def with_system(params: Params, resource: JSON | None) -> Params:
        if resource is not None:
            return params.plus({"name": "system", "valueUri": resource["url"]})
        return params

    def lookup(reg: Registry, p: Params, cs: JSON | None) -> JSON:
        from calcinosis_kg.server.fhir.lookup import lookup

        return lookup(reg, with_system(p, cs))

    def subsumes(reg: Registry, p: Params, cs: JSON | None) -> JSON:
        from calcinosis_kg.server.fhir.lookup import subsumes

        return subsumes(reg, with_system(p, cs))

    def validate_code_system(reg: Registry, p: Params, cs: JSON | None) -> JSON:
        from calcinosis_kg.server.fhir.validate import validate_code

        return validate_code(reg, p.plus({"name": "url", "valueUri": cs["url"]}) if cs else p, value_set=False)

    def validate_value_set(reg: Registry, p: Params, vs: JSON | None) -> JSON:
        from calcinosis_kg.server.fhir.validate import validate_code

        return validate_code(reg, p.plus({"name": "valueSet", "resource": vs}) if vs else p, value_set=True)

    def expand(reg: Registry, p: Params, vs: JSON | None) -> JSON:
        from calcinosis_kg.server.fhir.expand import expand

        return expand(reg, p, vs)

    def translate(reg: Registry, p: Params, cm: JSON | None) -> JSON:
        from calcinosis_kg.server.fhir.translate import translate

        return translate(reg, p, cm)

    def batch_validate(value_set: bool) -> Callable[[Registry, Params, JSON | None], JSON]:
        def run(reg: Registry, p: Params, _: JSON | None) -> JSON:
            from calcinosis_kg.server.fhir.batch import batch_validate_code

            return batch_validate_code(reg, p, value_set=value_set)

        return run

    operation("CodeSystem", "lookup", lookup)
    operation("CodeSystem", "subsumes", subsumes)
    operation("CodeSystem", "validate-code", validate_code_system)
    operation("ValueSet", "expand", expand)
    operation("ValueSet", "validate-code", validate_value_set)
    operation("ConceptMap", "translate", translate)
    operation("ValueSet", "batch-validate-code", batch_validate(True))
    operation("CodeSystem", "batch-validate-code", batch_validate(False))
    return blueprint


def _matches(resource: JSON, args: Any) -> bool:
    for name in SEARCH_PARAMETERS:
        wanted = args.get(name)
        if wanted is None:
            continue
        key = "id" if name == "_id" else name
        value = str(resource.get(key, ""))
        if name in ("name", "title"):
            if not value.casefold().startswith(wanted.casefold()):
                return False
        elif name == "url":
            url, _, version = wanted.partition("|")
            if value != url or (version and resource.get("version") != version):
                return False
        elif value != wanted:
            return False
    return True


__all__ = ["NotSupported", "make_fhir_blueprint"]
