"""The SPARQL fast path before Flask (``QueryFastPath`` in server/sparql/endpoint.py) takes POST as it takes GET.

Each request of a table (valid and refused, GET and both POSTs) is sent twice to the same app: through the
whole WSGI stack, where the fast path answers it, and to the Flask app alone behind the same client identity
(the blueprint and Flask's hooks, what answered every POST before): status, headers and body must be the same.
A counting ``before_request`` hook shows which requests entered Flask. The response replay keys a POST by its
body and its content type.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, request
from werkzeug.datastructures import MultiDict
from werkzeug.test import Client, TestResponse

from calcinosis_kg.server.http.clients import CLIENTS_EXTENSION, ClientIdentity
from calcinosis_kg.server.http.guard import install_guard
from calcinosis_kg.server.http.replay import ANSWER_HEADER, install_replay
from calcinosis_kg.server.sparql.endpoint import QueryFastPath
from tests.server.test_protocol import REFUSALS
from tests.support import MAX_BODY, AppFactory

pytestmark = [pytest.mark.engine]

FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"
JSON = "application/sparql-results+json"
LABELS = "SELECT ?label WHERE { cc:dystrophic-calcinosis-cutis rdfs:label ?label } ORDER BY ?label"
GRAPH = "CONSTRUCT { cc:calcinosis-cutis ?p ?o } WHERE { cc:calcinosis-cutis ?p ?o }"
MAPPINGS = "https://example.org/graph/mappings"


def form(fields: dict[str, str] | list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    return {"method": "POST", "data": MultiDict(fields), **extra}


def direct(query: str, content_type: str = DIRECT, accept: str | None = None, **extra: Any) -> dict[str, Any]:
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {}), **extra.pop("headers", {})}
    return {"method": "POST", "data": query.encode(), "headers": headers, **extra}


ANSWERS: list[tuple[str, dict[str, Any]]] = [
    ("GET", {"query_string": {"query": LABELS}, "headers": {"Accept": JSON}}),
    ("GET with a trailing slash", {"path": "/sparql/", "query_string": {"query": LABELS}}),
    ("form", form({"query": LABELS}, headers={"Accept": JSON})),
    ("form at /sparql/", form({"query": LABELS}, path="/sparql/")),
    ("form with format", form({"query": LABELS, "format": "csv"})),
    ("form with format in the URL", form({"query": LABELS}, query_string={"format": "tsv"})),
    ("form with a dataset", form([("query", "SELECT * { ?s ?p ?o } LIMIT 3"), ("default-graph-uri", MAPPINGS)])),
    ("form, charset utf-8", form({"query": LABELS}, content_type=f"{FORM}; charset=UTF-8")),
    ("form, raw UTF-8", {"method": "POST", "data": "query=ASK { ?s ?p 'é' }".encode(), "content_type": FORM}),
    ("form, CONSTRUCT as Turtle", form({"query": GRAPH}, headers={"Accept": "text/turtle"})),
    ("direct", direct(LABELS)),
    ("direct with a dataset in the URL", direct(LABELS, query_string={"named-graph-uri": MAPPINGS})),
    ("direct, charset utf8", direct(LABELS, f"{DIRECT};charset=utf8")),
    ("direct, CONSTRUCT as N-Triples", direct(GRAPH, accept="application/n-triples")),
    ("direct with If-None-Match (no 304 for a POST)", direct(LABELS, headers={"If-None-Match": "*"})),
    ("direct, not acceptable", direct(LABELS, accept="image/png")),
    ("form with a runaway limit", form({"query": "SELECT * { ?a ?b ?c . ?d ?e ?f }"})),
    ("form, 1001 fields", {"method": "POST", "data": "&".join(["a=b"] * 1001), "content_type": FORM}),
    ("form, invalid escape", {"method": "POST", "data": "query=ASK%zz%7B%7D", "content_type": FORM}),
    ("form with update", form({"update": "CLEAR ALL", "query": "ASK {}"})),
    ("form with the dataset in the URL", form({"query": LABELS}, query_string={"default-graph-uri": "nope"})),
    ("direct with update in the URL", direct("ASK {}", query_string={"update": "CLEAR ALL"})),
    ("direct, body too large", direct("#" * (MAX_BODY + 1))),
]
"""Requests (werkzeug ``Client.open`` arguments) beyond test_protocol.py's refusals, the path ``/sparql`` unless
given: answers and refusals by POST, and GETs the fast path took before."""


def _cases() -> list[Any]:
    cases = [pytest.param(arguments, id=name) for name, arguments in ANSWERS]
    for name, arguments, _, _ in REFUSALS:
        translated = dict(arguments)
        if "params" in translated:
            translated["query_string"] = translated.pop("params")
        cases.append(pytest.param(translated, id=f"refusal: {name}"))
    return cases


def _without_date(response: TestResponse) -> list[tuple[str, str]]:
    """The headers but ``Date`` and where the answer came from (the second request is a cache hit)."""
    return sorted((name, value) for name, value in response.headers.items() if name not in ("Date", ANSWER_HEADER))


@pytest.mark.parametrize("arguments", _cases())
def test_the_fast_path_answers_as_flask_does(app: Flask, arguments: dict[str, Any]) -> None:
    fast_path = app.wsgi_app.app  # type: ignore[attr-defined]  # ClientIdentity(QueryFastPath(Flask))
    assert isinstance(fast_path, QueryFastPath)
    flask_alone = Client(ClientIdentity(fast_path.app, app.extensions[CLIENTS_EXTENSION]))
    everything = Client(app.wsgi_app)
    arguments = {"path": "/sparql", **arguments}
    by_flask = flask_alone.open(**arguments)
    taken = fast_path.answered
    by_fast_path = everything.open(**arguments)
    method, query_string = arguments.get("method", "GET"), arguments.get("query_string") or {}
    url_names = {name for name, _ in (query_string.items() if isinstance(query_string, dict) else query_string)}
    if method == "POST" or (method == "GET" and "query" in url_names):
        assert fast_path.answered == taken + 1, "the fast path declined it"
    assert by_fast_path.status_code == by_flask.status_code, by_fast_path.text
    assert _without_date(by_fast_path) == _without_date(by_flask)
    assert by_fast_path.data == by_flask.data
    assert "Traceback" not in by_fast_path.text


def test_posts_are_answered_without_entering_flask(app_factory: AppFactory) -> None:
    """Before the fast path took POST, each of these went through Flask's whole request cycle."""
    app = app_factory()
    entered: list[str] = []
    app.before_request(lambda: entered.append(request.method))
    client = app.test_client()
    answers = [
        client.post("/sparql", data={"query": LABELS}, headers={"Accept": JSON}),
        client.post("/sparql/", data=LABELS.encode(), headers={"Content-Type": DIRECT, "Accept": JSON}),
        client.post("/sparql", data=b"ASK {}", headers={"Content-Type": "text/plain"}),
        client.post("/sparql", data={"update": "CLEAR ALL"}),
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 415, 403]
    assert entered == []
    assert client.get("/sparql").status_code == 200  # the service description: Flask's
    assert entered == ["GET"]


