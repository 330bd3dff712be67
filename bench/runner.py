"""One benchmark run, phase by phase: data, in-process probes, servers (cold starts, per-query latency and wrk),
the synthetic graph, the cluster, targets.

Each phase is bounded in time (builds, probes and wrk runs have timeouts, servers a start deadline), the
servers run one workload at a time, interleaved (workload by workload, server by server) so that the noise of
a shared machine spreads over all of them, and every server is stopped when the run ends, however it ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

from bench import cluster, wrk
from bench.http import send
from bench.memory import ProbeResult, run_probe
from bench.model import Check, ClusterRun, HttpRun, QueryLatency, Results, ServerRecord
from bench.report import machine
from bench.servers import (
    Server,
    ServerSpec,
    StartError,
    Supervisor,
    executable,
    load_oxigraph_store,
    ours_spec,
    oxigraph_spec,
    rdflib_endpoint_spec,
    settle,
    start_timed,
    tool_version,
    tree_memory,
    wait_for,
)
from bench.synthetic import generate
from bench.targets import judge
from bench.workloads import (
    HTTP_WORKLOADS,
    OURS_ONLY,
    RESULTS_JSON,
    CannedSpec,
    Request,
    adhoc_request,
    adhoc_requests,
    canned_route_requests,
    canned_specs,
    deref_requests,
    entity_locals,
    health_requests,
    probe_specs,
    split_workload,
    unique_headers,
    unique_request,
    unique_requests,
    unique_templates,
)

SERVERS = ("ours", "oxigraph", "rdflib-endpoint")
OTHER_SECTIONS = ("coldstart", "perquery", "inprocess", "load", "cluster", "scale")
COLD_START_QUERY = "subtypes"
"""The canned query (as ad-hoc SPARQL) whose first answer ends a cold start."""
DEREF_CHECKS = 20


@dataclass(frozen=True)
class Options:
    """What to run and how long (see ``python -m bench --help``)."""

    sections: frozenset[str]
    servers: frozenset[str]
    duration: float
    warmup: float
    connections: int
    threads: int
    timeout: float
    rounds: int
    workers: int
    cold_starts: int
    probe_reps: int
    probe_budget: float
    synthetic_triples: int
    scale: tuple[int, ...]
    """Sizes (triples) of the synthetic graphs of the ``scale`` section."""
    data: Path | None
    out: Path
    quick: bool
    plot: Path | None = None
    """Where the scale section's picture is written besides ``out`` (the README's copy), or None."""


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(options: Options, workdir: Path) -> Results:
    """Run every selected phase in ``workdir`` (a temporary directory) and return the results."""
    begin = time.perf_counter()
    program = wrk.find_wrk()
    if program is None and options.sections & {*HTTP_WORKLOADS, "cluster"}:
        raise SystemExit(wrk.INSTALL_HINT)
    versions = {"wrk": tool_version([program, "--version"]).split(" Copyright")[0] if program else "not installed"}
    if oxigraph := executable("oxigraph"):
        versions["oxigraph"] = tool_version([oxigraph, "--version"])
    opts = {
        key: sorted(value) if isinstance(value, frozenset) else str(value) if isinstance(value, Path) else value
        for key, value in options.__dict__.items()
    }
    results = Results(machine=machine(versions), options=opts, started=datetime.now(UTC).isoformat(timespec="seconds"))
    data = prepare_data(options, workdir, results)
    specs = canned_specs()
    probe_file = workdir / "queries.json"
    probe_file.write_text(json.dumps(probe_specs(specs)))
    if "inprocess" in options.sections:
        inprocess(options, data, probe_file, results)
    if options.sections & {*HTTP_WORKLOADS, "coldstart", "perquery"}:
        serve_and_measure(options, data, specs, workdir, results, program)
    if "load" in options.sections:  # after the servers: its 600 MB child slowed the cold starts that followed it
        big_graph(options, data, probe_file, workdir, results)
    if "cluster" in options.sections and program is not None:
        for engine in CLUSTER_ENGINES:
            cluster_section(options, engine, data, specs, workdir / f"cluster-{engine}", results, program)
    if "scale" in options.sections:  # last: its 1M graph's bundle and replicas would slow what followed them
        from bench.scale import scale_section  # it runs this module's wrk phase (measure) per size

        scale_section(options, data, specs, workdir, results, program)
    results.targets = judge(results)
    results.machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results.seconds = time.perf_counter() - begin
    return results


def prepare_data(options: Options, workdir: Path, results: Results) -> Path:
    """The N-Triples file every server and probe uses: ``--data``, or a fresh build in ``workdir``."""
    if options.data is not None:
        data = options.data.resolve()
        results.data.update(file=str(data), built=False)
    else:
        program = executable("calcinosis-kg")
        if program is None:
            raise SystemExit("calcinosis-kg is not installed: run `make install`, or pass --data FILE.nt")
        out = workdir / "build"
        log(f"building the graph into {out} (calcinosis-kg build --no-reasoner)")
        start = time.perf_counter()
        subprocess.run(  # noqa: S603
            [program, "build", "--no-reasoner", "--out", str(out)], check=True, capture_output=True, timeout=600
        )
        data = out / "calcinosis-kg.nt"
        results.data.update(file="calcinosis-kg build --no-reasoner", built=True, build_s=time.perf_counter() - start)
    with data.open("rb") as lines:
        results.data["triples"] = sum(1 for line in lines if line.strip() and not line.startswith(b"#"))
    return data


def _pyoxigraph_probe(options: Options, label: str, data: Path, probe_file: Path) -> ProbeResult:
    """Load ``data`` with pyoxigraph in a child process and time the probe queries (at most 300 s)."""
    return run_probe(
        label,
        "pyoxigraph",
        data,
        queries=probe_file,
        reps=options.probe_reps,
        budget=options.probe_budget,
        timeout=300,
    )


def inprocess(options: Options, data: Path, probe_file: Path, results: Results) -> None:
    """Probe on the built graph: load, peak RSS and per-query latency with pyoxigraph (the server's engine)."""
    log("in-process probe on the built graph: pyoxigraph")
    probe = _pyoxigraph_probe(options, "built", data, probe_file)
    results.inprocess.append(probe)
    refused = [q.name for q in probe.queries if q.how.startswith("VALUES")]
    if refused:
        results.notes.append(
            f"pyoxigraph refused SEP-0007 substitution of a variable that is not projected in {', '.join(refused)}"
            " (timed with a VALUES block instead, as the server binds them)"
        )


def big_graph(options: Options, data: Path, probe_file: Path, workdir: Path, results: Results) -> None:
    """Generate the synthetic graph, then load it (and query it) with pyoxigraph, as the server loads data."""
    target = workdir / "synthetic.nt"
    log(f"generating a synthetic graph of {options.synthetic_triples:,} triples")
    start = time.perf_counter()
    results.synthetic = generate(data, target, options.synthetic_triples)
    results.data["synthetic_generate_s"] = time.perf_counter() - start
    label = f"synthetic {results.synthetic.triples / 1e6:.2f}M"
    try:
        log(f"load probe on the {label} graph: pyoxigraph (at most 300 s)")
        probe = _pyoxigraph_probe(options, label, target, probe_file)
        results.loads.append(probe)
    finally:
        target.unlink(missing_ok=True)


def plan_servers(options: Options, data: Path, workdir: Path, results: Results) -> list[ServerSpec]:
    """The servers to run, in order; those that cannot run are recorded with the reason."""
    specs: list[ServerSpec] = []

    def record(key: str, label: str, ours: bool, note: str = "") -> None:
        results.servers[key] = ServerRecord(key, label, ours, note=note)

    if "ours" in options.servers:
        specs.append(ours_spec(data, workers=options.workers))
    if "oxigraph" in options.servers:
        program = executable("oxigraph")
        if program is None:
            record("oxigraph", "Oxigraph server", False, "not installed: pip install oxigraph")
        else:
            store = workdir / "oxigraph-store"
            try:
                results.data["oxigraph_load_s"] = load_oxigraph_store(program, data, store)
            except subprocess.SubprocessError as error:
                record("oxigraph", "Oxigraph server", False, f"oxigraph load failed: {str(error).splitlines()[0]}")
            else:
                specs.append(oxigraph_spec(program, store))
    if "rdflib-endpoint" in options.servers:
        program = executable("rdflib-endpoint")
        if program is None:
            record("rdflib-endpoint", "rdflib-endpoint", False, "not installed: pip install 'rdflib-endpoint[cli]'")
        else:
            specs.append(rdflib_endpoint_spec(program, data))
    for spec in specs:
        record(spec.key, spec.label, spec.ours)
    return specs


def start_server(
    options: Options, spec: ServerSpec, cold_query: str, supervisor: Supervisor, record: ServerRecord
) -> Server | None:
    """Start ``spec`` ``cold_starts`` times, timing each; keep the last one running (None if it failed)."""
    request = adhoc_request(spec.sparql_path, cold_query, RESULTS_JSON)
    server: Server | None = None
    for attempt in range(max(1, options.cold_starts if "coldstart" in options.sections else 1)):
        if server is not None:
            supervisor.stop(server)
        log(f"starting {spec.label} (cold start {attempt + 1})")
        try:
            server, cold = start_timed(supervisor, spec, request.path, request.headers)
        except StartError as error:
            record.note = f"did not start: {error}"
            log(record.note)
            return None
        record.cold_starts.append(cold)
    assert server is not None
    record.available = True
    if spec.ours:
        try:
            record.health = send(server.port, spec.health_path).body.decode("utf-8", errors="replace")[:200]
        except OSError as error:
            record.health = f"no answer: {error}"
    return server


def requests_for(workload: str, spec: ServerSpec, specs: list[CannedSpec], locals_: list[str]) -> list[Request]:
    """The rotation of requests of a workload on a server (``unique`` has its own script)."""
    if workload == "canned":
        return canned_route_requests(specs)
    if workload == "deref":
        return deref_requests(locals_)
    if workload == "health":
        return health_requests()
    base, method = split_workload(workload)
    if base == "adhoc":
        return adhoc_requests(specs, spec.sparql_path, method)
    return unique_requests(specs, spec.sparql_path, method)


def preflight(
    workload: str, server: Server, requests: list[Request], reference: dict[str, int], results: Results
) -> str:
    """Send each request once; return ``ok`` or why the workload cannot run; note failures and odd rows."""
    record = results.servers[server.spec.key]
    checks = []
    for request in requests:
        try:
            reply = send(
                server.port, request.path, method=request.method, headers=request.headers, body=request.body, timeout=30
            )
        except OSError as error:
            checks.append(Check(request.name, None, None, str(error)))
            continue
        checks.append(Check(request.name, reply.status, reply.rows()))
        if workload == "deref" and reply.ok and "turtle" not in reply.content_type:
            checks[-1].error = f"content type {reply.content_type}"
    record.checks[workload] = checks
    if workload in OURS_ONLY and all(c.status == 404 for c in checks):
        route = "/queries/{name}" if workload == "canned" else "/id/{local}"
        return f"route {route} not available (404)"
    failed = [f"{c.name} → {c.status or c.error}" for c in checks if c.status is None or not 200 <= c.status < 300]
    if failed:
        results.notes.append(f"{record.label}, {workload}: {len(failed)} failing requests: {', '.join(failed[:8])}")
    wrong = [
        f"{c.name} ({c.rows} rows, expected {reference[c.name]})"
        for c in checks
        if c.name in reference and c.rows is not None and c.rows != reference[c.name]
    ]
    if wrong:
        differ = ", ".join(wrong)
        results.notes.append(f"{record.label}, {workload}: row counts differ from pyoxigraph in-process: {differ}")
    return "ok"


HEALTH_ROW = "(health path)"
"""The per-query row of each server's health path: the floor of its HTTP stack, with no query."""


def per_query(options: Options, server: Server, specs: list[CannedSpec]) -> list[QueryLatency]:
    """The health path, then each query of the ``unique`` workload, sent alone: median latency of each.

    One request at a time, each on a new connection, each query with its own ``LIMIT`` constant (no cache
    answers); up to ``probe_reps`` timed requests within ``probe_budget`` seconds after an untimed one (whose
    time is kept when it alone exceeds the budget).
    """
    salt = 1 + (time.time_ns() // 1000) % 999_999
    counter = 0

    def health(_: int) -> Request:
        return Request("GET", server.spec.health_path, name=HEALTH_ROW)

    def unique(spec: CannedSpec) -> Callable[[int], Request]:
        return lambda n: unique_request(spec, server.spec.sparql_path, f"{salt}99{n:09d}")

    latencies = []
    for name, make in [(HEALTH_ROW, health), *((spec.query.name, unique(spec)) for spec in specs)]:
        times: list[float] = []
        failed = ""
        deadline = time.perf_counter() + options.probe_budget
        for _ in range(options.probe_reps + 1):
            counter += 1
            request = make(counter)
            start = time.perf_counter()
            try:
                reply = send(
                    server.port,
                    request.path,
                    method=request.method,
                    headers=request.headers,
                    body=request.body,
                    timeout=options.timeout,
                )
            except OSError as error:
                failed = str(error)
                break
            elapsed = (time.perf_counter() - start) * 1000
            if not reply.ok:
                failed = f"status {reply.status}"
                break
            times.append(elapsed)
            if time.perf_counter() + elapsed / 1000 > deadline:
                break
        timed = times[1:] or times  # the first request is untimed, unless it is the only one
        latencies.append(QueryLatency(name, median(timed) if timed else None, len(timed), failed))
    return latencies


def measure(
    options: Options,
    program: str,
    workload: str,
    server: Server,
    specs: list[CannedSpec],
    locals_: list[str],
    workdir: Path,
    warm_up: bool,
    beside: Sequence[Server] = (),
) -> wrk.WrkResult | str:
    """One measured wrk run of ``workload`` on ``server`` (after a warm-up run if asked); or why it failed.

    Each run starts when ``server`` and the servers ``beside`` it are idle (:func:`~bench.servers.settle`).
    """
    spec = server.spec
    script = workdir / f"{workload}-{spec.key}.lua"
    phases = [("warm-up", options.warmup)] if warm_up and options.warmup > 0 else []
    result: wrk.WrkResult | str = "not run"
    try:
        for phase, seconds in [*phases, ("measure", options.duration)]:
            base, method = split_workload(workload)
            if base == "unique":  # a new salt for every run: no constant is ever sent twice
                salt = 1 + (time.time_ns() // 1000) % 999_999
                templates = unique_templates(specs, spec.sparql_path, method)
                post_to = spec.sparql_path if method else None
                script.write_text(wrk.unique_script(templates, unique_headers(method), salt, post_to))
            else:
                script.write_text(wrk.rotation_script(requests_for(workload, spec, specs, locals_)))
            for busy in [server, *(other for other in beside if other is not server)]:
                waited = settle(busy)
                if waited > 1:
                    log(f"waited {waited:.1f} s for {busy.spec.label} to finish the requests of the previous run")
            log(f"wrk {phase} {seconds:g} s: {workload} on {spec.label}")
            result = wrk.run(
                program,
                server.port,
                script,
                threads=options.threads,
                connections=options.connections,
                duration=seconds,
                timeout=options.timeout,
            )
    except (subprocess.SubprocessError, ValueError) as error:
        return f"wrk failed: {str(error).splitlines()[0]}"
    return result


def serve_and_measure(
    options: Options, data: Path, specs: list[CannedSpec], workdir: Path, results: Results, program: str | None
) -> None:
    """Start the servers (timing cold starts), check each workload once, run wrk, measure memory, stop."""
    workloads = [w for w in HTTP_WORKLOADS if w in options.sections]
    reference = {}
    if (engine := results.probe(results.inprocess, "pyoxigraph")) is not None:
        reference = {q.name: q.rows for q in engine.queries}
    cold_query = next((s.adhoc for s in specs if s.query.name == COLD_START_QUERY), specs[0].adhoc)
    locals_ = entity_locals(data)
    with Supervisor(workdir) as supervisor:
        running: list[Server] = []
        for spec in plan_servers(options, data, workdir, results):
            server = start_server(options, spec, cold_query, supervisor, results.servers[spec.key])
            if server is not None:
                running.append(server)
        for server in running:
            record = results.servers[server.spec.key]
            for workload in workloads:
                if workload in OURS_ONLY and not server.spec.ours:
                    continue
                requests = requests_for(workload, server.spec, specs, locals_)
                checked = requests[:DEREF_CHECKS] if workload == "deref" else requests
                log(f"pre-flight: {workload} on {server.spec.label} ({len(checked)} requests)")
                record.workloads[workload] = preflight(workload, server, checked, reference, results)
        if "perquery" in options.sections:
            for server in running:
                log(f"per-query latency, one request at a time: {server.spec.label}")
                results.per_query[server.spec.key] = per_query(options, server, specs)
        measured: dict[tuple[str, str], list[wrk.WrkResult]] = {}
        failures: dict[tuple[str, str], str] = {}
        for round_ in range(options.rounds):
            if options.rounds > 1:
                log(f"round {round_ + 1} of {options.rounds}")
            order = running if round_ % 2 == 0 else running[::-1]  # alternate, against drift
            for workload in workloads:
                for server in order:
                    key = (workload, server.spec.key)
                    state = results.servers[server.spec.key].workloads.get(workload)
                    if state is None or key in failures:
                        continue
                    if state != "ok":
                        failures[key] = state
                        continue
                    outcome = measure(
                        options,
                        str(program),
                        workload,
                        server,
                        specs,
                        locals_,
                        workdir,
                        warm_up=round_ == 0,
                        beside=running,
                    )
                    if isinstance(outcome, str):
                        failures[key] = outcome
                    else:
                        measured.setdefault(key, []).append(outcome)
        for workload in workloads:
            for server in running:
                key = (workload, server.spec.key)
                if key in failures:
                    results.http.append(HttpRun(workload, server.spec.key, None, failures[key]))
                elif key in measured:
                    rounds = measured[key]
                    results.http.append(HttpRun(workload, server.spec.key, wrk.merge(rounds), rounds=rounds))
        for server in running:
            results.servers[server.spec.key].memory = tree_memory(server.process.pid)
        log("stopping the servers")


CLUSTER_ENGINES = ("oxigraph", "sparql")
CLUSTER_WORKLOADS = ("canned", "unique")


def cluster_section(
    options: Options, engine: str, data: Path, specs: list[CannedSpec], workdir: Path, results: Results, program: str
) -> None:
    """Two replicas (one granian worker each) behind nginx against one of them direct, on ``engine``.

    With the ``sparql`` engine the replicas share one ``oxigraph serve --union-default-graph`` store, loaded by
    ``calcinosis-kg publish``'s code (the release into its version graph). Runs interleave nginx and direct.
    """
    nginx = cluster.nginx_program()
    if nginx is None:
        results.notes.append("cluster: nginx is not installed (apt-get install nginx): section skipped")
        return
    workdir.mkdir(parents=True)
    setup: dict[str, object] = {}
    results.cluster_setup[engine] = setup
    with Supervisor(workdir) as supervisor:
        replica = ours_spec(data, workers=1)
        if engine == "sparql":
            store, setup["publish_s"] = cluster.published_store(supervisor, data, workdir / "store")
            replica = cluster.sparql_replica_spec(replica, store, cluster.store_bundle(workdir / "store"))
        replicas = [supervisor.start(replica) for _ in range(2)]
        try:
            for server in replicas:
                wait_for(server, replica.health_path, deadline_s=300, interval=0.1)
            balancer = supervisor.start(cluster.nginx_spec(nginx, workdir / "nginx", [r.port for r in replicas]))
            wait_for(balancer, "/health", interval=0.1)
        except StartError as error:
            results.notes.append(f"cluster ({engine}): did not start: {error}")
            return
        for workload in CLUSTER_WORKLOADS:
            for server, target in ((balancer, "nginx"), (replicas[0], "direct")):
                for replica_server in replicas:  # the queries of the run before, still being evaluated, end first
                    settle(replica_server)
                before = cluster.cache_statuses(workdir / "nginx")
                outcome = measure(options, program, workload, server, specs, [], workdir, warm_up=True)
                counts = cluster.cache_statuses(workdir / "nginx") - before if target == "nginx" else None
                if isinstance(outcome, str):
                    results.cluster.append(ClusterRun(engine, workload, target, None, outcome))
                else:
                    results.cluster.append(ClusterRun(engine, workload, target, outcome, cache=dict(counts or {})))
        setup["replica_memory"] = [tree_memory(r.process.pid) for r in replicas]
        if engine == "sparql":
            setup["store_memory"] = tree_memory(store.process.pid)
        log(f"cluster ({engine}): stopping the replicas and nginx")
