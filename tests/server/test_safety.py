"""No query makes the endpoint open a URL or read a file.

Two detectors prove it: a TCP listener on 127.0.0.1 that records every connection, and a FIFO whose
opening for reading is noticed (a non-blocking open for writing succeeds only while a reader has it open).
Control tests first show that rdflib on its own does connect and read for the same queries.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rdflib import Dataset, Graph

from tests.support.live_server import LiveServer
from tests.support.probes import Listener

pytestmark = [pytest.mark.engine, pytest.mark.live]

SETTLE_SECONDS = 0.3


class FifoProbe:
    """A FIFO that notices when anyone opens it for reading."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self.opened = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return self.path.as_uri()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as error:
                if error.errno != errno.ENXIO:  # ENXIO: nobody has it open for reading
                    raise
            else:
                self.opened.set()
                os.close(fd)
            time.sleep(0.002)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[FifoProbe]:
    probe = FifoProbe(tmp_path / "probe.ttl")
    yield probe
    probe.close()


# --- controls: what rdflib alone does -----------------------------------------------------------------------


def test_control_rdflib_follows_service(listener: Listener) -> None:
    with contextlib.suppress(Exception):
        list(Graph().query(f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}"))
    time.sleep(SETTLE_SECONDS)
    assert listener.connections > 0


def test_control_rdflib_loads_from_graphs(fifo: FifoProbe, listener: Listener) -> None:
    reader = threading.Thread(target=lambda: Dataset().query(f"ASK FROM <{fifo.url}> {{ ?s ?p ?o }}"), daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert fifo.opened.is_set()
    with contextlib.suppress(Exception):
        Dataset().query(f"ASK FROM <http://127.0.0.1:{listener.port}/data.ttl> {{ ?s ?p ?o }}")
    time.sleep(SETTLE_SECONDS)
    assert listener.connections > 0


# --- the endpoint -------------------------------------------------------------------------------------------

SERVICE_QUERIES = [
    "SELECT * WHERE { SERVICE <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE SILENT <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o OPTIONAL { SERVICE <{url}> { ?s ?q ?v } } }",
    "SELECT * WHERE { { ?s ?p ?o } UNION { SERVICE <{url}> { ?s ?p ?o } } }",
    "SELECT * WHERE { ?s ?p ?o MINUS { SERVICE <{url}> { ?s ?p ?o } } }",
    "SELECT * WHERE { ?s ?p ?o FILTER EXISTS { SERVICE <{url}> { ?s ?p ?o } } }",
    "SELECT * WHERE { ?s ?p ?o FILTER NOT EXISTS { SERVICE <{url}> { ?s ?p ?o } } }",
    "SELECT * WHERE { { SELECT ?s WHERE { SERVICE <{url}> { ?s ?p ?o } } } }",
    "SELECT * WHERE { VALUES ?service { <{url}> } SERVICE ?service { ?s ?p ?o } }",
    "SELECT * WHERE { GRAPH ?g { SERVICE <{url}> { ?s ?p ?o } } }",
    "ASK { SERVICE <{url}> { ?s ?p ?o } }",
    "CONSTRUCT { ?s ?p ?o } WHERE { SERVICE <{url}> { ?s ?p ?o } }",
    "DESCRIBE ?s WHERE { SERVICE <{url}> { ?s ?p ?o } }",
]


@pytest.mark.parametrize("template", SERVICE_QUERIES)
def test_service_is_refused_without_connecting(server: LiveServer, listener: Listener, template: str) -> None:
    query = template.replace("{url}", listener.url)
    response = requests.get(server.sparql, params={"query": query}, timeout=10)
    time.sleep(SETTLE_SECONDS)
    assert response.status_code == 403
    assert "SERVICE" in response.text
    assert listener.connections == 0


def test_from_a_local_file_is_refused(server: LiveServer) -> None:
    query = "SELECT * FROM <file:///etc/hostname> WHERE { ?s ?p ?o }"
    response = requests.get(server.sparql, params={"query": query}, timeout=10)
    assert response.status_code == 400
    assert "file:///etc/hostname" in response.text
    assert "never loads graphs" in response.text
    hostname = Path("/etc/hostname")
    if hostname.is_file() and hostname.read_text().strip():
        assert hostname.read_text().strip() not in response.text


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("SELECT * FROM <{file}> WHERE { ?s ?p ?o }", {}),
        ("SELECT * FROM NAMED <{file}> WHERE { GRAPH ?g { ?s ?p ?o } }", {}),
        ("SELECT * FROM <{http}> WHERE { ?s ?p ?o }", {}),
        ("CONSTRUCT { ?s ?p ?o } FROM <{file}> WHERE { ?s ?p ?o }", {}),
        ("DESCRIBE <x> FROM <{http}>", {}),
        ("ASK { ?s ?p ?o }", {"default-graph-uri": "{file}"}),
        ("ASK { GRAPH ?g { ?s ?p ?o } }", {"named-graph-uri": "{http}"}),
        ("BASE <{directory}> SELECT * FROM <probe.ttl> WHERE { ?s ?p ?o }", {}),
    ],
)
def test_graphs_outside_the_dataset_are_refused_without_reading(
    server: LiveServer, listener: Listener, fifo: FifoProbe, query: str, params: dict[str, str]
) -> None:
    def fill(text: str) -> str:
        http = f"http://127.0.0.1:{listener.port}/data.ttl"
        directory = fifo.path.parent.as_uri() + "/"
        return text.replace("{file}", fifo.url).replace("{http}", http).replace("{directory}", directory)

    request_params = {"query": fill(query), **{key: fill(value) for key, value in params.items()}}
    response = requests.get(server.sparql, params=request_params, timeout=10)
    time.sleep(SETTLE_SECONDS)
    assert response.status_code == 400
    assert "does not hold" in response.text
    assert not fifo.opened.is_set()
    assert listener.connections == 0


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * WHERE { GRAPH <{file}> { ?s ?p ?o } }",
        "DESCRIBE <{file}>",
        "SELECT * WHERE { BIND(IRI('{file}') AS ?g) GRAPH ?g { ?s ?p ?o } }",
    ],
)
def test_naming_a_file_elsewhere_reads_nothing(server: LiveServer, fifo: FifoProbe, query: str) -> None:
    response = requests.get(server.sparql, params={"query": query.replace("{file}", fifo.url)}, timeout=10)
    time.sleep(SETTLE_SECONDS)
    assert response.status_code == 200
    assert not fifo.opened.is_set()


