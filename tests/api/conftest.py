"""Fixtures of the API tests: the canned-query catalog, and the built graph served by a real server.

The graph is the run's one build (``build_dir`` of ``tests/conftest.py``); reference answers are computed
in-process by rdflib on the same file (``built_graph``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from calcinosis_kg.queries.catalog import CannedQuery, load_catalog
from tests.support import BUILT_SETTINGS
from tests.support.api import Api
from tests.support.live_server import PRODUCTION, live_server


@pytest.fixture(scope="session")
def catalog() -> dict[str, CannedQuery]:
    return load_catalog()


@pytest.fixture(scope="session")
def api(built_nt: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The server serving the built graph on a free loopback port (2 query workers, 20 s time limit)."""
    with live_server(tmp_path_factory.mktemp("api-server"), [built_nt], BUILT_SETTINGS, *PRODUCTION) as server:
        api = Api(server.url)
        yield api
        api.session.close()