def test_a_repeated_post_is_replayed_keyed_by_its_body_and_content_type(app_factory: AppFactory) -> None:
    """Behind the guard (which reads the body into memory), the replay answers the same POST again."""
    app = app_factory()
    replay = install_replay(app, max_entries=100, max_bytes=10**7, trust_proxy=0)
    install_guard(app, max_body=MAX_BODY, body_timeout=10)
    assert replay is not None
    client = app.test_client()

    def post(body: bytes, content_type: str = DIRECT) -> TestResponse:
        return client.post("/sparql", data=body, headers={"Content-Type": content_type, "Accept": JSON})

    first = post(LABELS.encode())
    second = post(LABELS.encode())
    assert replay.replayed == 1
    assert (first.status_code, first.data) == (second.status_code, second.data) == (200, first.data)
    assert _without_date(first) == _without_date(second)
    assert "ETag" not in second.headers  # as Flask answers a POST
    other = post(LABELS.replace("ORDER BY ?label", "").encode())
    as_form = post(f"query={LABELS}".encode(), FORM)
    by_get = client.get("/sparql", query_string={"query": LABELS}, headers={"Accept": JSON})
    assert replay.replayed == 1
    assert other.status_code == as_form.status_code == by_get.status_code == 200
    assert post(f"query={LABELS}".encode(), FORM).data == as_form.data
    assert replay.replayed == 2
    refused = [post(b"ASK {", DIRECT) for _ in range(2)]
    assert [r.status_code for r in refused] == [400, 400]
    assert replay.replayed == 2
