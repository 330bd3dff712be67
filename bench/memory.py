"""Load time, peak RSS and in-process query latency, each measured in a child process (:mod:`bench.probe`).

A fresh interpreter per (graph, engine) makes the peak RSS that of loading that graph with that engine
alone (interpreter and imports included; ``rss_start_mb`` is the RSS before loading). Each probe is bounded
by a timeout; the lines it printed before being stopped are kept, so a slow engine still reports its load
and the queries it finished.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class QueryTiming:
    """In-process latency of one query: first run, then median and minimum of the timed runs (ms)."""

    name: str
    rows: int
    runs: int
    first_ms: float
    p50_ms: float
    min_ms: float
    how: str = ""
    """How the parameters were bound, when not by the engine's usual way."""


@dataclass
class ProbeResult:
    """One probe: a graph loaded by an engine, then (optionally) the canned queries timed on it."""

    graph: str
    engine: str
    triples: int | None = None
    load_s: float | None = None
    rss_start_mb: float | None = None
    peak_rss_mb: float | None = None
    """Peak RSS once loaded (the load's high-water mark)."""
    final_peak_rss_mb: float | None = None
    """Peak RSS at the end, after the queries."""
    queries: list[QueryTiming] = field(default_factory=list)
    expected: int = 0
    """Queries the probe was given."""
    complete: bool = False
    note: str = ""

    def typical_p50_ms(self) -> float | None:
        """Median over the queries of each query's median latency (the "typical query")."""
        return median(q.p50_ms for q in self.queries) if self.queries else None

    def worst_p50_ms(self) -> float | None:
        """The slowest query's median latency."""
        return max(q.p50_ms for q in self.queries) if self.queries else None

    def slowest(self) -> str:
        """Name of the slowest query."""
        return max(self.queries, key=lambda q: q.p50_ms).name if self.queries else ""


def run_probe(
    graph: str,
    engine: str,
    data: Path,
    *,
    queries: Path | None,
    reps: int,
    budget: float,
    timeout: float,
) -> ProbeResult:
    """Run :mod:`bench.probe` on ``data`` with ``engine``; never raises for the probe's own failures."""
    argv = [sys.executable, "-m", "bench.probe", "--engine", engine, "--file", str(data)]
    argv += ["--reps", str(reps), "--budget", str(budget)]
    if queries is not None:
        argv += ["--queries", str(queries)]
    result = ProbeResult(graph, engine)
    try:
        done = subprocess.run(  # noqa: S603
            argv, capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False
        )
        output, errors = done.stdout, done.stderr
        if done.returncode != 0:
            result.note = f"probe exited with {done.returncode}: {errors.strip().splitlines()[-1:]}"
    except subprocess.TimeoutExpired as expired:
        output = _text(expired.stdout)
        result.note = f"stopped after {timeout:g} s"
    for line in output.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "loaded":
            result.triples = event["triples"]
            result.load_s = event["seconds"]
            result.rss_start_mb = event["rss_start_mb"]
            result.peak_rss_mb = event["peak_rss_mb"]
        elif event.get("event") == "query":
            fields = {key: event[key] for key in ("name", "rows", "runs", "first_ms", "p50_ms", "min_ms")}
            fields["how"] = event.get("how", "")
            result.queries.append(QueryTiming(**fields))
        elif event.get("event") == "done":
            result.complete = True
            result.final_peak_rss_mb = event["peak_rss_mb"]
    if queries is not None:
        names = [spec["name"] for spec in json.loads(queries.read_text())]
        result.expected = len(names)
        if len(result.queries) < len(names):
            result.note += f", during {names[len(result.queries)]} ({len(result.queries)}/{len(names)} queries)"
    return result


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
