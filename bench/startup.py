"""A replica's start and memory: ``python -m bench.startup [FILE.nt...] [--triples N...]`` (issue 28).

``--triples`` adds synthetic graphs of those sizes (:mod:`bench.synthetic`, from the built graph, in a temporary
folder). ``--bundle`` is the replicas' ``KG_BUNDLE``: ``make`` (the default of ``calcinosis-kg serve``) first
starts a replica that makes the data's serving bundle (its start is the ``made`` column) and measures the next
one; ``off`` measures the files loaded at every start (the path before the bundle).

For each data file, one replica ``calcinosis-kg serve --production --workers 1`` (defaults: 2 query workers) is
started with ``KG_DATA`` set to it; measured: the seconds from the start of the process to its first
``/health`` 200 (``start``), to the first answer of a canned query after it (``first answer``), then the PSS of the
replica's process tree (:func:`bench.servers.tree_memory`) after a lookup, a page and a canned query. With
``--replicas 2``, a second replica on the same data is started once the first serves, and the PSS of both trees
is summed. Each replica is stopped before the next file; everything runs on loopback.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.servers import free_port, tree_memory

PROBES = ("/lookup?q=calcinosis", "/id/calcinosis-cutis", "/queries/cancers")


def _get(url: str, timeout: float = 60.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
            response.read()
            return int(response.status)
    except OSError:
        return 0


def start(data: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, float, float]:
    """Start a replica on ``data``; its process, URL, seconds to /health 200 and to the first canned answer."""
    port = free_port()
    started = time.perf_counter()
    argv = [sys.executable, "-m", "calcinosis_kg.server", "--port", str(port), "--production", "--workers", "1"]
    process = subprocess.Popen(  # noqa: S603 (our own server)
        argv, env={**os.environ, **env, "KG_DATA": str(data)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    while _get(url + "/health", 1.0) != 200:
        if process.poll() is not None or time.perf_counter() - started > 600:
            raise RuntimeError(f"the replica on {data} did not start")
        time.sleep(0.02)
    health = time.perf_counter() - started
    _get(url + PROBES[-1])
    return process, url, health, time.perf_counter() - started


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, 15)
    process.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--triples", nargs="*", type=int, default=[], help="synthetic graphs of these sizes")
    parser.add_argument("--replicas", type=int, default=1, choices=(1, 2))
    parser.add_argument("--bundle", default="make", choices=("make", "off"), help="the replicas' KG_BUNDLE")
    args = parser.parse_args()
    env = {"KG_BUNDLE": args.bundle}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        files = [*args.files, *(_synthetic(triples, Path(folder)) for triples in args.triples)]
        print("| data | file MB | made s | start (/health) s | first answer s | PSS one MB | PSS all MB |")
        for data in files:
            _measure(data, env, args.replicas)
    return 0


def _synthetic(triples: int, folder: Path) -> Path:
    from bench.synthetic import generate
    from calcinosis_kg.paths import build_dir

    return generate(build_dir() / "calcinosis-kg.nt", folder / f"synthetic-{triples}.nt", triples).path


def _measure(data: Path, env: dict[str, str], replicas: int) -> None:
    """One row: (make the bundle,) start one replica, probe it, measure; a second replica with ``replicas=2``."""
    made = "-"
    if env["KG_BUNDLE"] == "make":
        process, _, made_s, _ = start(data, env)
        stop(process)
        made = f"{made_s:.2f}"
    processes = []
    try:
        process, url, health, first = start(data, env)
        processes.append(process)
        for probe in PROBES:
            _get(url + probe)
        one = tree_memory(process.pid)
        total = one.pss_mb if one else None
        if replicas == 2:
            other, other_url, _, _ = start(data, env)
            processes.append(other)
            for probe in PROBES:
                _get(other_url + probe)
            two = tree_memory(other.pid)
            total = None if total is None or two is None or two.pss_mb is None else total + two.pss_mb
            one = tree_memory(process.pid)  # again: the pages both map are now shared
        size = data.stat().st_size / 2**20
        pss = f"{one.pss_mb:.0f}" if one and one.pss_mb else "?"
        row = f"| {data.name} | {size:.0f} | {made} | {health:.2f} | {first:.2f} | {pss} | {total or 0:.0f} |"
        print(row, flush=True)
    finally:
        for process in processes:
            stop(process)


if __name__ == "__main__":
    sys.exit(main())
