"""Starting, timing, measuring and stopping the servers under test, each in its own process group.

Servers (keys used by ``--only``):

- ``ours``: ``python -m calcinosis_kg.server --production`` (granian, one worker per core) with
  ``KG_ENGINE=oxigraph`` (its one engine: the data in an in-memory pyoxigraph store, loaded at start-up);
- ``oxigraph``: Oxigraph's own server, ``oxigraph serve-read-only`` on a store made by ``oxigraph load``;
- ``rdflib-endpoint``: ``rdflib-endpoint serve FILE`` (FastAPI on uvicorn, one process, rdflib's store).

Every server listens on a free loopback port chosen at run time and is started in a new session, so that
:meth:`Supervisor.stop` can end it with all its children (granian workers, query workers) by process
group: SIGTERM, then SIGKILL after a grace period. :class:`Supervisor` is a context manager that stops
every server still running when the run ends, by error or Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import psutil

from bench.http import Reply, send


class StartError(Exception):
    """A server exited or did not answer in time; the message ends with the tail of its log."""


@dataclass(frozen=True)
class ServerSpec:
    """How to run one server and where its endpoints are."""

    key: str
    label: str
    ours: bool
    sparql_path: str
    """Path of the SPARQL query endpoint (GET ``?query=``)."""
    health_path: str
    """The cheapest path that answers 2xx once the server is up (``/health`` for ours)."""
    argv: Callable[[int], list[str]] = field(repr=False)
    """Command line for a port."""
    env: dict[str, str] = field(default_factory=dict)
    """Variables added to the environment."""

    @classmethod
    def serving_our_api(
        cls, key: str, label: str, argv: Callable[[int], list[str]], env: dict[str, str] | None = None
    ) -> ServerSpec:
        """A server answering with our API (ours, or a proxy in front of it): ``/sparql``, ``/health``."""
        return cls(key, label, ours=True, sparql_path="/sparql", health_path="/health", argv=argv, env=env or {})

    @classmethod
    def peer(cls, key: str, label: str, sparql_path: str, argv: Callable[[int], list[str]]) -> ServerSpec:
        """Another SPARQL server, measured next to ours: its endpoint at ``sparql_path``, its root answers 2xx."""
        return cls(key, label, ours=False, sparql_path=sparql_path, health_path="/", argv=argv)


@dataclass
class Server:
    """A running server."""

    spec: ServerSpec
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    started: float
    """``time.perf_counter()`` just before the process was created."""

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the server's output."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class ColdStart:
    """Seconds from process creation to the first 2xx answer of the health path and of a query."""

    health_s: float
    query_s: float | None


@dataclass(frozen=True)
class Memory:
    """Memory of a server's process tree: RSS summed (shared pages counted in each process) and PSS."""

    rss_mb: float
    pss_mb: float | None
    processes: int


def executable(name: str) -> str | None:
    """Path of a program: next to this Python (the virtualenv's bin) first, then on PATH."""
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(name)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tool_version(argv: list[str]) -> str:
    """First line of a program's version output, or ``?``."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "?"


BENCH_CLIENT_CONCURRENCY = 1024
"""``KG_CLIENT_CONCURRENCY`` of our benchmarked servers: the load generator is one address standing for many
clients, so the per-client limit (429 past it) would measure wrk's distribution of connections, not the server."""


def ours_spec(data: Path, *, workers: int, production: bool = True) -> ServerSpec:
    """Our server on ``data`` with ``KG_ENGINE=oxigraph`` (granian with ``workers`` processes)."""

    def argv(port: int) -> list[str]:
        mode = ["--production", "--workers", str(workers)] if production else []
        return [sys.executable, "-m", "calcinosis_kg.server", "--host", "127.0.0.1", "--port", str(port), *mode]

    env = {"KG_DATA": str(data), "KG_ENGINE": "oxigraph", "KG_CLIENT_CONCURRENCY": str(BENCH_CLIENT_CONCURRENCY)}
    return ServerSpec.serving_our_api("ours", "ours (oxigraph engine)", argv, env=env)


def oxigraph_spec(program: str, store: Path) -> ServerSpec:
    """Oxigraph's read-only server on an already loaded store directory."""
    return ServerSpec.peer(
        "oxigraph",
        "Oxigraph server",
        "/query",
        lambda port: [program, "serve-read-only", "--location", str(store), "--bind", f"127.0.0.1:{port}"],
    )


def rdflib_endpoint_spec(program: str, data: Path) -> ServerSpec:
    """rdflib-endpoint serving ``data`` (its endpoint is ``/``; ``GET /`` is its service description)."""
    return ServerSpec.peer(
        "rdflib-endpoint",
        "rdflib-endpoint",
        "/",
        lambda port: [program, "serve", str(data), "--host", "127.0.0.1", "--port", str(port)],
    )


def load_oxigraph_store(program: str, data: Path, store: Path, timeout: float = 300) -> float:
    """``oxigraph load`` ``data`` into a new store directory; returns the seconds it took."""
    start = time.perf_counter()
    subprocess.run(  # noqa: S603
        [program, "load", "--location", str(store), "--file", str(data)],
        check=True,
        capture_output=True,
        timeout=timeout,
    )
    return time.perf_counter() - start


