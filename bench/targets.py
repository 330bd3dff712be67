"""The performance targets, judged on one run's figures: PASS, MISS, or N/A when a figure is missing.

1. Canned-query mix (``/queries/{name}``; the ad-hoc form when the route is missing) on our server: at
   least 2x the requests/s of Oxigraph's server on the same queries, p99 under 5 ms, no error.
2. Unique ad-hoc queries with the oxigraph backend: at least 0.5x Oxigraph's server and 10x rdflib-endpoint.
3. Cold start under 1 s: process start to the first answer of ``/health`` and of a query.
4. The synthetic 1M-triple graph loads in under 5 s with under 600 MB peak RSS (pyoxigraph, as the oxigraph
   backend loads it) and its typical query (median of the canned queries' medians) takes under 50 ms.
"""

from __future__ import annotations

from bench.model import Results, Target
from bench.wrk import WrkResult

CANNED_RATIO = 2.0
CANNED_P99_MS = 5.0
UNIQUE_VS_OXIGRAPH = 0.5
UNIQUE_VS_RDFLIB_ENDPOINT = 10.0
COLD_START_S = 1.0
BIG_TRIPLES = 1_000_000
BIG_LOAD_S = 5.0
BIG_RSS_MB = 600.0
BIG_QUERY_P50_MS = 50.0


