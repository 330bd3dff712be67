"""Fixtures of the FHIR tests: the built graph served by a real server (granian) on a loopback port."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE))  # tx_runner.py
sys.path.append(str(HERE.parent / "server"))  # live_server.py, shared with the endpoint's tests

BUILT = HERE.parents[1] / "build" / "calcinosis-kg.nt"
SERVER_SETTINGS = {"KG_QUERY_TIMEOUT": "20", "KG_QUERY_WORKERS": "2"}


@pytest.fixture(scope="session")
def fhir_graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``build/calcinosis-kg.nt`` when `make build` has run, else a fresh build without the reasoner."""
    if BUILT.is_file():
        return BUILT
    out = tmp_path_factory.mktemp("build")
    command = Path(sys.executable).with_name("calcinosis-kg")
    done = subprocess.run(
        [str(command), "build", "--out", str(out), "--no-reasoner"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return out / "calcinosis-kg.nt"


@pytest.fixture(scope="session")
def fhir_base(fhir_graph: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The ``/fhir`` base URL of a server serving the graph."""
    from live_server import PRODUCTION, live_server

    with live_server(tmp_path_factory.mktemp("fhir-server"), [fhir_graph], SERVER_SETTINGS, *PRODUCTION) as server:
        yield f"{server.url}/fhir"
