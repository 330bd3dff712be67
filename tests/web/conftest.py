"""Fixtures of the linked-data and UI tests: the run's build served over HTTP, and the hostile data (HTTP, in-process).

The server serves the build's ``calcinosis-kg.nt`` (``build_dir`` of ``tests/conftest.py``) exactly as
``make serve`` serves ``build/`` (the dumps are the build's files).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import BUILT_SETTINGS
from tests.support.apps import app_serving
from tests.support.web import HOSTILE_TTL, PRODUCTION, LiveServer, live_server


@pytest.fixture(scope="session")
def server(built_nt: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app serving the built graph on a loopback port."""
    with live_server(tmp_path_factory.mktemp("web-server"), [built_nt], BUILT_SETTINGS, *PRODUCTION) as live:
        yield live


@pytest.fixture(scope="session")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app serving a small graph whose labels and notes hold markup and script."""
    with live_server(tmp_path_factory.mktemp("hostile-server"), [HOSTILE_TTL], BUILT_SETTINGS) as live:
        yield live


@pytest.fixture(scope="session")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app in-process on the hostile graph."""
    with app_serving(tmp_path_factory.mktemp("hostile-app"), [HOSTILE_TTL], BUILT_SETTINGS) as app:
        yield app


@pytest.fixture
def hostile_client(hostile_app: Flask) -> FlaskClient:
    return hostile_app.test_client()
