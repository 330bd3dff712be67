"""The machine description and the report: a console table, ``latest.md`` and ``latest.json``.

Ratios are always ours ÷ peer, measured in the same run: for requests/s above 1 means ours is faster; for
latencies below 1 means ours is faster. The canned-route workload (ours only) is compared with the peers'
ad-hoc run of the same queries.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.cluster import cached_share
from bench.model import Results, to_json
from bench.workloads import (
    HTTP_WORKLOADS,
    METHOD_NAMES,
    NO_PEER_COUNTERPART,
    OURS_ONLY,
    SPARQL_METHODS,
    UNIQUE_WORKLOADS,
)

PACKAGES = (
    "calcinosis-kg",
    "rdflib",
    "pyoxigraph",
    "oxigraph",
    "rdflib-endpoint",
    "flask",
    "werkzeug",
    "granian",
    "uvicorn",
    "fastapi",
    "psutil",
)
TIMES = "\N{MULTIPLICATION SIGN}"


def machine(extra_versions: dict[str, str]) -> dict[str, Any]:
    """Cores, CPU model, memory, OS, Python, package and tool versions, git commit, load average."""
    info: dict[str, Any] = {"cores": os.cpu_count(), "cpu": "?", "memory_gb": None}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gb"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    info["os"] = f"{platform.system()} {platform.release()}"
    info["python"] = platform.python_version()
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    info["packages"] = versions
    info["tools"] = extra_versions
    info["commit"] = _git("rev-parse", "--short", "HEAD")
    info["dirty"] = bool(_git("status", "--porcelain", "--untracked-files=no"))
    info["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def _git(*args: str) -> str:
    try:
        command = ["git", *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def _x(value: float | None) -> str:
    if value is None:
        return "-"
    return TIMES + (f"{value:.3f}" if value < 0.1 else f"{value:.2f}" if value < 100 else f"{value:,.0f}")


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


Table = tuple[list[str], list[list[str]]]


def http_table(results: Results) -> Table:
    """Absolute figures of every wrk run."""
    rows = []
    for run in results.http:
        label = results.servers[run.server].label
        if run.result is None:
            rows.append([run.workload, label, "-", "-", "-", "-", "-", "-", run.note])
            continue
        r = run.result
        sockets = sum(r.socket_errors.values())
        rows.append(
            [
                run.workload,
                label,
                f"{r.rps:,.0f}",
                _ms(r.p50_ms),
                _ms(r.p99_ms),
                str(r.non_2xx),
                str(sockets),
                f"{r.requests:,}",
                run.note,
            ]
        )
    headers = ["workload", "server", "req/s", "p50 ms", "p99 ms", "non-2xx", "socket errors", "requests", "note"]
    return headers, rows


def ratio_table(results: Results) -> Table:
    """Ours ÷ each peer, per workload: req/s, p50, p99."""
    rows = []
    peers = [key for key, record in results.servers.items() if not record.ours]
    ours = [key for key, record in results.servers.items() if record.ours]
    for workload in HTTP_WORKLOADS:
        if workload in NO_PEER_COUNTERPART:
            continue
        peer_workload = "adhoc" if workload in OURS_ONLY else workload
        for key in ours:
            mine = results.run(workload, key)
            if mine is None:
                continue
            for peer in peers:
                theirs = results.run(peer_workload, peer)
                if theirs is None:
                    continue
                rows.append(
                    [
                        workload,
                        results.servers[key].label,
                        f"{results.servers[peer].label} ({peer_workload})",
                        _x(mine.rps / theirs.rps if theirs.rps else None),
                        _x(mine.p50_ms / theirs.p50_ms if theirs.p50_ms else None),
                        _x(mine.p99_ms / theirs.p99_ms if theirs.p99_ms else None),
                    ]
                )
    return ["workload", "ours", "vs peer", "req/s", "p50", "p99"], rows


def cold_start_table(results: Results) -> Table:
    """Median cold start per server."""
    rows = []
    for record in results.servers.values():
        start = record.cold_start()
        if start is None:
            continue
        rows.append(
            [
                record.label,
                f"{start.health_s:.2f}",
                "-" if start.query_s is None else f"{start.query_s:.2f}",
                str(len(record.cold_starts)),
            ]
        )
    return ["server", "to health s", "to first query s", "starts"], rows


def server_memory_table(results: Results) -> Table:
    """Memory of each server's process tree after its workloads."""
    rows = []
    for record in results.servers.values():
        if record.memory is not None:
            m = record.memory
            rows.append([record.label, _mb(m.pss_mb), _mb(m.rss_mb), str(m.processes)])
    return ["server", "PSS MB", "RSS sum MB", "processes"], rows


