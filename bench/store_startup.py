"""A ``KG_ENGINE=sparql`` replica's start and memory, with and without the store's bundle (issue 28 item 2):
``python -m bench.store_startup [FILE.nt...] [--triples N...] [--bundle on off]``.

For each data file (``--triples``: synthetic graphs, :mod:`bench.synthetic`): an ``oxigraph serve
--union-default-graph`` store on loopback, the file published into it by ``calcinosis-kg publish`` (which writes the
bundle; its time is the ``publish`` column), then, for each ``--bundle`` mode, one replica ``calcinosis-kg serve
--production --workers 1`` on ``KG_ENGINE=sparql`` against it, with ``KG_BUNDLE`` the bundle's folder (``on``) or
``off`` (the store read at start-up, the path before the bundle); measured as :mod:`bench.startup` does (start to
``/health`` 200, first canned answer, PSS of the replica's process tree after a lookup, a page and a canned query;
the store's own memory is not counted). Everything runs on loopback; the store and replicas are stopped after.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.servers import free_port, tree_memory
from bench.startup import PROBES, _get, _synthetic, start, stop

GRAPH = "urn:x-calcinosis-kg:bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--triples", nargs="*", type=int, default=[], help="synthetic graphs of these sizes")
    parser.add_argument("--bundle", nargs="+", default=["on", "off"], choices=("on", "off"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-store-startup-") as name:
        folder = Path(name)
        files = [*args.files, *(_synthetic(triples, folder) for triples in args.triples)]
        print("| data | file MB | publish s | KG_BUNDLE | start (/health) s | first answer s | PSS MB |")
        for data in files:
            _measure(data, folder, args.bundle)
    return 0


def _measure(data: Path, folder: Path, modes: list[str]) -> None:
    port = free_port()
    oxigraph = Path(sys.executable).parent / "oxigraph"
    argv = [str(oxigraph), "serve", "-l", str(folder / f"store-{port}"), "-b", f"127.0.0.1:{port}"]
    store = subprocess.Popen([*argv, "--union-default-graph"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    url = f"http://127.0.0.1:{port}/query"
    try:
        while _get(url + "?query=ASK%7B%7D", 1.0) != 200:
            time.sleep(0.05)
        bundle = folder / f"bundle-{port}"
        started = time.perf_counter()
        publish = [sys.executable, "-m", "calcinosis_kg.cli", "publish", "--store", url, "--data", str(data)]
        subprocess.run([*publish, "--graph", GRAPH, "--bundle", str(bundle)], check=True, capture_output=True)  # noqa: S603
        published = time.perf_counter() - started
        size = data.stat().st_size / 2**20
        for mode in modes:
            env = {
                "KG_ENGINE": "sparql",
                "KG_STORE_URL": url,
                "KG_BUNDLE": str(bundle) if mode == "on" else "off",
                "KG_UNION_DEFAULT_GRAPH": "true",
            }
            process, replica, health, first = start(data, env)
            try:
                for probe in PROBES:
                    _get(replica + probe)
                memory = tree_memory(process.pid)
                pss = f"{memory.pss_mb:.0f}" if memory and memory.pss_mb else "?"
                print(f"| {data.name} | {size:.0f} | {published:.1f} | {mode} | {health:.2f} | {first:.2f} | {pss} |")
            finally:
                stop(process)
    finally:
        store.terminate()
        store.wait(30)


if __name__ == "__main__":
    sys.exit(main())
