"""The ``scale`` section of ``python -m bench`` (issue 28): our replica, Oxigraph's server and our ``sparql``
engine on synthetic graphs of several sizes.

For each size (``--scale``, default 10k, 100k and 1M triples), a graph shaped like ours is generated
(:func:`bench.synthetic.generate`) in a folder of its own, removed after the size is measured. Then:

- **ours**: its serving bundle is written once (``make_bundle_in_subprocess`` of
  :mod:`~calcinosis_kg.server.resources.bundle`, as ``KG_BUNDLE=make`` does on a first start: the *prepare*
  time), and one replica ``--production --workers 1`` (2 query workers by default, ``KG_BUNDLE`` naming that
  bundle) is started: process start to the first ``/health`` and to the first answer of :data:`FIRST_QUERY`;
  PSS of its process tree after a lookup, a page and a canned query (:data:`bench.startup.PROBES`); a second
  replica is started on the same bundle and probed the same way, and the PSS of both trees is summed; the first
  replica is kept for ``unique``;
- **oxigraph**: ``oxigraph load`` of the same file into a store (the prepare time), ``oxigraph serve-read-only`` on
  it: start to its first answer of the same query, RSS and PSS after a full count; then the ``unique`` workload by
  GET, POST form and POST query (wrk, :func:`bench.runner.measure`) on our replica and on it in ``--rounds``
  interleaved rounds, merged (:func:`unique_rounds`): the ratio of two runs minutes apart on a machine shared with
  other work measured the load of those minutes (at 1M triples a run is a few dozen requests of queries costing
  2 ms to 2.5 s);
- **sparql**: the graph published into ``oxigraph serve --union-default-graph`` (``calcinosis-kg publish``'s
  code, as the cluster section does: the prepare time), then replicas with ``KG_ENGINE=sparql`` in front of it,
  measured as ours (start, PSS of one and of two replicas, ``unique``), and the store's PSS.

Every server runs under a :class:`bench.servers.Supervisor` (stopped on every way out) on loopback, one at a time
except the second replica, the sparql rows' store, and our first replica kept (idle) beside Oxigraph's server; a
replica that does not answer within :data:`START_DEADLINE_S` is recorded as such and the size goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
import subprocess
import time
from pathlib import Path

from bench import cluster, wrk
from bench.http import send
from bench.model import Results, ScaleRow
from bench.runner import Options, log, measure
from bench.servers import (
    Server,
    ServerSpec,
    StartError,
    Supervisor,
    executable,
    load_oxigraph_store,
    ours_spec,
    oxigraph_spec,
    start_timed,
    tree_memory,
    wait_for,
)
from bench.startup import PROBES
from bench.synthetic import generate
from bench.workloads import RESULTS_JSON, UNIQUE_WORKLOADS, CannedSpec, adhoc_request
from calcinosis_kg.graph.publish import PublishError
from calcinosis_kg.server.resources.bundle import BundleError, make_bundle_in_subprocess

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
"""The sizes ``make bench`` measures; ``--scale 10k 100k 1M 10M`` adds ten million."""
QUICK_SIZES = (10_000, 100_000)
"""The sizes of ``--quick``."""
START_DEADLINE_S = 300.0
"""Seconds a server has to answer its health path after its process started."""
START_ATTEMPTS = 2
"""Starts of a server before its row says it did not start: on a machine shared with other sessions, the free port
chosen for it may be taken before it binds it."""
PREPARE_TIMEOUT_S = 3600.0
FIRST_QUERY = "SELECT ?p ?o WHERE { <https://w3id.org/calcinosis-kg/id/calcinosis-cutis> ?p ?o }"
"""The query whose first answer ends a start: its cost does not grow with the graph (one subject's triples, the same
in every copy-0 of the synthetic graphs), so the figure is the server's start, not the evaluation of a query that
reads more of a larger graph (the cold-start query of the HTTP section, ``subtypes``, took 1.4 to 2 s at 1M triples on
both servers)."""
SPARQL_MAX_TRIPLES = 2_000_000
"""The largest graph the ``sparql`` rows are measured on: publishing 1M triples into ``oxigraph serve`` took 112 s
and its store held 1.4 GB of PSS, so 10M would take about 20 min and 14 GB, more than the rest of the section."""
FULL_COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
"""Oxigraph's memory is measured after this query: every triple read once."""
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")


def parse_size(text: str) -> int:
    """``10000``, ``10k``, ``1M`` or ``2.5M`` as a number of triples (argparse type)."""
    found = _SIZE.match(text.strip())
    if found is None:
        raise ValueError(f"not a number of triples: {text!r} (say 10000, 10k or 1M)")
    number, unit = found.groups()
    return int(float(number) * {"": 1, "k": 1_000, "m": 1_000_000}[unit.lower()])


