"""The requests of each workload, built from the canned-query catalog and the built graph.

Workloads (keys used by ``--only``):

- ``health``: ``GET /health`` (ours only): no query at all, so its requests/s is the ceiling that the HTTP
  stack (granian, Flask, the hooks) sets on every other workload;
- ``canned``: every canned query through ``GET /queries/{name}?param=default...`` (ours only);
- ``adhoc``: the same queries as ad-hoc SPARQL, ``GET {endpoint}?query=...``, on every server. A canned
  query binds its parameters as initial bindings; here their default values are written into the text as a
  ``VALUES`` block at the start of the outermost group pattern, which has the same meaning (the values are
  joined with the whole group, its filters included) and is standard SPARQL every server accepts;
- ``unique``: the ``adhoc`` queries again, each request with its own ``LIMIT`` constant (17 digits, far above
  any result size, under 2^63), so that no cache of query texts, plans or results can answer it while the
  query keeps its results and its cost (no canned query has a ``LIMIT`` of its own). Compared with ``adhoc``,
  it shows what a server gains from caching;
- ``deref``: ``GET /id/{local}`` with ``Accept: text/turtle``, rotating through the graph's entities (ours).

``adhoc`` and ``unique`` are sent by GET; ``adhoc-form``/``unique-form`` send the same queries as a POST of an
``application/x-www-form-urlencoded`` form, ``adhoc-direct``/``unique-direct`` as a POST of the query itself
(``application/sparql-query``): the protocol's three ways (:data:`SPARQL_METHODS`), each with its own row and
ratio. YASGUI and clients with long queries POST. ``--only adhoc`` (``unique``) selects all three.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdflib import Literal, URIRef
from rdflib.term import Identifier

from calcinosis_kg.queries.catalog import CannedQuery, load_catalog

ENTITY_NS = "https://w3id.org/calcinosis-kg/id/"
RESULTS_JSON = "application/sparql-results+json"
TURTLE = "text/turtle"
MAX_GET_PATH = 7000
"""Longer ad-hoc queries are sent by POST (servers limit the request line: 8 KiB is a common limit)."""

FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_METHODS = ("", "-form", "-direct")
"""The suffix of a query workload's name for each way of sending its queries: GET ``?query=``, a POST of a form,
a POST of the query itself."""
QUERY_WORKLOADS = ("adhoc", "unique")
"""The workloads measured by each of the :data:`SPARQL_METHODS`."""
UNIQUE_WORKLOADS = tuple(f"unique{method}" for method in SPARQL_METHODS)
"""The ``unique`` workload by each of the :data:`SPARQL_METHODS` (the scale section measures all three)."""
METHOD_NAMES = {"": "GET", "-form": "POST form", "-direct": "POST sparql-query"}
"""How each of the :data:`SPARQL_METHODS` is named in the report and the targets."""

HTTP_WORKLOADS = (
    "health",
    "canned",
    *(f"{base}{method}" for base in QUERY_WORKLOADS for method in SPARQL_METHODS),
    "deref",
)
OURS_ONLY = frozenset({"health", "canned", "deref"})
NO_PEER_COUNTERPART = frozenset({"health", "deref"})
"""Workloads with no ratio to the peers (they have no such route)."""

UNIQUE_CONSTANT_EXAMPLE = "100000000000000001"
"""A constant of the shape the unique workload's Lua script makes (salt, thread, counter: 17 digits)."""


