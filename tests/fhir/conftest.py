"""Fixtures of the FHIR tests: the run's build served by a real server (granian) on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import BUILT_SETTINGS
from tests.support.live_server import PRODUCTION, live_server


@pytest.fixture(scope="session")
def fhir_base(built_nt: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The ``/fhir`` base URL of a server serving the built graph."""
    with live_server(tmp_path_factory.mktemp("fhir-server"), [built_nt], BUILT_SETTINGS, *PRODUCTION) as server:
        yield f"{server.url}/fhir"