def scale_section(
    options: Options, data: Path, specs: list[CannedSpec], workdir: Path, results: Results, program: str | None
) -> None:
    """Measure every size of ``options.scale`` into ``results.scale``; each size's files are removed after it."""
    oxigraph = executable("oxigraph")
    if oxigraph is None:
        results.notes.append("scale: oxigraph is not installed (the dev extra has it): section skipped")
        return
    for triples in options.scale:
        folder = workdir / f"scale-{triples}"
        folder.mkdir(parents=True)
        try:
            log(f"scale: generating a synthetic graph of {triples:,} triples")
            graph = generate(data, folder / "graph.nt", triples)
            with Supervisor(folder) as supervisor:
                sizes = _Size(options, supervisor, folder, graph.path, graph.triples, specs, program)
                results.scale.append(sizes.ours())
                results.scale.extend(sizes.oxigraph_and_sparql(oxigraph))
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _why(error: StartError) -> str:
    """A start failure in one line: what happened and the last line of the server's log (its own reason)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ... ".join(dict.fromkeys([lines[0], lines[-1]])) if lines else "no message"


def _disk_mb(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20


@dataclasses.dataclass
class _Size:
    """The measurements of one graph size (one method per server kind)."""

    options: Options
    supervisor: Supervisor
    folder: Path
    data: Path
    triples: int
    specs: list[CannedSpec]
    program: str | None

    ours_replica: tuple[Server, ScaleRow] | None = None
    """Our first replica, kept running by :meth:`ours` for the ``unique`` rounds beside Oxigraph's server."""

    def ours(self) -> ScaleRow:
        """Write the bundle (timed), then measure replicas on it; the first is kept for ``unique``."""
        bundle = self.folder / "bundle"
        row = ScaleRow(self.triples, "ours", "ours (oxigraph engine, bundle)")
        log(f"scale {self.triples:,}: writing the serving bundle")
        started = time.perf_counter()
        try:
            make_bundle_in_subprocess((self.data,), bundle, union_default_graph=False)
        except BundleError as error:  # e.g. a graph too large for the memory of this machine: the next rows run
            row.note = str(error).splitlines()[0]
            return row
        row.prepare_s = time.perf_counter() - started
        row.disk_mb = _disk_mb(bundle)
        replica = ours_spec(self.data, workers=1)
        replica = dataclasses.replace(replica, env={**replica.env, "KG_BUNDLE": str(bundle)})
        self.ours_replica = self.replicas(replica, row, keep=True)
        return row

    def oxigraph_and_sparql(self, program: str) -> list[ScaleRow]:
        """``oxigraph load`` (timed) and its read-only server; then the ``sparql`` row (:meth:`sparql`)."""
        store = self.folder / "oxigraph-store"
        row = ScaleRow(self.triples, "oxigraph", "Oxigraph server (serve-read-only)")
        log(f"scale {self.triples:,}: oxigraph load")
        try:
            row.prepare_s = load_oxigraph_store(program, self.data, store, timeout=PREPARE_TIMEOUT_S)
        except subprocess.SubprocessError as error:
            row.note = f"oxigraph load failed: {str(error).splitlines()[0]}"
            self.unique_beside_ours([])
            return [row, self.sparql()]
        row.disk_mb = _disk_mb(store)
        server = self.start(oxigraph_spec(program, store), row)
        if server is None:
            self.unique_beside_ours([])
            return [row, self.sparql()]
        request = adhoc_request(server.spec.sparql_path, FULL_COUNT, RESULTS_JSON)
        with contextlib.suppress(OSError):  # the memory is measured all the same
            send(server.port, request.path, headers=request.headers, timeout=PREPARE_TIMEOUT_S)
        self.memory(server, row)
        self.unique_beside_ours([(server, row)])
        return [row, self.sparql()]

    def unique_beside_ours(self, peers: list[tuple[Server, ScaleRow]]) -> None:
        """``unique`` on our kept replica (if any) and ``peers`` in interleaved rounds, then stop them all."""
        servers = ([self.ours_replica] if self.ours_replica is not None else []) + peers
        self.ours_replica = None
        self.unique_rounds(servers)
        for server, _ in servers:
            self.supervisor.stop(server)

    def sparql(self) -> ScaleRow:
        """The graph published into ``oxigraph serve`` (timed), then ``sparql`` replicas in front of it: the
        cluster section's store and replicas (:mod:`bench.cluster`), so that a change to how publishing or a
        ``sparql`` replica works is measured here too. Not above :data:`SPARQL_MAX_TRIPLES` (the row says so)."""
        row = ScaleRow(self.triples, "sparql", "ours (sparql engine, oxigraph serve)")
        if self.triples > SPARQL_MAX_TRIPLES:
            row.note = f"not measured above {SPARQL_MAX_TRIPLES:,} triples (SPARQL_MAX_TRIPLES)"
            return row
        log(f"scale {self.triples:,}: calcinosis-kg publish into oxigraph serve")
        try:
            store, row.prepare_s = cluster.published_store(self.supervisor, self.data, self.folder / "store")
        except (StartError, PublishError) as error:
            row.note = f"the store did not take the graph: {str(error).splitlines()[0]}"
            return row
        row.disk_mb = _disk_mb(self.folder / "store")
        bundle = cluster.store_bundle(self.folder / "store")
        self.replicas(cluster.sparql_replica_spec(ours_spec(self.data, workers=1), store, bundle), row)
        held = tree_memory(store.process.pid)
        row.store_pss_mb = held.pss_mb if held is not None else None
        self.supervisor.stop(store)
        return row

    def start(self, spec: ServerSpec, row: ScaleRow) -> Server | None:
        """Start ``spec``, timing its health path and :data:`FIRST_QUERY`; None (and a note) if it failed."""
        request = adhoc_request(spec.sparql_path, FIRST_QUERY, RESULTS_JSON)
        log(f"scale {self.triples:,}: starting {row.label}")
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                server, cold = start_timed(self.supervisor, spec, request.path, request.headers, START_DEADLINE_S)
            except StartError as error:
                row.note = f"did not start (attempt {attempt}): {_why(error)}"
                log(row.note)
                if "exited with" not in str(error):  # it ran out of time: a second wait would too
                    return None
            else:
                row.health_s, row.start_s = cold.health_s, cold.query_s
                return server
        return None

    def replicas(self, spec: ServerSpec, row: ScaleRow, *, keep: bool = False) -> tuple[Server, ScaleRow] | None:
        """One replica (timed, probed, measured), a second one beside it (both measured), then ``unique``; with
        ``keep``, no ``unique``: the first replica is returned running (None if it did not start)."""
        first = self.start(spec, row)
        if first is None:
            return None
        self.probe(first)
        self.memory(first, row)
        try:
            second = self.supervisor.start(spec)
            wait_for(second, spec.health_path, deadline_s=START_DEADLINE_S, interval=0.05)
        except StartError as error:
            row.note = f"the second replica did not start: {_why(error)}"
        else:
            self.probe(second)
            both = [tree_memory(server.process.pid) for server in (first, second)]
            if all(m is not None and m.pss_mb is not None for m in both):
                row.pss_two_mb = sum(m.pss_mb for m in both if m is not None and m.pss_mb is not None)
            self.supervisor.stop(second)
        if keep:
            return first, row
        self.unique_rounds([(first, row)])
        self.supervisor.stop(first)
        return None

    @staticmethod
    def probe(server: Server) -> None:
        """A lookup, a page and a canned query: what a replica serves besides SPARQL, so its indexes are loaded."""
        for path in PROBES:
            with contextlib.suppress(OSError):  # the memory is measured all the same
                send(server.port, path, timeout=START_DEADLINE_S)

    @staticmethod
    def memory(server: Server, row: ScaleRow) -> None:
        measured = tree_memory(server.process.pid)
        if measured is not None:
            row.pss_one_mb, row.rss_mb = measured.pss_mb, measured.rss_mb

    def unique_rounds(self, servers: list[tuple[Server, ScaleRow]]) -> None:
        """The ``unique`` workload by GET, POST form and POST query (:data:`UNIQUE_WORKLOADS`) on each of
        ``servers`` (one at a time, the others idle), ``--rounds`` rounds interleaved in alternating order (as the
        HTTP section runs them, against drift), a warm-up run before each server's first of a method, merged
        (:func:`bench.wrk.merge`) into its row, and the PSS of its tree after them. A server whose run failed is not
        measured again by that method."""
        if self.program is None:
            return
        measured: dict[tuple[int, str], list[wrk.WrkResult]] = {}
        failed: set[tuple[int, str]] = set()
        for workload in UNIQUE_WORKLOADS:
            for round_ in range(self.options.rounds):
                order = servers if round_ % 2 == 0 else servers[::-1]
                for server, row in order:
                    if (id(row), workload) in failed:
                        continue
                    outcome = measure(
                        self.options,
                        self.program,
                        workload,
                        server,
                        self.specs,
                        [],
                        self.folder,
                        warm_up=round_ == 0,
                        beside=[other for other, _ in servers],
                    )
                    if isinstance(outcome, str):
                        row.note = (row.note + "; " if row.note else "") + f"{workload}: {outcome}"
                        failed.add((id(row), workload))
                    else:
                        measured.setdefault((id(row), workload), []).append(outcome)
        for server, row in servers:
            loaded = tree_memory(server.process.pid)
            row.pss_loaded_mb = loaded.pss_mb if loaded is not None else None
            for workload in UNIQUE_WORKLOADS:
                if (id(row), workload) in measured and (id(row), workload) not in failed:
                    row.unique[workload] = wrk.merge(measured[id(row), workload])
