"""The metrics files under a full temporary filesystem, and their folders' lifetime (issue 24, item 3).

A real full filesystem: a 2 MiB tmpfs mounted for the test (root only; skipped with the reason otherwise) is the
server's ``TMPDIR``; it is filled once the server is up, then every route of the app is asked once, so each adds
a counter the metrics files had no room for. prometheus_client's writer died there of SIGBUS (granian: "Worker
crash loop detected, exiting"); the server must answer every request, stay up, and say so in ``/health``; once
there is room again, the counts kept in memory reach ``/metrics``.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from flask import Flask

from calcinosis_kg.server.http.metrics_store import RETRY_S
from tests.support import SERVER_SETTINGS, SIMPLE
from tests.support.live_server import PRODUCTION, SAMPLE_TTL, LiveServer, live_server

pytestmark = [pytest.mark.live]

TMPFS_BYTES = 2 * 1024 * 1024


@pytest.fixture
def full_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted at a folder of ``tmp_path``, unmounted afterwards."""
    mountpoint = tmp_path / "tmpfs"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root, or CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(folder: Path) -> None:
    """Write to a file in ``folder`` until the filesystem has no block left (``ENOSPC``)."""
    descriptor = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(descriptor, b"\0" * size)
    finally:
        os.close(descriptor)
    assert os.statvfs(folder).f_bavail == 0


def kill_a_worker(server_pid: int) -> psutil.Process:
    """SIGKILL the granian worker of the server (a child of its main process); return the one granian starts."""
    main = psutil.Process(server_pid)
    (worker,) = main.children()
    worker.kill()
    worker.wait(timeout=10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        successors = [child for child in main.children() if child.pid != worker.pid]
        if successors:
            return successors[0]
        time.sleep(0.1)
    raise AssertionError("granian started no worker in place of the one killed")


def answer_after_respawn(server: LiveServer, query: str) -> requests.Response:
    """The answer to ``query`` from a server whose only worker was just replaced.

    On Linux each granian worker binds its own ``SO_REUSEPORT`` socket (granian's main process holds none), so
    until the successor has bound its socket a connection is refused: refusals are retried for up to 10 s while
    granian's main process lives. If granian itself is gone, the failure carries its log to say why.
    """
    deadline = time.monotonic() + 10
    while True:
        try:
            return requests.get(server.sparql, params={"query": query}, timeout=10)
        except requests.ConnectionError as error:
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"no answer after the respawn ({error}); granian exit code {server.process.poll()}:\n"
                    f"{server.log_text()[-4000:]}"
                ) from error
            time.sleep(0.05)


def every_route(app: Flask) -> list[str]:
    """One path per URL rule of the app (variables filled with ``x``): each is counted under a key of its own."""
    return sorted({re.sub(r"<[^>]+>", "x", rule.rule) for rule in app.url_map.iter_rules()})


def test_a_full_tmpdir_does_not_stop_the_server(full_tmpfs: Path, app: Flask, tmp_path: Path) -> None:
    settings = {**SERVER_SETTINGS, "TMPDIR": str(full_tmpfs)}
    with live_server(tmp_path, [SAMPLE_TTL], settings, *PRODUCTION) as server:
        assert [p.name for p in full_tmpfs.iterdir() if p.name.startswith("kg-metrics-")], "metrics not in TMPDIR"
        fill(full_tmpfs)
        failures = []
        for path in every_route(app):
            try:
                answer = requests.get(f"{server.url}{path}", timeout=10)
            except requests.RequestException as error:
                failures.append(f"{path}: {type(error).__name__}")
                continue
            if answer.status_code >= 500:
                failures.append(f"{path}: {answer.status_code}")
        assert failures == [], f"requests failed with TMPDIR full:\n{server.log_text()[-2000:]}"
        query = requests.get(server.sparql, params={"query": SIMPLE}, timeout=10)
        for _ in range(10):  # a route above given up at the client's timeout may still hold this client's share
            if query.status_code != 429:
                break
            time.sleep(float(query.headers["Retry-After"]))
            query = requests.get(server.sparql, params={"query": SIMPLE}, timeout=10)
        assert query.status_code == 200
        health = requests.get(f"{server.url}/health", timeout=10)
        assert health.status_code == 200
        payload = health.json()
        assert payload["status"] == "ok"
        assert payload["metrics"].startswith("degraded: "), payload
        assert "No space left on device" in payload["metrics"] or "bytes free" in payload["metrics"]
        scraped = requests.get(f"{server.url}/metrics", timeout=10)
        assert scraped.status_code == 200
        time.sleep(1)  # a worker killed by the last request would be respawned, or granian gone, by now
        assert server.process.poll() is None, server.log_text()[-2000:]
        assert "crash loop" not in server.log_text()

        assert "Unexpected exit" not in server.log_text(), server.log_text()[-3000:]  # no worker died so far
        respawned = kill_a_worker(server.process.pid)  # its successor allocates its files with the folder full
        query = answer_after_respawn(server, 'ASK { ?s ?p "after the respawn" }')
        assert query.status_code == 200
        assert respawned.is_running()
        assert server.process.poll() is None, server.log_text()[-2000:]

        (full_tmpfs / "filler").unlink()  # room again: the worker allocates its file and writes what it kept
        time.sleep(RETRY_S + 0.5)
        fresh = requests.get(server.sparql, params={"query": 'ASK { ?s ?p "not cached" }'}, timeout=10)
        assert fresh.status_code == 200
        assert requests.get(f"{server.url}/health", timeout=10).json()["metrics"] == "ok"
        counted = re.search(
            r"^kg_query_seconds_count (\S+)$", requests.get(f"{server.url}/metrics", timeout=10).text, re.M
        )
        assert counted is not None
        assert float(counted.group(1)) >= 2  # the query made while the folder was full, and this one
    assert [p.name for p in full_tmpfs.iterdir() if p.name.startswith("kg-metrics-")] == []