def inprocess_table(results: Results) -> Table:
    """Median in-process latency per canned query on the built graph (pyoxigraph, the server's engine)."""
    probe = results.probe(results.inprocess, "pyoxigraph")
    if probe is None:
        return ["query", "rows", "pyoxigraph ms", "first run ms", "bound by"], []
    rows = [
        [q.name, str(q.rows), _ms(q.p50_ms), _ms(q.first_ms), q.how or "-"]
        for q in sorted(probe.queries, key=lambda q: q.name)
    ]
    if probe.queries:
        rows.append(["(median of the medians)", "", _ms(probe.typical_p50_ms()), "", ""])
    return ["query", "rows", "pyoxigraph ms", "first run ms", "bound by"], rows


def per_query_table(results: Results) -> Table:
    """Each unique ad-hoc query sent alone: median latency per server, ours ÷ Oxigraph, ours minus in process."""
    servers = [key for key in results.servers if key in results.per_query]
    engine = results.probe(results.inprocess, "pyoxigraph")
    in_process = {q.name: q.p50_ms for q in engine.queries} if engine else {}
    by_server = {key: {q.name: q for q in results.per_query[key]} for key in servers}
    names = sorted({q.name for key in servers for q in results.per_query[key]}, key=lambda n: (n[0] != "(", n))
    headers = ["query", "in-process ms", *(f"{results.servers[key].label} ms" for key in servers)]
    compare = "ours" in servers and "oxigraph" in servers
    if compare:
        headers += ["ours ÷ Oxigraph", "ours minus in-process ms"]
    rows = []
    totals: dict[str, float] = {}
    for name in names:
        row = [name, _ms(in_process.get(name))]
        for key in servers:
            q = by_server[key].get(name)
            row.append("-" if q is None else q.error or _ms(q.p50_ms))
            if q is not None and q.p50_ms is not None and not name.startswith("("):
                totals[key] = totals.get(key, 0.0) + q.p50_ms
        if compare:
            mine, theirs = by_server["ours"].get(name), by_server["oxigraph"].get(name)
            a = mine.p50_ms if mine else None
            b = theirs.p50_ms if theirs else None
            row.append(_x(a / b if a is not None and b else None))
            row.append(_ms(a - in_process[name] if a is not None and name in in_process else None))
        rows.append(row)
    if rows:
        engine_sum = sum(in_process[n] for n in names if n in in_process) if in_process else None
        total = ["(sum of the queries)", _ms(engine_sum), *(_ms(totals.get(key)) for key in servers)]
        if compare:
            a, b = totals.get("ours"), totals.get("oxigraph")
            total.append(_x(a / b if a is not None and b else None))
            total.append(_ms(a - engine_sum if a is not None and engine_sum is not None else None))
        rows.append(total)
    return headers, rows


def load_table(results: Results) -> Table:
    """Load time, peak RSS and query latency per graph and engine."""
    rows = []
    for probe in [*results.inprocess, *results.loads]:
        slowest = f"{probe.slowest()} {_ms(probe.worst_p50_ms())}" if probe.queries else "-"
        rows.append(
            [
                probe.graph,
                probe.engine,
                "-" if probe.triples is None else f"{probe.triples:,}",
                "-" if probe.load_s is None else f"{probe.load_s:.2f}",
                _mb(probe.peak_rss_mb),
                _mb(probe.rss_start_mb),
                _ms(probe.typical_p50_ms())
                + (f" ({len(probe.queries)}/{probe.expected})" if len(probe.queries) < probe.expected else ""),
                slowest,
                probe.note,
            ]
        )
    headers = [
        "graph",
        "engine",
        "triples",
        "load s",
        "peak RSS MB",
        "RSS before MB",
        "typical p50 ms",
        "slowest p50 ms",
        "note",
    ]
    return headers, rows