@dataclass(frozen=True)
class Request:
    """One HTTP request of a workload (the path includes the query string)."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    name: str = ""
    """What the request is for (a canned query's name, an entity)."""


@dataclass(frozen=True)
class CannedSpec:
    """A canned query with its default parameter values, as bindings and written into ad-hoc SPARQL."""

    query: CannedQuery
    """The catalog's query: its name, form and ``.rq`` text (parameters are variables, bound or substituted)."""
    defaults: dict[str, str]
    bindings: dict[str, Identifier]
    adhoc: str
    """The query text with the defaults as a leading ``VALUES`` block, without the ``#`` header."""

    @property
    def accept(self) -> str:
        """SPARQL JSON results for SELECT and ASK, Turtle for graphs."""
        return RESULTS_JSON if self.query.query_type in {"SELECT", "ASK"} else TURTLE


def inline_values(sparql: str, bindings: dict[str, Identifier]) -> str:
    """``sparql`` without its comment lines, with ``bindings`` as ``VALUES`` after the first ``{``."""
    text = "\n".join(line for line in sparql.splitlines() if not line.lstrip().startswith("#")).strip()
    if not bindings:
        return text
    names = " ".join(f"?{name}" for name in bindings)
    terms = " ".join(term.n3() for term in bindings.values())
    brace = text.index("{")
    return f"{text[: brace + 1]}\n  VALUES ({names}) {{ ({terms}) }}{text[brace + 1 :]}"


def canned_specs() -> list[CannedSpec]:
    """Every canned query of the catalog, by name, with its default parameter values."""
    specs = []
    for _, canned in sorted(load_catalog().items()):
        defaults = {p.name: p.default for p in canned.params if p.default is not None}
        bindings = canned.bindings(defaults)
        adhoc = inline_values(canned.sparql, bindings)
        specs.append(CannedSpec(canned, defaults, bindings, adhoc))
    return specs


def canned_route_requests(specs: list[CannedSpec]) -> list[Request]:
    """``GET /queries/{name}?param=default`` for each canned query."""
    requests = []
    for spec in specs:
        query = f"?{urllib.parse.urlencode(spec.defaults)}" if spec.defaults else ""
        path = f"/queries/{urllib.parse.quote(spec.query.name)}{query}"
        requests.append(Request("GET", path, {"Accept": spec.accept}, name=spec.query.name))
    return requests


def split_workload(workload: str) -> tuple[str, str]:
    """A query workload's name as its base (``adhoc``, ``unique``) and method suffix (:data:`SPARQL_METHODS`)."""
    for method in SPARQL_METHODS[1:]:
        if workload.endswith(method):
            return workload.removesuffix(method), method
    return workload, ""


def adhoc_request(endpoint: str, sparql: str, accept: str, name: str = "", method: str = "") -> Request:
    """The SPARQL protocol request for one query sent by ``method`` (:data:`SPARQL_METHODS`): GET ``?query=``
    (a form POST when too long for GET), a form POST, or a POST of the query itself."""
    encoded = urllib.parse.urlencode({"query": sparql})
    if method == "-direct":
        return Request("POST", endpoint, {"Accept": accept, "Content-Type": SPARQL_QUERY}, sparql, name=name)
    if method == "" and len(endpoint) + 1 + len(encoded) <= MAX_GET_PATH:
        return Request("GET", f"{endpoint}?{encoded}", {"Accept": accept}, name=name)
    return Request("POST", endpoint, {"Accept": accept, "Content-Type": FORM}, encoded, name=name)


def adhoc_requests(specs: list[CannedSpec], endpoint: str, method: str = "") -> list[Request]:
    """The canned queries, defaults written in, as protocol requests to ``endpoint`` sent by ``method``."""
    return [adhoc_request(endpoint, spec.adhoc, spec.accept, spec.query.name, method) for spec in specs]


def unique_templates(specs: list[CannedSpec], endpoint: str, method: str = "") -> list[tuple[str, str]]:
    """Each canned query as what comes before and after its per-request ``LIMIT`` constant: the GET path, or
    the body of a POST by ``method`` (a form, or the query itself).

    The constant is made of digits, so it goes into a URL or a form as it is.
    """
    if method == "-direct":
        return [(f"{spec.adhoc}\nLIMIT ", "") for spec in specs]
    prefix = "query=" if method else f"{endpoint}?query="
    return [(f"{prefix}{urllib.parse.quote(spec.adhoc + chr(10) + 'LIMIT ', safe='')}", "") for spec in specs]


def unique_headers(method: str = "") -> dict[str, str]:
    """The headers of every request of the unique workload sent by ``method``: JSON results, the body's type."""
    headers = {"Accept": RESULTS_JSON}
    if method:
        headers["Content-Type"] = SPARQL_QUERY if method == "-direct" else FORM
    return headers


def unique_request(spec: CannedSpec, endpoint: str, constant: str, method: str = "") -> Request:
    """One query of the unique workload with ``constant`` (digits) as its ``LIMIT``, sent by ``method``."""
    [(before, after)] = unique_templates([spec], endpoint, method)
    if not method:
        return Request("GET", f"{before}{constant}{after}", {"Accept": spec.accept}, name=spec.query.name)
    headers = {**unique_headers(method), "Accept": spec.accept}
    return Request("POST", endpoint, headers, f"{before}{constant}{after}", name=spec.query.name)


def unique_requests(specs: list[CannedSpec], endpoint: str, method: str = "") -> list[Request]:
    """One request per canned query as the unique workload makes them (for the pre-flight check)."""
    return [unique_request(spec, endpoint, UNIQUE_CONSTANT_EXAMPLE, method) for spec in specs]


_SUBJECT = re.compile(r"^<" + re.escape(ENTITY_NS) + r"([^>]+)> <http://www.w3.org/2004/02/skos/core#prefLabel> ")


def entity_locals(data: Path) -> list[str]:
    """Local names of the entities with a ``skos:prefLabel`` in an N-Triples file, sorted."""
    found: set[str] = set()
    with data.open(encoding="utf-8") as lines:
        for line in lines:
            match = _SUBJECT.match(line)
            if match:
                found.add(match[1])
    return sorted(found)


def health_requests() -> list[Request]:
    """``GET /health``, the cheapest answer of our server."""
    return [Request("GET", "/health", {"Accept": "application/json"}, name="health")]


def deref_requests(locals_: list[str]) -> list[Request]:
    """``GET /id/{local}`` with ``Accept: text/turtle`` for each entity."""
    return [Request("GET", f"/id/{urllib.parse.quote(local)}", {"Accept": TURTLE}, name=local) for local in locals_]


def probe_specs(specs: list[CannedSpec]) -> list[dict[str, Any]]:
    """The canned queries for :mod:`bench.probe`: name, text, defaults and SEP-0007 substitutions."""
    out = []
    for spec in specs:
        substitutions = []
        for var, term in spec.bindings.items():
            if isinstance(term, URIRef):
                iri = {"var": var, "kind": "iri", "value": str(term), "datatype": None, "language": None}
                substitutions.append(iri)
            elif isinstance(term, Literal):
                datatype = str(term.datatype) if term.datatype and not term.language else None
                substitutions.append(
                    {"var": var, "kind": "literal", "value": str(term), "datatype": datatype, "language": term.language}
                )
        out.append(
            {
                "name": spec.query.name,
                "sparql": spec.query.sparql,
                "adhoc": spec.adhoc,
                "defaults": spec.defaults,
                "substitutions": substitutions,
            }
        )
    return out
