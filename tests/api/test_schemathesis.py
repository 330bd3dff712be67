"""Schemathesis over every operation of /openapi.json: the answers of the real server match the document.

Every check of schemathesis runs (server errors, status codes, content types, headers, response schemas,
schema-valid requests accepted, schema-violating requests refused, ...) on a bounded, deterministic number of
generated requests per operation, through the examples, coverage and fuzzing phases.

The only adjustment, per operation, is the statuses that a *schema-valid* request may get
(``positive_data_acceptance``), where the validity of a request depends on something that JSON Schema in
the document cannot express; each is listed in :data:`SCHEMA_VALID_BUT_REFUSED` with its reason.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest
import schemathesis
from schemathesis import Case
from schemathesis.config import SchemathesisConfig

from calcinosis_kg.queries.catalog import load_catalog
from calcinosis_kg.server.views.openapi.document import openapi_document
from tests.support.api import Api
from tests.support.store_server import on_virtuoso

pytestmark = [pytest.mark.engine, pytest.mark.live]

MAX_EXAMPLES = 25
"""Generated requests per operation and phase: about a minute for the whole document on two cores."""

ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]
"""What ``positive_data_acceptance`` takes as "accepted" by default (5xx is caught by ``not_a_server_error``)."""

SCHEMA_VALID_BUT_REFUSED: dict[str, tuple[list[str], str]] = {
    "^/sparql$": (
        ["400", "406"],
        "a SPARQL query is a string to JSON Schema: its syntax (400), and the formats its query form has (406: "
        "a results format for SELECT/ASK, an RDF format for CONSTRUCT/DESCRIBE), are not in the document; "
        "default-graph-uri/named-graph-uri must name graphs the loaded data holds (400), which depends on the data",
    ),
    r"^/fhir/(ValueSet|CodeSystem)/\$batch-validate-code$": (
        ["400"],
        "each validation is a Parameters resource in a 'validation' parameter: a GET cannot carry one, and the "
        "document's generic Parameters body does not describe it (a batch with no validation is refused)",
    ),
    "^/query$": (["400"], "the query page shows SPARQL syntax errors and unknown graphs (400), as /sparql"),
    "^/queries/(entity-for-code|genes-implicated|rare-diseases-with-calcinosis)$": (
        ["400"],
        "a code's local id (the queries' `code` parameters: a code, an HPO term) is checked by the rules of its code "
        "system (SNOMED CT's partition and check digit, ICD-10-CM's pattern, HPO's seven digits...), which the "
        "document describes but does not encode",
    ),
}
"""Path regex -> (statuses a schema-valid request may also get, why the document cannot say more)."""

if on_virtuoso():  # docs/scaling.md, "Virtuoso"
    SCHEMA_VALID_BUT_REFUSED["^/queries/sources-of-assertion$"] = (
        ["400"],
        "on Virtuoso only: its SPARQL compiler fails on this query's VALUES with OPTIONAL (SP031), which we pass on",
    )


# A SPARQL query sent as the POST body (``application/sparql-query``) is text: sent as schemathesis sends text/plain.
schemathesis.serializer.alias("application/sparql-query", "text/plain")


def _config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": 1,
            "cache": {"enabled": False},  # the same cases every run, and no .schemathesis/ folder
            "suppress-health-check": ["all"],
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            "checks": {"enabled": True},
            "request-timeout": 60,
            "operations": [
                {
                    "include-path-regex": path,
                    "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, *statuses]}},
                }
                for path, (statuses, _reason) in SCHEMA_VALID_BUT_REFUSED.items()
            ],
        }
    )


def _document() -> dict[str, Any]:
    """The document that ``/openapi.json`` serves, made in this process so that pytest collects one test per
    operation (schemathesis' lazy ``from_fixture`` loader does not work with pytest 9.2);
    :func:`test_the_server_serves_this_document` checks that it is the one served."""
    return openapi_document(load_catalog(), server_url="/", version=importlib.metadata.version("calcinosis-kg"))


schema = schemathesis.openapi.from_dict(_document(), config=_config())


def test_the_server_serves_this_document(api: Api) -> None:
    assert api.get("/openapi.json").json() == _document()


@schema.parametrize()
def test_the_answers_match_the_document(case: Case, api: Api) -> None:
    case.call_and_validate(base_url=api.url, session=api.session)
