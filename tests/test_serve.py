"""The README's first command: `make serve` builds the graph and serves it; HOST and PORT are honoured."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.live

REPO = Path(__file__).resolve().parent.parent
QUERY = """PREFIX cc: <https://w3id.org/calcinosis-kg/id/>
PREFIX cco: <https://w3id.org/calcinosis-kg/ontology/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?label WHERE { cc:calcinosis-cutis cco:hasSubtype/skos:prefLabel ?label }"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def make_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    build_dir = tmp_path_factory.mktemp("build")
    log = build_dir / "make-serve.log"
    env = {**os.environ, "KG_BUILD_DIR": str(build_dir)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "serve", "HOST=127.0.0.1", f"PORT={port}"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            pytest.fail(f"make serve did not come up:\n{log.read_text()}")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            # Stopping on SIGTERM is tested in tests/server/test_production.py; here make may still be waking up
            # on a loaded machine. The group is killed so that nothing outlives the test.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    assert (build_dir / "calcinosis-kg.nt").is_file()


def test_make_serve_answers_a_sparql_select(make_serve: str) -> None:
    response = requests.get(
        f"{make_serve}/sparql",
        params={"query": QUERY},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )
    assert response.status_code == 200
    labels = {b["label"]["value"] for b in response.json()["results"]["bindings"]}
    assert labels == {
        "dystrophic calcinosis cutis",
        "iatrogenic calcinosis cutis",
        "metastatic calcinosis cutis",
        "idiopathic calcinosis cutis",
    }


def test_make_serve_reports_the_built_graph(make_serve: str) -> None:
    health = requests.get(f"{make_serve}/health", timeout=10).json()
    assert health["status"] == "ok"
    assert health["triples"] > 5000
