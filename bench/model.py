"""What a benchmark run produces: plain dataclasses, turned into ``latest.json`` by :func:`to_json`."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from bench.memory import ProbeResult
from bench.servers import ColdStart, Memory
from bench.synthetic import SyntheticGraph
from bench.wrk import WrkResult


@dataclass
class Check:
    """The pre-flight answer to one request of a workload."""

    name: str
    status: int | None
    rows: int | None
    error: str = ""


@dataclass
class ServerRecord:
    """One server of the run: whether it ran, its cold starts, memory and pre-flight checks."""

    key: str
    label: str
    ours: bool
    available: bool = False
    note: str = ""
    cold_starts: list[ColdStart] = field(default_factory=list)
    memory: Memory | None = None
    health: str = ""
    """Body of the first health answer (ours: ``/health`` JSON)."""
    checks: dict[str, list[Check]] = field(default_factory=dict)
    """Workload -> pre-flight answers."""
    workloads: dict[str, str] = field(default_factory=dict)
    """Workload -> ``ok`` or why it is not measured on this server."""

    def cold_start(self) -> ColdStart | None:
        """Median over the cold starts (each figure separately)."""
        if not self.cold_starts:
            return None
        queries = [c.query_s for c in self.cold_starts if c.query_s is not None]
        return ColdStart(median(c.health_s for c in self.cold_starts), median(queries) if queries else None)


@dataclass(frozen=True)
class QueryLatency:
    """Median latency of one query sent alone to a server, one request at a time (``perquery``)."""

    name: str
    p50_ms: float | None
    runs: int
    error: str = ""


@dataclass
class HttpRun:
    """One measured wrk run of a workload on a server."""

    workload: str
    server: str
    result: WrkResult | None
    """The rounds merged (:func:`bench.wrk.merge`), or None when not measured."""
    note: str = ""
    rounds: list[WrkResult] = field(default_factory=list)
    """Each round's own figures."""


@dataclass
class ClusterRun:
    """One measured wrk run of the ``cluster`` section: through nginx in front of two replicas, or one direct."""

    engine: str
    """The replicas' ``KG_ENGINE``."""
    workload: str
    target: str
    """``nginx`` (two replicas behind it) or ``direct`` (one of those replicas, without nginx)."""
    result: WrkResult | None
    note: str = ""
    cache: dict[str, int] = field(default_factory=dict)
    """nginx only: answers of this run per cache status (its access log)."""


@dataclass
class ScaleRow:
    """One server on one synthetic graph of the ``scale`` section (:mod:`bench.scale`); None: not measured."""

    triples: int
    server: str
    """``ours`` (embedded engine on the graph's serving bundle), ``oxigraph`` (``serve-read-only``) or ``sparql``
    (our replica on ``KG_ENGINE=sparql`` in front of that Oxigraph server)."""
    label: str
    prepare_s: float | None = None
    """Done once per graph: writing the serving bundle (ours), ``oxigraph load`` (Oxigraph, and the sparql row's
    store)."""
    health_s: float | None = None
    """Process start to the first 2xx of the health path."""
    start_s: float | None = None
    """Process start to the first answer of a query (after the health path answered)."""
    pss_one_mb: float | None = None
    """PSS of one process tree (ours: after a lookup, a page and a canned query; Oxigraph: after a full count)."""
    pss_two_mb: float | None = None
    """PSS of two process trees on the same data, summed (ours only)."""
    rss_mb: float | None = None
    """RSS of one process tree, summed over its processes."""
    pss_loaded_mb: float | None = None
    """PSS of one process tree after its ``unique`` runs: the stores' caches filled by the load (each process that
    reads a RocksDB store keeps a block cache of its own)."""
    store_pss_mb: float | None = None
    """``sparql`` only: PSS of the store (``oxigraph serve``) after the replicas' start-up reads and queries."""
    disk_mb: float | None = None
    """What ``prepare_s`` wrote: the serving bundle's folder (ours), the store's (Oxigraph)."""
    unique: dict[str, WrkResult] = field(default_factory=dict)
    """The ``unique`` workload (ad-hoc queries no cache can answer) on this server alone, by each way of sending
    it: workload name (``unique``: GET, ``unique-form``, ``unique-direct``; :data:`bench.workloads.UNIQUE_WORKLOADS`)
    -> its merged rounds."""
    note: str = ""


@dataclass
class Target:
    """A performance target, judged on this run."""

    name: str
    requirement: str
    status: str
    """PASS, MISS or N/A."""
    measured: str


@dataclass
class Results:
    """Everything one run measured."""

    machine: dict[str, Any]
    options: dict[str, Any]
    started: str
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    servers: dict[str, ServerRecord] = field(default_factory=dict)
    http: list[HttpRun] = field(default_factory=list)
    inprocess: list[ProbeResult] = field(default_factory=list)
    """Probes on the built graph."""
    loads: list[ProbeResult] = field(default_factory=list)
    """Probes on the synthetic graph."""
    synthetic: SyntheticGraph | None = None
    per_query: dict[str, list[QueryLatency]] = field(default_factory=dict)
    """Server key -> each query of the unique workload sent alone (``perquery``)."""
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cluster: list[ClusterRun] = field(default_factory=list)
    """The ``cluster`` section: two replicas behind nginx against one replica direct, per engine and workload."""
    cluster_setup: dict[str, Any] = field(default_factory=dict)
    """Engine -> what the section started: replicas' memory, the store's load (publish) time and memory."""
    scale: list[ScaleRow] = field(default_factory=list)
    """The ``scale`` section: per synthetic graph size, ours, Oxigraph's server and the ``sparql`` engine."""

    def run(self, workload: str, server: str) -> WrkResult | None:
        """The measured wrk result of a workload on a server, if any."""
        for run in self.http:
            if run.workload == workload and run.server == server:
                return run.result
        return None

    def probe(self, probes: list[ProbeResult], engine: str) -> ProbeResult | None:
        """The probe of an engine in a list of probes."""
        return next((p for p in probes if p.engine == engine), None)


def to_json(results: Results) -> str:
    """The results as indented JSON (paths as strings)."""
    return json.dumps(dataclasses.asdict(results), indent=2, default=str)