def cluster_table(results: Results) -> Table:
    """Two replicas behind nginx against one replica direct: req/s, latency, errors, nginx's cache share."""
    rows = []
    for run in results.cluster:
        direct = next(
            (
                r.result
                for r in results.cluster
                if (r.engine, r.workload, r.target) == (run.engine, run.workload, "direct")
            ),
            None,
        )
        if run.result is None:
            rows.append([run.engine, run.workload, run.target, "-", "-", "-", "-", "-", "-", run.note])
            continue
        r = run.result
        ratio = _x(r.rps / direct.rps) if run.target == "nginx" and direct is not None and direct.rps else "-"
        share = f"{cached_share(Counter(run.cache)):.0%}" if run.target == "nginx" else "-"
        figures = [f"{r.rps:,.0f}", _ms(r.p50_ms), _ms(r.p99_ms), str(r.errors), ratio, share]
        rows.append([run.engine, run.workload, run.target, *figures, run.note])
    headers = ["engine", "workload", "target", "req/s", "p50 ms", "p99 ms", "errors", "÷ direct", "from cache"]
    return [*headers, "note"], rows


def scale_table(results: Results) -> Table:
    """The ``scale`` section: one row per size and server; the unique workload by GET, POST form and POST query
    (one figure each, in that order, in one cell), with their ratios to Oxigraph's server on the same graph and run."""
    peers = {row.triples: row.unique for row in results.scale if row.server == "oxigraph"}
    rows = []
    for row in results.scale:
        peer = peers.get(row.triples, {}) if row.server != "oxigraph" else {}
        load: dict[str, list[str]] = {"rps": [], "p99": [], "x": [], "x99": []}
        errors = 0
        for workload in UNIQUE_WORKLOADS:
            mine, theirs = row.unique.get(workload), peer.get(workload)
            errors += mine.errors if mine else 0
            load["rps"].append(f"{mine.rps:,.0f}" if mine else "-")
            load["p99"].append(_ms(mine.p99_ms) if mine else "-")
            load["x"].append(_x(mine.rps / theirs.rps) if mine and theirs and theirs.rps else "-")
            load["x99"].append(_x(mine.p99_ms / theirs.p99_ms) if mine and theirs and theirs.p99_ms else "-")
        cells = [" / ".join(values) if any(v != "-" for v in values) else "-" for values in load.values()]
        cells[0] += f" ({errors} errors)" if errors else ""
        seconds = [_ms(value) for value in (row.prepare_s, row.health_s, row.start_s)]
        memory = [_mb(value) for value in (row.disk_mb, row.pss_one_mb, row.pss_two_mb, row.rss_mb, row.pss_loaded_mb)]
        store = f"the store: PSS {_mb(row.store_pss_mb)} MB" if row.store_pss_mb is not None else ""
        rows.append(
            [f"{row.triples:,}", row.label, *seconds, *memory, *cells, "; ".join(filter(None, [store, row.note]))]
        )
    methods = " / ".join(METHOD_NAMES[method].removeprefix("POST ") for method in SPARQL_METHODS)
    headers = ["triples", "server", "prepare s", "to /health s", "to first answer s", "on disk MB", "PSS one MB"]
    headers += ["PSS two MB", "RSS one MB", "PSS after unique MB", f"unique req/s ({methods})", "p99 ms"]
    headers += ["req/s ÷ Oxigraph", "p99 ÷ Oxigraph"]
    return [*headers, "note"], rows


def target_table(results: Results) -> Table:
    """PASS/MISS/N/A per target."""
    return ["", "target", "requirement", "measured"], [
        [t.status, t.name, t.requirement, t.measured] for t in results.targets
    ]


def _text_table(table: Table) -> list[str]:
    headers, rows = table
    if not rows:
        return ["  (nothing measured)"]
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = ["  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines


def _md_table(table: Table) -> list[str]:
    headers, rows = table
    if not rows:
        return ["(nothing measured)"]
    escape = str.maketrans({"|": "\\|"})
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.translate(escape) for cell in row) + " |" for row in rows]
    return lines


