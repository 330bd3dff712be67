"""Fixtures of the API tests: the built graph, served by a real server on a loopback port.

The graph is built once per session with ``calcinosis-kg build --out DIR --no-reasoner`` into a temporary
directory, and the server (``python -m calcinosis_kg.server``, started by ``tests/server/live_server.py``)
serves its ``calcinosis-kg.nt``. Reference answers are computed in-process by rdflib on the same file.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import Api
from rdflib import Graph

from calcinosis_kg.queries.catalog import CannedQuery, load_catalog

SERVER_TESTS = Path(__file__).resolve().parents[1] / "server"
sys.path.append(str(SERVER_TESTS))  # live_server.py, shared with the endpoint's tests

SERVER_SETTINGS = {"KG_QUERY_TIMEOUT": "20", "KG_QUERY_WORKERS": "2"}


@pytest.fixture(scope="session")
def built_graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``calcinosis-kg.nt`` of a fresh build (without the reasoner, which the API does not need)."""
    out = tmp_path_factory.mktemp("build")
    command = Path(sys.executable).with_name("calcinosis-kg")
    done = subprocess.run(
        [str(command), "build", "--out", str(out), "--no-reasoner"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return out / "calcinosis-kg.nt"


@pytest.fixture(scope="session")
def graph(built_graph: Path) -> Graph:
    """The built graph parsed by rdflib alone: the reference answers are computed on it."""
    return Graph().parse(built_graph)


@pytest.fixture(scope="session")
def catalog() -> dict[str, CannedQuery]:
    return load_catalog()


@pytest.fixture(scope="session")
def api(built_graph: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The server serving the built graph on a free loopback port (2 query workers, 20 s time limit)."""
    from live_server import PRODUCTION, live_server  # tests/server is put on sys.path above

    with live_server(tmp_path_factory.mktemp("api-server"), [built_graph], SERVER_SETTINGS, *PRODUCTION) as server:
        api = Api(server.url)
        yield api
        api.session.close()