def test_health_says_ok_while_the_metrics_folder_has_room(tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    with live_server(tmp_path, [SAMPLE_TTL], {**SERVER_SETTINGS, "TMPDIR": str(tmpdir)}, *PRODUCTION) as server:
        assert requests.get(f"{server.url}/health", timeout=10).json()["metrics"] == "ok"
        assert any(p.name.startswith("kg-metrics-") for p in tmpdir.iterdir())


def dead_pid() -> int:
    """The id of a process that has exited."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(done.stdout)


def test_metrics_folders_are_removed_on_exit_and_stale_ones_at_the_next_start(tmp_path: Path) -> None:
    """A folder of a server that is gone (killed: its pid in the name, or in its files' names) is removed when
    the next server starts; the new server's own folder is removed when it exits. One of a live process stays."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    gone = dead_pid()
    stale_named = tmpdir / f"kg-metrics-{gone}-abc123"
    stale_old_style = tmpdir / "kg-metrics-k2j4h5"  # the names before this change: owners in the file names
    live_old_style = tmpdir / "kg-metrics-live0001"
    for folder in (stale_named, stale_old_style, live_old_style):
        folder.mkdir()
    (stale_named / f"counter_{gone}.db").write_bytes(b"\0" * 64)
    (stale_old_style / f"counter_{gone}.db").write_bytes(b"\0" * 64)
    (live_old_style / f"counter_{os.getpid()}.db").write_bytes(b"\0" * 64)
    an_hour_ago = time.time() - 3600
    for folder in (stale_old_style, live_old_style):
        os.utime(folder, (an_hour_ago, an_hour_ago))
    with live_server(tmp_path, [SAMPLE_TTL], {**SERVER_SETTINGS, "TMPDIR": str(tmpdir)}, *PRODUCTION) as server:
        assert requests.get(f"{server.url}/health", timeout=10).status_code == 200
        left = sorted(p.name for p in tmpdir.iterdir())
        assert stale_named.name not in left
        assert stale_old_style.name not in left
        assert live_old_style.name in left
        own = [name for name in left if name.startswith(f"kg-metrics-{server.process.pid}-")]
        assert len(own) == 1, left
        counted = requests.get(f"{server.url}/metrics", timeout=10).text
        assert 'kg_http_requests_total{route="/health",status="200"}' in counted
    assert sorted(p.name for p in tmpdir.iterdir()) == [live_old_style.name]


def test_files_grow_past_their_first_allocation_and_read_back_whole(tmp_path: Path) -> None:
    """1,000 counters (about 150 KiB of keys, past the 64 KiB first allocation) and a histogram, read back by
    prometheus_client's own collector: the format is the one it reads, and growing loses no value. A second
    store of the same process on the same folder writes files of its own (the same name would truncate the
    first one's file under its map)."""
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    from calcinosis_kg.server.http.metrics import Metrics

    metrics = Metrics.create(str(tmp_path / "metrics"))
    for n in range(1000):
        metrics.count_request(f"/route/{n}", 200 + n % 3)
        metrics.count_request(f"/route/{n}", 200 + n % 3)
    for seconds in (0.0005, 0.003, 0.2, 20.0):
        metrics.query_seconds.observe(seconds)
    second = Metrics.create(metrics.directory)  # another app of this process on the same folder: files of its own
    second.count_request("/route/0", 200)
    metrics.count_request("/route/3", 200)  # the first one's file, grown past its first allocation, still writes
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=metrics.directory)  # type: ignore[no-untyped-call]
    text = generate_latest(registry).decode()
    counted = re.findall(r'^kg_http_requests_total\{route="/route/(\d+)",status="(\d+)"\} (\S+)$', text, re.M)
    assert len(counted) == 1000
    expected = {"0": "3.0", "3": "3.0"}
    assert all(value == expected.get(n, "2.0") and int(status) == 200 + int(n) % 3 for n, status, value in counted)
    assert 'kg_query_seconds_bucket{le="0.001"} 1.0' in text
    assert 'kg_query_seconds_bucket{le="0.25"} 3.0' in text
    assert 'kg_query_seconds_bucket{le="+Inf"} 4.0' in text
    assert "kg_query_seconds_count 4.0" in text
    assert (tmp_path / "metrics" / f"counter_{os.getpid()}.db").stat().st_size > 64 * 1024


def test_counts_kept_in_memory_reach_the_files_once_there_is_room(full_tmpfs: Path) -> None:
    """In process, on the tmpfs: with no room, every kind of value is kept in memory and the state is degraded;
    once there is room, the next count (of any kind) writes them all, and the state is ok again."""
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    from calcinosis_kg.server.http.metrics import Metrics

    metrics = Metrics.create(str(full_tmpfs / "metrics"))
    fill(full_tmpfs)
    metrics.waiting.inc()
    metrics.query_seconds.observe(0.003)
    metrics.count_request("/sparql", 200)
    assert metrics.state().startswith("degraded: cannot allocate "), metrics.state()
    assert "No space left on device" in metrics.state()
    assert list((full_tmpfs / "metrics").iterdir()) == []
    (full_tmpfs / "filler").unlink()
    time.sleep(RETRY_S + 0.2)
    metrics.count_request("/sparql", 200)  # a counter: the gauge and the histogram are written too
    assert metrics.state() == "ok"
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=metrics.directory)  # type: ignore[no-untyped-call]
    text = generate_latest(registry).decode()
    assert 'kg_http_requests_total{route="/sparql",status="200"} 2.0' in text
    assert "kg_query_seconds_count 1.0" in text
    assert "kg_query_waiting 1.0" in text
