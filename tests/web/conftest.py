"""Fixtures of the linked-data and UI tests: the graph built into a temporary folder, served over HTTP.

The build (``calcinosis-kg build --out DIR --no-reasoner``) runs once per session; the server serves its
``calcinosis-kg.nt`` exactly as ``make serve`` serves ``build/`` (the dumps are the build's files).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rdflib import Graph
from web_helpers import HOSTILE_TTL, PRODUCTION, LiveServer, live_server

SERVER_SETTINGS = {"KG_QUERY_WORKERS": "2", "KG_QUERY_TIMEOUT": "10"}
BUILD_SECONDS = 300


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh build of the graph (without the HermiT check, which needs Java)."""
    out = tmp_path_factory.mktemp("kg-build")
    env = {**os.environ, "KG_BUILD_DIR": str(out)}
    subprocess.run(
        [sys.executable, "-m", "calcinosis_kg.cli", "build", "--out", str(out), "--no-reasoner"],
        env=env,
        check=True,
        capture_output=True,
        timeout=BUILD_SECONDS,
    )
    return out


@pytest.fixture(scope="session")
def built_graph(build_dir: Path) -> Graph:
    """The built graph as rdflib parses it: the reference the served documents are checked against."""
    return Graph().parse(build_dir / "calcinosis-kg.nt", format="nt")


@pytest.fixture(scope="session")
def server(build_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app serving the built graph on a loopback port."""
    with live_server(
        tmp_path_factory.mktemp("web-server"), [build_dir / "calcinosis-kg.nt"], SERVER_SETTINGS, *PRODUCTION
    ) as live:
        yield live


@pytest.fixture(scope="session")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app serving a small graph whose labels and notes hold markup and script."""
    with live_server(tmp_path_factory.mktemp("hostile-server"), [HOSTILE_TTL], SERVER_SETTINGS) as live:
        yield live


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    """One HTTP session for the whole run (keeps connections open between requests)."""
    with requests.Session() as session:
        yield session