@pytest.mark.parametrize(
    "request_args",
    [
        {"params": {"query": "LOAD <{file}>"}},
        {"params": {"update": "LOAD <{file}>"}},
        {"data": {"update": "LOAD <{file}> INTO GRAPH <http://example.org/g>"}},
    ],
)
def test_load_is_refused_without_reading(
    server: LiveServer, fifo: FifoProbe, request_args: dict[str, dict[str, str]]
) -> None:
    arguments = {
        key: {name: value.replace("{file}", fifo.url) for name, value in fields.items()}
        for key, fields in request_args.items()
    }
    method = "POST" if "data" in arguments else "GET"
    response = requests.request(method, server.sparql, timeout=10, **arguments)  # type: ignore[arg-type]
    time.sleep(SETTLE_SECONDS)
    assert response.status_code == 403
    assert not fifo.opened.is_set()


SANDBOX_SCRIPT = """
import socket, subprocess, sys, urllib.request
from calcinosis_kg.server.workers.sandbox import SandboxViolation, forbid_io
forbid_io()
import json.tool  # importing code stays allowed
attempts = {
    "file": lambda: open(sys.argv[1]).read(),
    "socket": lambda: socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=2),
    "url": lambda: urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[2]}/", timeout=2),
    "process": lambda: subprocess.run(["true"], check=False),
}
for name, attempt in attempts.items():
    try:
        attempt()
    except SandboxViolation:
        print(name, "blocked")
    else:
        print(name, "allowed")
"""


def test_sandbox_blocks_files_network_and_processes(tmp_path: Path, listener: Listener) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    completed = subprocess.run(
        [sys.executable, "-c", SANDBOX_SCRIPT, str(secret), str(listener.port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    outcomes = completed.stdout.split("\n")[:4]
    assert outcomes == ["file blocked", "socket blocked", "url blocked", "process blocked"]
    time.sleep(SETTLE_SECONDS)
    assert listener.connections == 0
