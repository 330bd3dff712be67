"""A real SPARQL store on free loopback ports, as the remote store of ``KG_ENGINE=sparql``: Oxigraph's server
(PyPI ``oxigraph``), or with ``KG_TEST_STORE=virtuoso`` Virtuoso (Debian's ``virtuoso-opensource``).

``KG_TEST_ENGINE=sparql`` makes :func:`live_server.live_server` load each test server's data into such a store
and start the server on the ``sparql`` engine against it, so that any test module runs on that engine unchanged
(``make test-sparql``, ``make test-virtuoso``).

Virtuoso runs as a throw-away instance: its own ``virtuoso.ini`` (loopback ports, small buffers) and database in
the test's folder, copied from an empty database made once per test process (making one takes some 15 s).
Its default graph is the union of all its graphs, its own system graphs included, so the data are loaded
graph by graph (the default graph into :data:`VIRTUOSO_DEFAULT_GRAPH`, which the server is told with
``KG_STORE_DEFAULT_GRAPH``) and only those graphs are readable by the anonymous SPARQL user.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager as ContextManager
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
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


def store_under_test() -> str:
    """``KG_TEST_STORE``: the store behind the ``sparql`` engine (``oxigraph``, the default, or ``virtuoso``)."""
    return os.environ.get("KG_TEST_STORE", "oxigraph").strip().lower() or "oxigraph"


def on_virtuoso() -> bool:
    """The ``sparql`` engine's store is Virtuoso (for the expected failures of its differences)."""
    return engine_under_test() == "sparql" and store_under_test() == "virtuoso"


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
    union_default_graph: bool = False
    """``--union-default-graph``: the default graph is the union of the store's graphs."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/query"

    @property
    def settings(self) -> dict[str, str]:
        """The server settings this store needs beside ``KG_STORE_URL``."""
        return {}

    def command(self) -> list[str]:
        command = [str(oxigraph_binary()), "serve", "-l", str(self.location), "-b", f"127.0.0.1:{self.port}"]
        command += ["--union-default-graph"] if self.union_default_graph else []
        return command if self.timeout_s is None else [*command, "--timeout-s", str(self.timeout_s)]

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command()[0]} exited:\n{self.log.read_text(errors='replace')}")
            try:
                if requests.post(self.url, data={"query": "ASK {}"}, timeout=1).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.command()[0]} did not answer within {STARTUP_SECONDS} s")

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
        """SIGSTOP: the store keeps its port (connections are accepted by the kernel) and answers nothing.

        Returns once every thread of the store is stopped. ``kill`` returns as soon as the signal is queued; the
        other threads are stopped only when the thread that takes it next runs, so on a loaded machine a thread
        of the store woken by a request could still answer it (a CI run got a 200 where a 504 was due).
        """
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        tasks = Path(f"/proc/{self.process.pid}/task")
        deadline = time.monotonic() + STARTUP_SECONDS
        while not all(_stopped(task) for task in tasks.iterdir()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.command()[0]} was not stopped within {STARTUP_SECONDS} s")
            time.sleep(0.01)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


def _stopped(task: Path) -> bool:
    """The thread ``/proc/PID/task/TID`` is stopped (state ``T``), or gone."""
    try:
        stat = (task / "stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] in "Tt"


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
    folder: Path, data: Sequence[Path], port: int, timeout_s: int | None = None, *, union_default_graph: bool = False
) -> Iterator[StoreServer]:
    """A store holding ``data``, served on ``port`` for the duration of the block (with ``union_default_graph``,
    its default graph the union of its graphs)."""
    location = folder / f"store-{port}"
    load_store(location, data)
    log = folder / f"oxigraph-{port}.log"
    store = StoreServer(location, port, log, timeout_s=timeout_s, union_default_graph=union_default_graph)
    store.start()
    try:
        yield store
    finally:
        store.stop()


VIRTUOSO_DEFAULT_GRAPH = "urn:x-calcinosis-kg:default-graph"
"""The Virtuoso graph holding the test data's default graph."""

VIRTUOSO_INI = """[Database]
DatabaseFile = {folder}/virtuoso.db
ErrorLogFile = {folder}/virtuoso.log
LockFile = {folder}/virtuoso.lck
TransactionFile = {folder}/virtuoso.trx
xa_persistent_file = {folder}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
Striping = 0
TempStorage = TempDatabase
[TempDatabase]
DatabaseFile = {folder}/virtuoso-temp.db
TransactionFile = {folder}/virtuoso-temp.trx
Striping = 0
[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
MaxClientConnections = 8
CheckpointInterval = 0
CaseMode = 2
DirsAllowed = ., {folder}
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
MaxQueryMem = 200M
ThreadsPerQuery = 2
[HTTPServer]
ServerPort = 127.0.0.1:{port}
ServerRoot = {folder}
MaxClientConnections = 8
ServerThreads = 8
MaxKeepAlives = 8
KeepAliveTimeout = 10
Charset = UTF-8
EnabledGzipContent = 0
[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 60
"""
"""A small instance: 10,000 buffers (some 80 MB), results not cut at Virtuoso's default 10,000 rows."""


def virtuoso_binary() -> Path | None:
    """Debian's ``virtuoso-t`` (package ``virtuoso-opensource``), if installed."""
    found = shutil.which("virtuoso-t")
    return Path(found) if found else None


