"""What the FHIR terminology service declares: its CapabilityStatement and TerminologyCapabilities (R4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from calcinosis_kg.server.fhir.model import JSON, version_key
from calcinosis_kg.server.http.openapi import NAME_SCHEMA

if TYPE_CHECKING:
    from calcinosis_kg.server.fhir.resources import GraphTerminology

FHIR_VERSION = "4.0.1"
RELEASE_DATE = "2026-11-30"
OPERATION_BASE = "http://hl7.org/fhir/OperationDefinition"
FEATURE = "http://hl7.org/fhir/uv/application-feature/StructureDefinition/feature"
TX_TESTS_VERSION = "1.7.8"
"""The version of HL7's terminology test cases the service was checked with (``tests/fhir/tx/PROVENANCE.md``)."""

EXPANSION_PARAMETERS = (
    "activeOnly", "check-system-version", "count", "designation", "displayLanguage", "excludeNested", "filter",
    "force-system-version", "includeDefinition", "includeDesignations", "offset", "property", "system-version",
    "tx-resource", "useSupplement",
)  # fmt: skip
"""The ``$expand`` parameters the service accepts.

``displayLanguage`` (or the ``Accept-Language`` header) chooses displays among a code system's designations;
``useSupplement`` applies code system supplements; ``property`` adds concept properties. ``includeDefinition`` is
accepted and has no effect (ask ``property=definition``); the three ``*-system-version`` parameters choose the
code system versions (:mod:`~.versions`, docs/fhir.md)."""


def _feature(definition: str, value: JSON) -> JSON:
    return {
        "url": FEATURE,
        "extension": [{"url": "definition", "valueCanonical": definition}, {"url": "value", **value}],
    }


def _operation(name: str, definition: str) -> JSON:
    return {"name": name, "definition": f"{OPERATION_BASE}/{definition}"}


def capability_statement(base: str, software_version: str) -> JSON:
    """The CapabilityStatement of ``/fhir`` (it instantiates HL7's terminology-server statement)."""
    read_search = [{"code": "read"}, {"code": "search-type"}]
    search = [{"name": name, "type": kind} for name, kind in (
        ("url", "uri"), ("version", "token"), ("name", "string"), ("title", "string"), ("status", "token"),
    )]  # fmt: skip
    return {
        "resourceType": "CapabilityStatement",
        "extension": [
            _feature("http://hl7.org/fhir/uv/tx-tests/FeatureDefinition/test-version", {"valueCode": TX_TESTS_VERSION}),
            _feature(
                "http://hl7.org/fhir/uv/tx-ecosystem/FeatureDefinition/CodeSystemAsParameter", {"valueBoolean": True}
            ),
        ],
        "url": f"{base}/metadata",
        "version": software_version,
        "name": "CalcinosisKGTerminologyServer",
        "title": "Calcinosis cutis knowledge graph: FHIR terminology service",
        "status": "active",
        "date": RELEASE_DATE,
        "publisher": "Calcinosis KG team",
        "kind": "instance",
        "instantiates": ["http://hl7.org/fhir/CapabilityStatement/terminology-server"],
        "software": {"name": "calcinosis-kg", "version": software_version, "releaseDate": RELEASE_DATE},
        "implementation": {"description": "FHIR R4 terminology service of the calcinosis cutis graph", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {
                        "type": "CodeSystem",
                        "interaction": read_search,
                        "searchParam": search,
                        "operation": [
                            _operation("lookup", "CodeSystem-lookup"),
                            _operation("validate-code", "CodeSystem-validate-code"),
                            _operation("subsumes", "CodeSystem-subsumes"),
                        ],
                    },
                    {
                        "type": "ValueSet",
                        "interaction": read_search,
                        "searchParam": search,
                        "operation": [
                            _operation("expand", "ValueSet-expand"),
                            _operation("validate-code", "ValueSet-validate-code"),
                        ],
                    },
                    {
                        "type": "ConceptMap",
                        "interaction": read_search,
                        "searchParam": search,
                        "operation": [_operation("translate", "ConceptMap-translate")],
                    },
                ],
                "operation": [_operation("versions", "fhir-versions")],
            }
        ],
    }


