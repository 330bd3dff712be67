"""A real Oxigraph server (PyPI ``oxigraph``) on a free loopback port, as the remote store of ``KG_ENGINE=sparql``.

``KG_TEST_ENGINE=sparql`` makes :func:`live_server.live_server` load each test server's data into such a store
and start the server on the ``sparql`` engine against it, so that any test module runs on that engine unchanged
(``make test-sparql``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

STARTUP_SECONDS = 30


def oxigraph_binary() -> Path:
    """The ``oxigraph`` command installed beside this Python (the ``oxigraph`` package of the dev extras)."""
    return Path(sys.executable).parent / "oxigraph"


def engine_under_test() -> str:
    """``KG_TEST_ENGINE``: the engine the live test servers run (``oxigraph``, the default, or ``sparql``)."""
    return os.environ.get("KG_TEST_ENGINE", "oxigraph").strip().lower() or "oxigraph"


def timeout_status() -> int:
    """The status of a query stopped at the time limit: 503 on the embedded engine, 504 on ``sparql`` (where
    our server is a gateway and the store is what did not answer in time; see ``server/errors.py``)."""
    return 504 if engine_under_test() == "sparql" else 503


@dataclass
class StoreServer:
    """A running ``oxigraph serve`` over a store directory; it can be stopped, frozen and started again."""

    location: Path
    port: int
    log: Path
    timeout_s: int | None = None
    """``--timeout-s``: the store stops its own queries after this many seconds (else a query our server
    gave up on at its time limit would keep a core busy on the store)."""
    process: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/query"

    def start(self) -> None:
        command = [str(oxigraph_binary()), "serve", "-l", str(self.location), "-b", f"127.0.0.1:{self.port}"]
        if self.timeout_s is not None:
            command += ["--timeout-s", str(self.timeout_s)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"oxigraph serve exited:\n{self.log.read_text(errors='replace')}")
            try:
                if requests.post(self.url, data={"query": "ASK {}"}, timeout=1).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"oxigraph serve did not answer within {STARTUP_SECONDS} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def freeze(self) -> None:
        """SIGSTOP: the store keeps its port (connections are accepted by the kernel) and answers nothing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


def load_store(location: Path, data: Sequence[Path]) -> None:
    """``oxigraph load`` each file into the store at ``location`` (N-Quads and TriG keep their named graphs)."""
    for path in data:
        subprocess.run(
            [str(oxigraph_binary()), "load", "-l", str(location), "-f", str(path)],
            check=True,
            capture_output=True,
        )


@contextmanager
def oxigraph_store(
    folder: Path, data: Sequence[Path], port: int, timeout_s: int | None = None
) -> Iterator[StoreServer]:
    """A store holding ``data``, served on ``port`` for the duration of the block."""
    location = folder / f"store-{port}"
    load_store(location, data)
    store = StoreServer(location=location, port=port, log=folder / f"oxigraph-{port}.log", timeout_s=timeout_s)
    store.start()
    try:
        yield store
    finally:
        store.stop()
