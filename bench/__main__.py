"""``python -m bench``: benchmark our SPARQL server against Oxigraph's server and rdflib-endpoint.

Prints a report, and writes ``bench/results/latest.json`` and ``latest.md``. Exit status: 0 when the run
completed (whatever the targets say), 2 when a required tool is missing, 130 when interrupted. See
docs/benchmark.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from bench.report import text_report, write
from bench.runner import OTHER_SECTIONS, SERVERS, Options, log, run
from bench.scale import DEFAULT_SIZES, QUICK_SIZES, parse_size
from bench.scale_plot import PICTURE, write_picture
from bench.workloads import HTTP_WORKLOADS, QUERY_WORKLOADS, SPARQL_METHODS

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> Options:
    """Command-line options; ``--quick`` changes the defaults of the duration options it names."""
    sections = (*HTTP_WORKLOADS, *OTHER_SECTIONS)
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the calcinosis-kg server against Oxigraph's server and rdflib-endpoint (wrk).",
        epilog=f"--only takes workloads/sections {', '.join(sections)} and servers {', '.join(SERVERS)}; "
        "without any of one kind, all of that kind run. adhoc (unique) also runs adhoc-form and adhoc-direct "
        "(unique-form, unique-direct): the same queries by POST.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: one 2 s wrk run each, no warm-up, 1 cold start, 5 timed runs per query",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        choices=[*sections, *SERVERS],
        default=[],
        help="run only these workloads/sections and/or servers",
    )
    parser.add_argument("--duration", type=float, help="seconds per measured wrk run (default 6, quick 2)")
    parser.add_argument(
        "--rounds", type=int, help="measured runs per workload and server, interleaved, merged (default 2, quick 1)"
    )
    parser.add_argument("--warmup", type=float, help="seconds of wrk warm-up before each run (default 1, quick 0)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--timeout", type=float, default=5, help="wrk per-request timeout, seconds (default 5)")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="granian worker processes of our server (default: one per core)",
    )
    parser.add_argument("--cold-starts", type=int, help="cold starts per server, median kept (default 3, quick 1)")
    parser.add_argument(
        "--synthetic-triples", type=int, default=1_000_000, help="size of the synthetic graph (default 1,000,000)"
    )
    parser.add_argument(
        "--scale",
        nargs="+",
        type=parse_size,
        metavar="TRIPLES",
        help="sizes of the scale section's synthetic graphs, e.g. 10k 100k 1M 10M (default 10k 100k 1M; quick 10k "
        "100k)",
    )
    parser.add_argument("--data", type=Path, help="N-Triples file to serve instead of building the graph")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help=f"results folder (default {RESULTS_DIR})")
    parser.add_argument(
        "--plot",
        type=Path,
        help=f"the scale section's picture, also written as scale.svg in the results folder (default {PICTURE}, "
        "the README's, except with --quick; '' for none)",
    )
    args = parser.parse_args(argv)
    chosen_sections = frozenset(
        f"{name}{method}" if name in QUERY_WORKLOADS else name
        for name in args.only
        if name in sections
        for method in (SPARQL_METHODS if name in QUERY_WORKLOADS else ("",))
    )
    chosen_servers = frozenset(name for name in args.only if name in SERVERS)
    quick: bool = args.quick
    return Options(
        sections=chosen_sections or frozenset(sections),
        servers=chosen_servers or frozenset(SERVERS),
        duration=args.duration if args.duration is not None else (2 if quick else 6),
        rounds=max(1, args.rounds if args.rounds is not None else (1 if quick else 2)),
        warmup=args.warmup if args.warmup is not None else (0 if quick else 1),
        connections=args.connections,
        threads=args.threads,
        timeout=args.timeout,
        workers=args.workers,
        cold_starts=args.cold_starts if args.cold_starts is not None else (1 if quick else 3),
        probe_reps=5 if quick else 20,
        probe_budget=0.3 if quick else 1.0,
        synthetic_triples=args.synthetic_triples,
        scale=tuple(args.scale or (QUICK_SIZES if quick else DEFAULT_SIZES)),
        data=args.data,
        out=args.out,
        quick=quick,
        plot=_picture(args.plot, quick),
    )


def _picture(given: Path | None, quick: bool) -> Path | None:
    """Where the scale picture goes besides the results: ``--plot`` (``''``: nowhere), else the README's unless
    the run is ``--quick`` (a smoke run's figures must not replace the committed picture)."""
    if given is None:
        return None if quick else PICTURE
    return None if str(given) in ("", ".") else given


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; servers are stopped on every way out (error, Ctrl-C, SIGTERM, SIGHUP)."""
    options = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="kg-bench-") as workdir:
            results = run(options, Path(workdir))
    except KeyboardInterrupt:
        log("interrupted: every server started was stopped")
        return 130
    except SystemExit as stop:
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
            return 2
        raise
    print(text_report(results))
    json_path, md_path = write(results, options.out)
    log(f"wrote {json_path} and {md_path}")
    for picture in (options.out / "scale.svg", options.plot):
        if picture is not None and write_picture(results, picture) is not None:
            log(f"wrote {picture}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