def terminology_capabilities(terminology: GraphTerminology, software_version: str) -> JSON:
    """The TerminologyCapabilities of ``/fhir`` (``GET /fhir/metadata?mode=terminology``)."""
    versions: dict[str, list[str]] = {}
    for cs in terminology.resources("CodeSystem"):
        versions.setdefault(cs["url"], []).append(cs.get("version", ""))
    systems = []
    for url, known in versions.items():
        latest = max(known, key=version_key)  # the version a request that names none gets
        listed = [{"code": v, "isDefault": v == latest} for v in sorted(known, key=version_key, reverse=True)]
        systems.append({"uri": url, "version": listed})
    return {
        "resourceType": "TerminologyCapabilities",
        "version": software_version,
        "name": "CalcinosisKGTerminologyCapabilities",
        "title": "Calcinosis cutis knowledge graph: terminology capabilities",
        "status": "active",
        "date": RELEASE_DATE,
        "kind": "instance",
        "software": {"name": "calcinosis-kg", "version": software_version},
        "codeSystem": systems,
        "expansion": {
            "hierarchical": False,
            "paging": True,
            "incomplete": False,
            "parameter": [{"name": name} for name in EXPANSION_PARAMETERS],
            "textFilter": "Case-insensitive substring of the code, display or a designation.",
        },
        "codeSearch": "all",
        "validateCode": {"translations": False},
        "translation": {"needsMap": False},
        "closure": {"translation": False},
    }


FHIR_ROUTES: tuple[tuple[str, str, bool], ...] = (
    ("/fhir/metadata", "CapabilityStatement (mode=terminology: TerminologyCapabilities)", False),
    ("/fhir/{type}", "Search CodeSystem, ValueSet or ConceptMap by url, version, name, title, status", False),
    ("/fhir/{type}/{id}", "Read a CodeSystem, ValueSet or ConceptMap", False),
    ("/fhir/CodeSystem/$lookup", "Look up a code: display, definition, designations, properties", True),
    ("/fhir/CodeSystem/$validate-code", "Validate a code against a code system", True),
    ("/fhir/CodeSystem/$subsumes", "Subsumption between two codes", True),
    ("/fhir/ValueSet/$expand", "Expand a value set (filter, count, offset, activeOnly, includeDesignations)", True),
    ("/fhir/ValueSet/$validate-code", "Validate a code against a value set", True),
    ("/fhir/ConceptMap/$translate", "Translate a code with the concept maps (reverse for target -> source)", True),
    ("/fhir/ValueSet/$batch-validate-code", "Validate many codes (validation parameters) in one request", True),
    ("/fhir/CodeSystem/$batch-validate-code", "Validate many codes against code systems in one request", True),
)
"""The FHIR routes as the OpenAPI description lists them: (path, summary, is an operation taking POST too)."""


_FHIR_JSON = "application/fhir+json"

FHIR_OPERATION_PARAMETERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "/fhir/CodeSystem/$lookup": (("code", "system"), ("version", "displayLanguage")),
    "/fhir/CodeSystem/$validate-code": (("code", "url"), ("version", "display")),
    "/fhir/CodeSystem/$subsumes": (("codeA", "codeB", "system"), ("version",)),
    "/fhir/ValueSet/$expand": (("url",), ("filter", "count", "offset")),
    "/fhir/ValueSet/$validate-code": (("url", "code", "system"), ("display",)),
    "/fhir/ConceptMap/$translate": (("code",), ("system", "target")),
}
"""The query parameters each operation is described with: (required, optional). FHIR also takes other forms
(``coding``, ``codeableConcept``, ``system`` instead of ``url``...); the document names the simplest, complete one.
On an instance (``/fhir/{Type}/{id}/$op``) the resource gives the system or value set: ``system`` and ``url`` are
optional there."""
_SYSTEM_OF_INSTANCE = frozenset({"system", "url"})