@dataclass
class VirtuosoServer(StoreServer):
    """A running ``virtuoso-t`` over the database in ``location``: ``port`` is HTTP, ``sql_port`` isql's."""

    sql_port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sparql"

    @property
    def settings(self) -> dict[str, str]:
        return {"KG_STORE_DEFAULT_GRAPH": VIRTUOSO_DEFAULT_GRAPH, "KG_STORE_TIMEOUT_PARAM": "timeout"}

    def command(self) -> list[str]:
        binary = virtuoso_binary()
        assert binary is not None, "virtuoso-t is not installed (apt-get install virtuoso-opensource)"
        ini = self.location / "virtuoso.ini"
        ini.write_text(VIRTUOSO_INI.format(folder=self.location, port=self.port, sql_port=self.sql_port))
        return [str(binary), "-c", str(ini), "+foreground"]

    def start(self) -> None:
        """Start, and wait for the SQL port too (it opens after the HTTP one)."""
        super().start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.sql_port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"virtuoso-t opened no SQL port within {STARTUP_SECONDS} s") from None
                time.sleep(0.1)

    def sql(self, statements: str) -> None:
        """Run ``statements`` as the database administrator with ``isql-vt``."""
        done = subprocess.run(
            ["isql-vt", f"127.0.0.1:{self.sql_port}", "dba", "dba", f"exec={statements}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0 or "*** Error" in done.stdout + done.stderr:
            raise RuntimeError(f"isql-vt failed on {statements[:200]}:\n{done.stdout}\n{done.stderr}")


_virtuoso_template: list[Path] = []


def _empty_virtuoso_database(free_port: Callable[[], int]) -> Path:
    """An empty Virtuoso database file, made once per process and copied for each instance."""
    if not _virtuoso_template:
        folder = Path(tempfile.mkdtemp(prefix="virtuoso-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        server = VirtuosoServer(folder, free_port(), folder / "virtuoso-out.log", sql_port=free_port())
        server.start()
        server.sql("checkpoint;")
        server.stop()
        _virtuoso_template.append(folder / "virtuoso.db")
    return _virtuoso_template[0]


def load_virtuoso(server: VirtuosoServer, data: Sequence[Path]) -> None:
    """Load ``data`` graph by graph (pyoxigraph reads them; ``DB.DBA.TTLP_MT`` loads each graph's N-Triples)."""
    graphs: dict[str, list[ox.Triple]] = {}
    for path in data:
        for quad in ox.parse(path=path, format=ox.RdfFormat.from_extension(path.suffix.lstrip("."))):
            name = quad.graph_name.value if isinstance(quad.graph_name, ox.NamedNode) else VIRTUOSO_DEFAULT_GRAPH
            graphs.setdefault(name, []).append(quad.triple)
    statements = ["DB.DBA.RDF_DEFAULT_USER_PERMS_SET('nobody', 0);"]
    for index, (name, triples) in enumerate(graphs.items()):
        file = server.location / f"graph-{index}.nt"
        file.write_bytes(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"")
        statements.append(f"DB.DBA.TTLP_MT(file_to_string_output('{file}'), '', '{name}', 0);")
        statements.append(f"DB.DBA.RDF_GRAPH_USER_PERMS_SET('{name}', 'nobody', 1);")
    server.sql(" ".join([*statements, "checkpoint;"]))


@contextmanager
def virtuoso_store(
    folder: Path, data: Sequence[Path], port: int, free_port: Callable[[], int]
) -> Iterator[StoreServer]:
    """A throw-away Virtuoso instance holding ``data``, its SPARQL endpoint on ``port``, for the block."""
    location = folder / f"virtuoso-{port}"
    location.mkdir()
    shutil.copy(_empty_virtuoso_database(free_port), location / "virtuoso.db")
    store = VirtuosoServer(location, port, folder / f"virtuoso-{port}.log", sql_port=free_port())
    store.start()
    try:
        load_virtuoso(store, data)
        yield store
    finally:
        store.stop()


def store_installed() -> bool:
    """The program of the store of ``KG_TEST_STORE`` is installed."""
    if store_under_test() == "virtuoso":
        return virtuoso_binary() is not None
    return oxigraph_binary().exists()


def store_for_tests(
    folder: Path, data: Sequence[Path], port: int, free_port: Callable[[], int], timeout_s: int | None = None
) -> ContextManager[StoreServer]:
    """The store of ``KG_TEST_STORE`` holding ``data``, served on ``port`` for the duration of the block
    (an Oxigraph store stops its own queries after ``timeout_s``)."""
    if store_under_test() == "virtuoso":
        return virtuoso_store(folder, data, port, free_port)
    return oxigraph_store(folder, data, port, timeout_s)


@contextmanager
def engine_settings(
    folder: Path, data: Sequence[Path], port: int, free_port: Callable[[], int], timeout_s: int | None = None
) -> Iterator[Mapping[str, str]]:
    """The settings that put an app or server on :func:`engine_under_test` for ``data``.

    None for ``oxigraph`` (the app loads ``data`` itself); for ``sparql`` ``data`` are loaded into the store of
    ``KG_TEST_STORE`` (:func:`store_for_tests`) on ``port`` for the duration of the block, and the settings name
    it as the remote store.
    """
    if engine_under_test() != "sparql":
        yield {}
        return
    with store_for_tests(folder, data, port, free_port, timeout_s) as store:
        yield {**store.settings, "KG_ENGINE": "sparql", "KG_STORE_URL": store.url}
