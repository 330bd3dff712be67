"""What every route shares: CORS, the access log, /health, plain-text errors.

Through the app (the Flask test client) but for what a real server shows: its access log, its /health, the
Host header it is sent.
"""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from flask.testing import FlaskClient

from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.engine, pytest.mark.live]


def test_health(server: LiveServer, client: FlaskClient) -> None:
    response = requests.get(f"{server.url}/health", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    health = response.json()
    store = health.pop("store", None)  # only on KG_ENGINE=sparql: the remote store's state
    assert store is None or store["state"] == "up"
    assert health == {"status": "ok", "triples": 48 + 4, "metrics": "ok"}
    in_process = client.get("/health").get_json()
    assert (in_process.pop("store", None) is None) == (store is None)
    assert in_process == health


def test_cors_on_answers_and_errors(client: FlaskClient) -> None:
    headers = {"Origin": "https://app.example.org"}
    for params in ({"query": "ASK {}"}, {"query": "ASK {"}):
        response = client.get("/sparql", query_string=params, headers=headers)
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in response.headers


def test_cors_preflight(client: FlaskClient) -> None:
    response = client.options(
        "/sparql",
        headers={
            "Origin": "https://app.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-requested-with",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"] == "content-type, x-requested-with"
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_unknown_path_is_a_plain_404(client: FlaskClient) -> None:
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "Traceback" not in response.text


def test_every_request_is_logged_on_one_line(server: LiveServer) -> None:
    path = f"/logged-{uuid.uuid4().hex}"
    requests.get(f"{server.url}{path}", timeout=10)
    requests.post(server.sparql, data={"query": "ASK {}"}, timeout=10)
    log = server.log_text()
    assert re.search(rf"127\.0\.0\.1 GET {path} 404 \d+\.\dms$", log, re.MULTILINE)
    assert re.search(r"127\.0\.0\.1 POST /sparql 200 \d+\.\dms$", log, re.MULTILINE)
    assert f"GET {path} HTTP/1.1" not in log, "werkzeug's own access log line is also printed"


def test_every_response_says_nosniff(client: FlaskClient) -> None:
    for path, params in (("/sparql", {"query": "ASK {}"}), ("/sparql", {"query": "ASK {"}), ("/health", {})):
        response = client.get(path, query_string=params)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path


def test_redirects_do_not_repeat_the_host_header(server: LiveServer) -> None:
    """``GET /id//acne`` with a forged Host: the slash redirect names the path only, never the client's host."""
    response = requests.get(
        f"{server.url}/id//acne", headers={"Host": "evil.example"}, allow_redirects=False, timeout=10
    )
    assert response.status_code == 308
    assert response.headers["Location"] == "/id/acne"


def test_odd_input_is_a_clear_400(client: FlaskClient) -> None:
    for params, message in (
        ({"query": 'SELECT * WHERE { ?s ?p "\\uD800" }'}, "names no Unicode character"),
        ({"query": "ASK {}", "default-graph-uri": "a b"}, "default-graph-uri must be an absolute IRI"),
    ):
        response = client.get("/sparql", query_string=params)
        assert response.status_code == 400, response.text
        assert message in response.text
