"""The app in-process, as the ``app`` fixtures make it: ``create_app`` on data files, on the engine under test.

With ``KG_TEST_ENGINE=sparql`` the data are loaded into a real Oxigraph server and the app runs on the ``sparql``
engine against it, as :func:`tests.support.live_server.live_server` does for a server in a subprocess.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from calcinosis_kg.server import create_app
from calcinosis_kg.server.app import query_pool
from tests.support.live_server import free_port
from tests.support.store_server import engine_settings


@contextmanager
def app_serving(folder: Path, data: Sequence[Path], settings: Mapping[str, object] | None = None) -> Iterator[Flask]:
    """An app serving ``data`` with ``settings`` (``TESTING`` on), its query workers stopped after the block."""
    with engine_settings(folder, data, free_port(), free_port) as engine:
        app = create_app({"KG_DATA": list(data), "TESTING": True, **engine, **(settings or {})})
        try:
            yield app
        finally:
            query_pool(app).close()
