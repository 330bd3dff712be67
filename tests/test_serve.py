"""The README's first command: `make serve` builds the graph and serves it; HOST and PORT are honoured.

It runs as on a newcomer's machine without Java: the build skips HermiT with a one-line note (``make validate``,
``make test`` and CI run it), and before the server's own log ``make serve`` prints one line per step, nothing else.
"""

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
from rdflib import Graph

from tests.support.environment import path_without

pytestmark = pytest.mark.live

REPO = Path(__file__).resolve().parent.parent
QUERY = """PREFIX cc: <https://w3id.org/calcinosis-kg/id/>
PREFIX cco: <https://w3id.org/calcinosis-kg/ontology/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?label WHERE { cc:calcinosis-cutis cco:hasSubtype/skos:prefLabel ?label }"""
STEP_LINES = ("install: ", "build: ", "passed: ", "skipped: ", "wrote ", "built ", "static: ", "wheel: ", "serve: ")
"""How each line ``make serve`` prints before it serves begins: the steps, and the build's own progress."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def make_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``make serve`` on a PATH without Java: its URL and its build folder (with its output, make-serve.log)."""
    port = _free_port()
    build_dir = tmp_path_factory.mktemp("build")
    log = build_dir / "make-serve.log"
    no_java = path_without("java", tmp_path_factory.mktemp("path"))
    # as typed at a prompt: not a sub-make of `make test` (whose MAKEFLAGS/MAKELEVEL print "Entering directory")
    inherited = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    env = {**inherited, "KG_BUILD_DIR": str(build_dir), "PATH": no_java}
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
        yield url, build_dir
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


def test_make_serve_answers_a_sparql_select(make_serve: tuple[str, Path]) -> None:
    response = requests.get(
        f"{make_serve[0]}/sparql",
        params={"query": QUERY},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )
    assert response.status_code == 200
    labels = {b["label"]["value"] for b in response.json()["results"]["bindings"]}
    built = Graph().parse(make_serve[1] / "calcinosis-kg.nt", format="nt")
    assert labels == {str(row[0]) for row in built.query(QUERY)}  # type: ignore[index]
    assert "dystrophic calcinosis cutis" in labels


def test_make_serve_reports_the_built_graph(make_serve: tuple[str, Path]) -> None:
    health = requests.get(f"{make_serve[0]}/health", timeout=10).json()
    assert health["status"] == "ok"
    assert health["triples"] > 5000


def test_make_serve_without_java_says_in_one_line_it_skipped_the_reasoner(make_serve: tuple[str, Path]) -> None:
    lines = (make_serve[1] / "make-serve.log").read_text().splitlines()
    skipped = [line for line in lines if line.startswith("skipped: ")]
    assert len(skipped) == 1, lines
    assert all(word in skipped[0] for word in ("HermiT", "Java", "make validate"))
    assert not any(line.startswith("passed: OWL consistency") for line in lines)


def test_make_serve_prints_one_line_per_step_and_nothing_else(make_serve: tuple[str, Path]) -> None:
    lines = (make_serve[1] / "make-serve.log").read_text().splitlines()
    serving = next(i for i, line in enumerate(lines) if line.startswith("serve: "))
    assert [line for line in lines[:serving] if not line.startswith(STEP_LINES)] == []
    assert [line for line in lines[:serving] if "warning" in line.lower()] == []
    # and the server warns of nothing at start (granian's "allows spawning up to N Python threads" was deliberate)
    assert [line for line in lines[serving:] if " WARNING " in line] == []