IDLE_CPU_SHARE = 0.05
"""A server is idle when its process tree used less than this share of one core over :data:`IDLE_WINDOW_S`."""
IDLE_WINDOW_S = 0.25
SETTLE_LIMIT_S = 30.0
"""Longest wait for a server to become idle before a run (:func:`settle`)."""


def settle(server: Server, limit_s: float = SETTLE_LIMIT_S) -> float:
    """Wait until ``server``'s process tree is idle (two windows in a row under :data:`IDLE_CPU_SHARE`), at most
    ``limit_s``; return the seconds waited.

    When wrk stops, the requests it had in flight are not finished: the server goes on evaluating them (and those
    queued behind them) after the client left. At 1M triples, where a query costs up to 2.5 s, that was seconds of
    work taken from the next run: from the measured run after a warm-up, and from the other server's run when two
    are measured in turns. Each run starts with the server idle, as after a start.
    """
    started = time.perf_counter()
    quiet = 0
    while quiet < 2 and time.perf_counter() - started < limit_s:
        before = _tree_cpu_s(server.process.pid)
        time.sleep(IDLE_WINDOW_S)
        used = _tree_cpu_s(server.process.pid) - before
        quiet = quiet + 1 if used < IDLE_CPU_SHARE * IDLE_WINDOW_S else 0
    return time.perf_counter() - started


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user and system) of a process and its living descendants (0 when it is gone)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def tree_memory(pid: int) -> Memory | None:
    """RSS and PSS of a process and all its descendants, or None when it is gone."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    rss = 0
    pss: int | None = 0
    for process in processes:
        try:
            info = process.memory_full_info()
        except psutil.AccessDenied:
            info = None
        except psutil.NoSuchProcess:
            continue
        if info is None:
            rss += process.memory_info().rss
            pss = None
            continue
        rss += info.rss
        if pss is not None:
            pss += getattr(info, "pss", 0)
    return Memory(rss / 2**20, None if pss is None else pss / 2**20, len(processes))


class Supervisor:
    """Starts servers in their own process groups and stops each of them, at the latest on exit."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._running: list[Server] = []
        self._count = 0

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop_all()

    def start(self, spec: ServerSpec) -> Server:
        """Start ``spec`` on a free port, output to a log file in the work directory; does not wait."""
        self._count += 1
        port = free_port()
        log = self._workdir / f"{self._count:02d}-{spec.key}.log"
        env = {**os.environ, **spec.env}
        with log.open("wb") as out:
            started = time.perf_counter()
            process = subprocess.Popen(  # noqa: S603
                spec.argv(port),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self._workdir,
                start_new_session=True,
            )
        server = Server(spec, port, process, log, started)
        self._running.append(server)
        return server

    def stop(self, server: Server, grace: float = 10.0) -> None:
        """SIGTERM to the server process, then SIGKILL to whatever is left of its process group.

        The leader alone gets SIGTERM (a server's main process then stops its workers in order); after it
        exited, or after ``grace`` seconds, the group gets SIGKILL, so no worker outlives the run.
        """
        if server in self._running:
            self._running.remove(server)
        pgid = server.process.pid  # the leader of its own session and group
        with contextlib.suppress(ProcessLookupError):
            server.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(timeout=grace)

    def stop_all(self) -> None:
        """Stop every server still running (in reverse order of start)."""
        for server in reversed(list(self._running)):
            self.stop(server)


def wait_for(
    server: Server,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    deadline_s: float = 60.0,
    interval: float = 0.005,
) -> float:
    """Poll ``path`` until a 2xx answer; return seconds since the process was created.

    Raises :class:`StartError` when the process exits, or when ``deadline_s`` passes (then with the last
    status seen).
    """
    last = "no answer"
    while True:
        elapsed = time.perf_counter() - server.started
        if server.process.poll() is not None:
            raise StartError(f"{server.spec.label} exited with {server.process.returncode}:\n{server.log_tail()}")
        if elapsed > deadline_s:
            raise StartError(f"{server.spec.label}: {last} on {path} after {deadline_s:g} s:\n{server.log_tail()}")
        try:
            reply: Reply = send(server.port, path, headers=headers, timeout=max(1.0, deadline_s - elapsed))
        except OSError as error:
            last = f"error {error}"
        else:
            if reply.ok:
                return time.perf_counter() - server.started
            last = f"status {reply.status}"
        time.sleep(interval)


def start_timed(
    supervisor: Supervisor,
    spec: ServerSpec,
    query_path: str,
    query_headers: dict[str, str],
    deadline_s: float = 60.0,
) -> tuple[Server, ColdStart]:
    """Start ``spec`` and time its first 2xx answer to the health path (within ``deadline_s``), then to
    ``query_path`` (within 30 s more)."""
    server = supervisor.start(spec)
    try:
        health = wait_for(server, spec.health_path, deadline_s=deadline_s)
        try:
            query: float | None = wait_for(server, query_path, headers=query_headers, deadline_s=health + 30)
        except StartError:
            query = None
    except BaseException:
        supervisor.stop(server)
        raise
    return server, ColdStart(health, query)