_SECTIONS: tuple[tuple[str, Callable[[Results], Table]], ...] = (
    ("Targets", target_table),
    (
        "HTTP, wrk -t{threads} -c{connections} -d{duration:g}s --latency on 127.0.0.1, {rounds} interleaved rounds "
        "merged",
        http_table,
    ),
    ("Ratios, ours ÷ peer (req/s: above 1 is better; p50, p99: below 1 is better)", ratio_table),
    ("Cold start (process start to first 2xx; median)", cold_start_table),
    ("Server memory after the workloads (process tree)", server_memory_table),
    (
        "Unique ad-hoc queries one at a time (median latency; a new connection and LIMIT each; in process: "
        "pyoxigraph on the built graph)",
        per_query_table,
    ),
    ("In-process latency per canned query on the built graph (pyoxigraph, median)", inprocess_table),
    ("Load time and peak RSS (child process per graph and engine)", load_table),
    (
        "Cluster: two replicas (one granian worker each) behind nginx vs one of them direct; from cache: the share "
        "of nginx's answers sent from its cache (HIT, REVALIDATED, STALE, UPDATING; warm-up included)",
        cluster_table,
    ),
    (
        "Scale: synthetic graphs shaped like ours; one replica --production --workers 1 on its serving bundle, "
        "Oxigraph serve-read-only on a store made by oxigraph load, sparql-engine replicas in front of oxigraph serve "
        "(the graph published into it); prepare: writing the bundle, oxigraph load, publishing; unique: wrk by GET, "
        "POST form and POST query on one server at a time, ours and Oxigraph's in interleaved rounds, merged "
        "(picture: scale.svg)",
        scale_table,
    ),
)
"""The report's sections in order: a title (a template filled from the run's options) and the table's maker."""


def _sections(results: Results) -> Iterable[tuple[str, Table]]:
    for title, table in _SECTIONS:
        yield title.format_map(results.options), table(results)


def _machine_line(results: Results) -> str:
    m = results.machine
    return (
        f"{m['cores']} cores, {m['cpu']}, {m['memory_gb']} GB, {m['os']}, Python {m['python']}, "
        f"commit {m['commit']}{' (dirty)' if m['dirty'] else ''}, load average {m['loadavg_start']}"
    )


def _options_line(results: Results) -> str:
    o = results.options
    data = results.data
    return (
        f"wrk -t{o['threads']} -c{o['connections']} -d{o['duration']:g}s x {o['rounds']} rounds "
        f"(warm-up {o['warmup']:g} s), "
        f"our server with {o['workers']} granian workers, {o['cold_starts']} cold starts, "
        f"graph of {data.get('triples', '?')} triples ({data.get('file', '?')})" + (", quick" if o["quick"] else "")
    )


def text_report(results: Results) -> str:
    """The console report."""
    lines = [
        f"calcinosis-kg benchmark, {results.started}, {results.seconds:.0f} s",
        _machine_line(results),
        _options_line(results),
    ]
    for title, table in _sections(results):
        lines += ["", title, *_text_table(table)]
    if results.notes:
        lines += ["", "Notes", *(f"  - {note}" for note in results.notes)]
    return "\n".join(lines)


def markdown_report(results: Results) -> str:
    """``latest.md``: the machine, then every table, then notes."""
    m = results.machine
    packages = ", ".join(f"{name} {version}" for name, version in m["packages"].items())
    tools = ", ".join(f"{name}: {version}" for name, version in m["tools"].items())
    lines = [
        f"# Benchmark results ({results.started})",
        "",
        f"- **Machine:** {m['cores']} cores, {m['cpu']}, {m['memory_gb']} GB memory, {m['os']}",
        f"- **Python:** {m['python']}; **packages:** {packages}",
        f"- **Tools:** {tools}",
        f"- **Commit:** {m['commit']}{' (uncommitted changes)' if m['dirty'] else ''}; "
        f"**load average** at start {m['loadavg_start']}, at end {m.get('loadavg_end')}",
        f"- **Run:** {results.seconds:.0f} s; {_options_line(results)}",
        "",
        "Figures are only meaningful as ratios within one run: the machine is shared and noisy.",
    ]
    for title, table in _sections(results):
        lines += ["", f"## {title}", "", *_md_table(table)]
    if results.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in results.notes)]
    return "\n".join(lines) + "\n"


def write(results: Results, directory: Path) -> tuple[Path, Path]:
    """Write ``latest.json`` and ``latest.md`` into ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "latest.json", directory / "latest.md"
    json_path.write_text(to_json(results) + "\n", encoding="utf-8")
    md_path.write_text(markdown_report(results), encoding="utf-8")
    return json_path, md_path
