"""Starting the endpoint as a real server in a subprocess, on a free loopback port, for the tests."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.store_server import engine_settings, engine_under_test

DATA = Path(__file__).resolve().parents[1] / "server" / "data"
SAMPLE_TTL = DATA / "calcinosis-sample.ttl"
SOURCES_TRIG = DATA / "sources.trig"
STARTUP_SECONDS = 60
PRODUCTION = ("--production", "--workers", "1")
"""How the shared test servers run: as ``make serve`` does (granian), with one worker process (whose threads and
``KG_QUERY_WORKERS`` query workers the tests exercise); the embedded server is tested with no arguments."""


@dataclass(frozen=True)
class LiveServer:
    """A running endpoint: its base URL, its process and the file its stderr goes to."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def sparql(self) -> str:
        return f"{self.url}/sparql"

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_command(port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "calcinosis_kg.server", "--host", "127.0.0.1", "--port", str(port), *extra]


def server_env(data: Sequence[Path], settings: Mapping[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("KG_")}
    env["KG_DATA"] = os.pathsep.join(str(path) for path in data)
    env.update(settings)
    return env


def refused_start(
    port: int, data: Sequence[Path], settings: Mapping[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    """Run a server that must refuse to start (bad settings, a port in use) to its exit, output captured."""
    return subprocess.run(
        server_command(port, *extra),
        env=server_env(data, settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@contextmanager
def live_server(
    log_dir: Path, data: Sequence[Path], settings: Mapping[str, str] | None = None, *extra_args: str
) -> Iterator[LiveServer]:
    """Start ``python -m calcinosis_kg.server`` serving ``data``, wait for /health, stop it afterwards.

    With ``KG_TEST_ENGINE=sparql`` (and no engine in ``settings``) ``data`` are loaded into an Oxigraph server
    (Virtuoso with ``KG_TEST_STORE=virtuoso``) and the endpoint runs on ``KG_ENGINE=sparql`` against it
    (:mod:`tests.support.store_server`).
    """
    if engine_under_test() == "sparql" and "KG_ENGINE" not in (settings or {}):
        limit = (settings or {}).get("KG_QUERY_TIMEOUT")
        store_timeout = None if limit is None else math.ceil(float(limit))  # the store stops when we stop waiting
        with (
            engine_settings(log_dir, data, free_port(), free_port, store_timeout) as engine,
            live_server(log_dir, data, {**(settings or {}), **engine}, *extra_args) as live,
        ):
            yield live
        return
    port = free_port()
    with running(
        server_command(port, *extra_args), port, log_dir / f"server-{port}.log", env=server_env(data, settings or {})
    ) as server:
        yield server


@contextmanager
def running(
    command: Sequence[str | Path],
    port: int,
    log: Path,
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    startup_seconds: float = STARTUP_SECONDS,
) -> Iterator[LiveServer]:
    """``command`` (a server on ``port``) started with its output in ``log``, yielded once ``/health`` answers
    200; terminated (killed after 15 s) on exit."""
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        _wait_until_healthy(server, startup_seconds)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(server: LiveServer, startup_seconds: float = STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + startup_seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited with {server.process.returncode}:\n{server.log_text()}")
        try:
            if requests.get(f"{server.url}/health", timeout=1).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer /health within {startup_seconds:g} s:\n{server.log_text()}")