def _status(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _ratio(ours: WrkResult, peer: WrkResult) -> float:
    return ours.rps / peer.rps if peer.rps else float("inf")


def _our_backends(results: Results) -> list[str]:
    return [key for key, record in results.servers.items() if record.ours and record.available]


def canned_mix(results: Results) -> list[Target]:
    """Target 1, for each of our backends that ran."""
    requirement = f">= {CANNED_RATIO:g}x Oxigraph server req/s, p99 < {CANNED_P99_MS:g} ms, 0 errors"
    peer = results.run("adhoc", "oxigraph")
    targets = []
    for key in _our_backends(results) or ["ours"]:
        label = results.servers[key].label if key in results.servers else key
        name = f"canned-query mix, {label}"
        ours, how = results.run("canned", key), "/queries"
        if ours is None:
            ours, how = results.run("adhoc", key), "ad-hoc /sparql (no /queries route)"
        if ours is None or peer is None:
            missing = "our server" if ours is None else "Oxigraph server"
            targets.append(Target(name, requirement, "N/A", f"no figure for {missing}"))
            continue
        ratio = _ratio(ours, peer)
        ok = ratio >= CANNED_RATIO and ours.p99_ms < CANNED_P99_MS and ours.errors == 0
        measured = (
            f"x{ratio:.2f} ({ours.rps:,.0f} vs {peer.rps:,.0f} req/s) via {how}, "
            f"p99 {ours.p99_ms:.1f} ms, {ours.errors} errors"
        )
        targets.append(Target(name, requirement, _status(ok), measured))
    return targets


def unique_adhoc(results: Results) -> Target:
    """Target 2 (oxigraph backend); the rdflib backend's figures are quoted when it is missing."""
    requirement = (
        f">= {UNIQUE_VS_OXIGRAPH:g}x Oxigraph server and >= {UNIQUE_VS_RDFLIB_ENDPOINT:g}x rdflib-endpoint req/s"
    )
    name = "unique ad-hoc queries, oxigraph backend"
    oxigraph, endpoint = results.run("unique", "oxigraph"), results.run("unique", "rdflib-endpoint")
    ours = results.run("unique", "ours-oxigraph")
    if ours is None:
        why = results.servers["ours-oxigraph"].note if "ours-oxigraph" in results.servers else "not run"
        rdflib = results.run("unique", "ours")
        if rdflib is not None and oxigraph is not None and endpoint is not None:
            why += (
                f"; rdflib backend for reference: x{_ratio(rdflib, oxigraph):.3f} Oxigraph, "
                f"x{_ratio(rdflib, endpoint):.2f} rdflib-endpoint"
            )
        return Target(name, requirement, "N/A", why)
    if oxigraph is None or endpoint is None:
        return Target(name, requirement, "N/A", "a peer did not run")
    vs_ox, vs_ep = _ratio(ours, oxigraph), _ratio(ours, endpoint)
    ok = vs_ox >= UNIQUE_VS_OXIGRAPH and vs_ep >= UNIQUE_VS_RDFLIB_ENDPOINT
    measured = f"x{vs_ox:.2f} Oxigraph, x{vs_ep:.1f} rdflib-endpoint ({ours.rps:,.0f} req/s)"
    return Target(name, requirement, _status(ok), measured)


def cold_start(results: Results) -> list[Target]:
    """Target 3, for each of our backends that ran."""
    requirement = f"< {COLD_START_S:g} s to the first /health and to the first query answer"
    targets = []
    for key in _our_backends(results):
        record = results.servers[key]
        start = record.cold_start()
        name = f"cold start, {record.label}"
        if start is None:
            targets.append(Target(name, requirement, "N/A", "not measured"))
            continue
        query = f"{start.query_s:.2f} s" if start.query_s is not None else "no answer"
        ok = start.health_s < COLD_START_S and start.query_s is not None and start.query_s < COLD_START_S
        measured = f"/health {start.health_s:.2f} s, query {query} (median of {len(record.cold_starts)})"
        targets.append(Target(name, requirement, _status(ok), measured))
    return targets


def big_graph(results: Results) -> list[Target]:
    """Target 4: load time and peak RSS, then typical query latency, on the synthetic graph (pyoxigraph)."""
    load_req = f"< {BIG_LOAD_S:g} s and < {BIG_RSS_MB:g} MB peak RSS (pyoxigraph)"
    query_req = f"typical query p50 < {BIG_QUERY_P50_MS:g} ms (pyoxigraph)"
    synthetic = results.synthetic
    if synthetic is None or synthetic.triples < BIG_TRIPLES:
        why = "not run" if synthetic is None else f"synthetic graph of {synthetic.triples:,} triples only"
        return [Target("1M-triple load", load_req, "N/A", why), Target("1M-triple queries", query_req, "N/A", why)]
    targets = []
    loads = [p for p in results.loads if p.engine.startswith("pyoxigraph") and p.load_s is not None]
    if loads:
        best = min(loads, key=lambda p: (not (p.peak_rss_mb or 0) < BIG_RSS_MB, p.load_s or 0))
        ok = (best.load_s or 0) < BIG_LOAD_S and (best.peak_rss_mb or 0) < BIG_RSS_MB
        measured = "; ".join(f"{p.engine}: {p.load_s:.2f} s, {p.peak_rss_mb:.0f} MB" for p in loads)
        targets.append(Target("1M-triple load", load_req, _status(ok), measured))
    else:
        targets.append(Target("1M-triple load", load_req, "N/A", "pyoxigraph probe failed"))
    probe = results.probe(results.loads, "pyoxigraph")
    typical = probe.typical_p50_ms() if probe else None
    if probe is None or typical is None:
        targets.append(Target("1M-triple queries", query_req, "N/A", "no query timed"))
    else:
        measured = (
            f"typical {typical:.2f} ms over {len(probe.queries)} canned queries; "
            f"slowest {probe.slowest()} {probe.worst_p50_ms():.1f} ms"
        )
        if len(probe.queries) < probe.expected:
            measured += f" (only {len(probe.queries)} of {probe.expected} queries ran{probe.note})"
        targets.append(Target("1M-triple queries", query_req, _status(typical < BIG_QUERY_P50_MS), measured))
    return targets


def judge(results: Results) -> list[Target]:
    """Every target, in the order of the module docstring."""
    return [*canned_mix(results), unique_adhoc(results), *cold_start(results), *big_graph(results)]
