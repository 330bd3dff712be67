"""Replicas of our server behind nginx on loopback: the configuration of ``deploy/nginx.conf`` filled in, nginx
run as the current user in a folder of its own, and what its access log says about its cache.

Used by ``make bench`` (the ``cluster`` section) and by ``tests/server/test_cluster.py``. The replicas are
:func:`bench.servers.ours_spec` servers started by a :class:`bench.servers.Supervisor` (each in its own process
group, so :func:`kill_group` ends a replica with all its workers at once, as a crash would).
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import os
import re
import shutil
import signal
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.servers import Server, ServerSpec, Supervisor, executable, wait_for
from calcinosis_kg.graph.publish import publish, publish_bundle, read_release

TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "nginx.conf"
CACHE_STATUS = "X-Cache-Status"
"""The header nginx adds to every answer: HIT, MISS, EXPIRED, REVALIDATED, STALE, UPDATING, BYPASS (or empty)."""
FROM_CACHE = frozenset({"HIT", "REVALIDATED", "STALE", "UPDATING"})
"""Cache statuses of answers whose body nginx sent from its cache (REVALIDATED: after a 304 from a replica)."""
MAX_FAILS = 1
FAIL_TIMEOUT_S = 5
_CACHE_FIELD = re.compile(r" cache=(\S*) ")


def nginx_program() -> str | None:
    """The nginx binary (Debian's package installs it in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def render_config(prefix: Path, port: int, replica_ports: Sequence[int], workers: int = 1) -> Path:
    """Write ``deploy/nginx.conf`` filled in for nginx on ``port`` in front of ``replica_ports``; return its path."""
    replicas = "\n".join(
        f"        server 127.0.0.1:{replica} max_fails={MAX_FAILS} fail_timeout={FAIL_TIMEOUT_S}s;"
        for replica in replica_ports
    )
    fields = {
        "PREFIX": str(prefix),
        "LISTEN": f"127.0.0.1:{port}",
        "REPLICAS": replicas,
        "DAEMON": "off",
        "WORKERS": str(workers),
        "USER": getpass.getuser(),
    }
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, value in fields.items():
        text = text.replace(f"@@{name}@@", value)
    if "@@" in text:
        raise ValueError(f"{TEMPLATE} has a field this code does not fill: {text[text.index('@@') :][:40]}")
    prefix.mkdir(parents=True, exist_ok=True)
    path = prefix / "nginx.conf"
    path.write_text(text, encoding="utf-8")
    return path


def nginx_spec(program: str, prefix: Path, replica_ports: Sequence[int], workers: int = 1) -> ServerSpec:
    """nginx in front of ``replica_ports``; the configuration is written when the supervisor picks the port."""

    def argv(port: int) -> list[str]:
        config = render_config(prefix, port, replica_ports, workers)
        return [program, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]

    return ServerSpec.serving_our_api("nginx", f"nginx in front of {len(replica_ports)} replicas", argv)


def kill_group(server: Server) -> None:
    """SIGKILL the server's whole process group (its main process, granian workers and query workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)


def cache_statuses(prefix: Path) -> Counter[str]:
    """How many answers of nginx's access log had each cache status (``-`` for answers not cacheable)."""
    log = prefix / "access.log"
    counts: Counter[str] = Counter()
    if log.is_file():
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            found = _CACHE_FIELD.search(line)
            counts[(found.group(1) if found else "") or "-"] += 1
    return counts


def cached_share(counts: Counter[str]) -> float:
    """The share of answers nginx sent from its cache."""
    total = sum(counts.values())
    return sum(n for status, n in counts.items() if status in FROM_CACHE) / total if total else 0.0


def published_store(supervisor: Supervisor, data: Path, location: Path) -> tuple[Server, float]:
    """``oxigraph serve --union-default-graph`` on an empty store, then ``data`` published into it as
    ``calcinosis-kg publish`` does (the PUT and count check, then the replicas' bundle in
    :func:`store_bundle` ``(location)`` and the store's marker); return the running store and the seconds
    publishing took."""
    program = executable("oxigraph")
    if program is None:
        raise SystemExit("oxigraph is not installed: run `make install` (the dev extra has it)")
    spec = ServerSpec.peer(
        "store",
        "oxigraph serve (the replicas' store)",
        "/query",
        lambda port: [program, "serve", "-l", str(location), "-b", f"127.0.0.1:{port}", "--union-default-graph"],
    )
    store = supervisor.start(spec)
    wait_for(store, "/", interval=0.1)
    release = read_release(data)
    started = time.perf_counter()
    done = publish(release, store_url(store), release.version_iri or "urn:calcinosis-kg:bench")
    publish_bundle(release, store_url(store), done, store_bundle(location))
    return store, time.perf_counter() - started


def store_bundle(location: Path) -> Path:
    """Where :func:`published_store` writes the replicas' bundle of the store at ``location``."""
    return location.with_name(f"{location.name}-bundle")


def store_url(store: Server) -> str:
    return f"http://127.0.0.1:{store.port}{store.spec.sparql_path}"


def sparql_replica_spec(replica: ServerSpec, store: Server, bundle: Path) -> ServerSpec:
    """``replica`` on ``KG_ENGINE=sparql`` against ``store`` (no data of its own), starting from the ``bundle``
    publishing wrote (:func:`store_bundle`)."""
    env = {
        "KG_DATA": "",
        "KG_ENGINE": "sparql",
        "KG_STORE_URL": store_url(store),
        "KG_BUNDLE": str(bundle),
        "KG_UNION_DEFAULT_GRAPH": "true",  # the store's (--union-default-graph), as publish made the bundle
    }
    return dataclasses.replace(replica, label="ours (sparql engine)", env=env)