def openapi_paths() -> dict[str, dict[str, object]]:
    """OpenAPI path items of the ``/fhir`` routes (bodies and answers are FHIR R4 JSON resources)."""
    resource = {"schema": {"type": "object", "required": ["resourceType"]}}
    answer = {"description": "A FHIR R4 resource (an OperationOutcome for errors)", "content": {_FHIR_JSON: resource}}
    refused = {
        "description": "An OperationOutcome saying what is wrong; text/plain for a path with a control character.",
        "content": {_FHIR_JSON: resource, "text/plain": {"schema": {"type": "string"}}},
    }
    responses = {"200": answer, "400": refused, "404": answer}

    def parameters_resource(path: str, *, instance: bool) -> dict[str, object]:
        """A Parameters resource with (at least) the operation's required parameters, each a valueString."""
        required = [
            name
            for name in FHIR_OPERATION_PARAMETERS.get(path, ((), ()))[0]
            if not (instance and name in _SYSTEM_OF_INSTANCE)
        ]
        value = {"type": "string", "minLength": 1}
        parameter = {
            "type": "object",
            "required": ["name", "valueString"],
            "properties": {"name": {"type": "string"}, "valueString": value},  # unknown names are ignored
            "additionalProperties": False,
        }
        contains = [
            {"contains": {**parameter, "properties": {"name": {"const": name}, "valueString": value}}}
            for name in required
        ]
        return {
            "type": "object",
            "required": ["resourceType", "parameter"],
            "properties": {
                "resourceType": {"const": "Parameters"},
                "parameter": {"type": "array", "items": parameter, **({"allOf": contains} if contains else {})},
            },
        }

    def query_parameters(path: str, *, instance: bool) -> list[dict[str, object]]:
        required, optional = FHIR_OPERATION_PARAMETERS.get(path, ((), ()))
        return [
            {
                "name": name,
                "in": "query",
                "required": name in required and not (instance and name in _SYSTEM_OF_INSTANCE),
                # an empty optional parameter is ignored; an empty required one is missing (400)
                "schema": {"type": "string", "minLength": 1} if name in required else {"type": "string"},
            }
            for name in (*required, *optional)
        ]

    paths: dict[str, dict[str, object]] = {}
    for path, summary, operation in FHIR_ROUTES:
        names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        parameters = [{"name": n, "in": "path", "required": True, "schema": NAME_SCHEMA} for n in names]
        op_id = "fhir" + "".join(ch for ch in path.title() if ch.isalnum())
        item: dict[str, object] = {
            "get": {
                "summary": summary,
                "tags": ["FHIR"],
                "operationId": op_id,
                "parameters": [*parameters, *query_parameters(path, instance=False)],
                "responses": responses,
            }
        }
        if operation:
            item["post"] = {
                "summary": f"{summary} (a Parameters resource in the body)",
                "tags": ["FHIR"],
                "operationId": f"{op_id}Post",
                "requestBody": {
                    "required": True,
                    "content": {_FHIR_JSON: {"schema": parameters_resource(path, instance=False)}},
                },
                "responses": responses,
            }
        paths[path] = item
        if operation:
            kind, name = path.rsplit("/", 2)[-2:]
            instance = f"/fhir/{kind}/{{id}}/{name}"
            id_parameter = {"name": "id", "in": "path", "required": True, "schema": NAME_SCHEMA}
            paths[instance] = {
                method: {
                    **spec,  # type: ignore[dict-item]
                    "operationId": f"{spec['operationId']}Instance",  # type: ignore[index]
                    "summary": f"{spec['summary']}, on the {kind} with this id",  # type: ignore[index]
                    "parameters": [id_parameter, *(query_parameters(path, instance=True) if method == "get" else [])],
                }
                for method, spec in item.items()
            }
            paths[instance]["post"]["requestBody"] = {  # type: ignore[index]
                "required": True,
                "content": {_FHIR_JSON: {"schema": parameters_resource(path, instance=True)}},
            }
    return paths
