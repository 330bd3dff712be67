"""Where every process of the server writes its counters: files allocated before they are written, so that a full
temporary filesystem costs counts, never a process.

prometheus_client's own multiprocess values map a sparse file (``truncate``) and write into it. On a full
filesystem (a tmpfs, the usual ``$TMPDIR``) the first write to a page not yet backed by a block is a SIGBUS: the
granian worker dies, its respawned successor dies the same way at its first request, and granian exits ("crash
loop detected"; issue 24). Here each process's file of each kind (``counter``, ``histogram``,
``gauge_livesum``) is allocated with ``posix_fallocate`` before it is mapped, and grown the same way. An
allocation either succeeds, and no later write needs a block, or fails with an ``OSError`` (``ENOSPC``): the
process then keeps those values in its memory (counted, not scraped) and tries again at most every
:data:`RETRY_S`, writing them all once it succeeds. A failure is recorded in memory shared by every process of
the server (:class:`SharedNote`), which ``/health`` reports with the free space of the directory.

The files have prometheus_client's format (``mmap_dict``: the bytes used, then entries of a key, a value and a
timestamp), so ``/metrics`` reads them with its ``MultiProcessCollector``. The directory (:func:`metrics_directory`)
is ``KG_METRICS_DIR`` or a new ``kg-metrics-PID-*`` folder in the temporary directory, removed when the process
that made it exits; folders left by a server that was killed are removed at the next start once no process
named in them is alive.
"""

from __future__ import annotations

import atexit
import contextlib
import mmap
import os
import re
import shutil
import struct
import tempfile
import threading
import time
from pathlib import Path

from prometheus_client.mmap_dict import mmap_key
from prometheus_client.utils import floatToGoString

INITIAL_BYTES = 64 * 1024
"""Bytes allocated for a new file: about 400 counters (a key takes 100-200 bytes); doubled when full."""
KINDS = ("counter", "histogram", "gauge_livesum")
"""The files of one process (``KIND_PID.db``, the names ``MultiProcessCollector`` parses)."""
RESERVE_BYTES = len(KINDS) * INITIAL_BYTES
"""Free bytes one more process needs for its files; ``/health`` says degraded below this."""
RETRY_S = 5.0
"""Seconds between two attempts of a process to allocate a file that could not be allocated."""
STALE_AFTER_S = 60.0
"""Age past which a ``kg-metrics-*`` folder naming no live process is removed (a starting server's is younger)."""
PREFIX = "kg-metrics-"
_OWNED = re.compile(rf"{PREFIX}(\d+)-")
_FILE_PID = re.compile(r"_(\d+)(?:-\d+)?\.db$")
_stores_per_directory: dict[str, int] = {}
"""How many stores of this process write to each directory (a second one gets files of its own: ``KIND_PID-N.db``)."""
_INT = struct.Struct("i")
_TWO_DOUBLES = struct.Struct("dd")

_lock = threading.Lock()
"""One lock for every store of the process (replaced in a forked child: a thread may have held it at the fork)."""


def _new_lock_after_fork() -> None:
    global _lock  # the lock a forked child starts with
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_after_fork)


def alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SharedNote:
    """A short message and the process that wrote it, in anonymous memory shared with every process forked later.

    It lives in no filesystem, so a full one cannot take it. Writes are not atomic across processes; a note is
    a status line, and the last writer wins.
    """

    SIZE = 1024

    def __init__(self) -> None:
        self._memory = mmap.mmap(-1, self.SIZE)

    def write(self, message: str) -> None:
        data = message.encode("utf-8", "replace")[: self.SIZE - 8]
        self._memory[8 : 8 + len(data)] = data
        self._memory[0:8] = struct.pack("ii", os.getpid(), len(data))

    def clear(self) -> None:
        """Forget the note if this process wrote it."""
        pid, _ = struct.unpack_from("ii", self._memory, 0)
        if pid == os.getpid():
            self._memory[0:8] = struct.pack("ii", 0, 0)

    def read(self) -> str | None:
        """The note, unless none was written or its writer is gone (a new worker took its place)."""
        pid, length = struct.unpack_from("ii", self._memory, 0)
        if pid == 0 or not alive(pid):
            return None
        return bytes(self._memory[8 : 8 + length]).decode("utf-8", "replace")


class _File:
    """One process's file of one kind, in ``mmap_dict``'s format, every byte allocated before it is mapped."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.posix_fallocate(self._fd, 0, INITIAL_BYTES)
        except OSError:
            os.close(self._fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        self._capacity = INITIAL_BYTES
        self._map = mmap.mmap(self._fd, self._capacity)
        self._used = 8
        self._map[0:4] = _INT.pack(self._used)
        self._positions: dict[str, int] = {}

    def write(self, key: str, value: float) -> None:
        """Store ``value`` under ``key``; raises ``OSError`` when a new key needs room that cannot be allocated."""
        position = self._positions.get(key)
        if position is None:
            position = self._add(key)
        self._map[position : position + 16] = _TWO_DOUBLES.pack(value, 0.0)

    def _add(self, key: str) -> int:
        encoded = key.encode("utf-8")
        padded = encoded + b" " * (8 - (len(encoded) + 4) % 8)
        entry = struct.pack(f"i{len(padded)}sdd", len(encoded), padded, 0.0, 0.0)
        if self._used + len(entry) > self._capacity:
            capacity = self._capacity
            while self._used + len(entry) > capacity:
                capacity *= 2
            os.posix_fallocate(self._fd, 0, capacity)  # before the map grows: never a page without a block
            self._map.close()
            self._map = mmap.mmap(self._fd, capacity)
            self._capacity = capacity
        self._map[self._used : self._used + len(entry)] = entry
        self._used += len(entry)
        self._map[0:4] = _INT.pack(self._used)  # the entry is complete before a reader counts it
        self._positions[key] = self._used - 16
        return self._positions[key]

    def close(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._map.close()
            os.close(self._fd)


class MetricStore:
    """The values of one server's counters in this process, written to its files in ``directory``.

    Made before the server forks; each process (known by its pid) starts from zero with files of its own, as
    prometheus_client's multiprocess values do.
    """

    def __init__(self, directory: str | None, problem: str | None = None) -> None:
        self.directory = directory
        """The folder of the files (None when none could be made: then every count stays in memory)."""
        self.note = SharedNote()
        if problem is not None:
            self.note.write(problem)
        self._serial = _stores_per_directory.get(directory or "", 0)
        _stores_per_directory[directory or ""] = self._serial + 1
        self._pid = os.getpid()
        self._values: dict[tuple[str, str], float] = {}
        self._files: dict[str, _File] = {}
        self._failing: set[str] = set()
        """Kinds whose values are kept in memory: their file could not be allocated or grown."""
        self._retry_at = 0.0

    def add(self, kind: str, key: str, amount: float) -> None:
        """Add ``amount`` to the value of ``key`` (a :func:`mmap_key`) in this process's file of ``kind``."""
        with _lock:
            if self._pid != os.getpid():
                self._forked()
            value = self._values.get((kind, key), 0.0) + amount
            self._values[(kind, key)] = value
            if self._failing and time.monotonic() >= self._retry_at:
                self._retry()
            if kind in self._failing:
                return  # kept in memory, written by the retry that succeeds
            file = self._files.get(kind) or self._open(kind)
            if file is None:
                return
            try:
                file.write(key, value)
            except OSError as error:
                self._failed(kind, f"cannot grow the {kind} file of process {os.getpid()}", error)

    def state(self) -> str:
        """``ok``, or ``degraded: ...`` saying why counts are, or would be, kept in a process's memory only."""
        noted = self.note.read()
        if noted is not None:
            return f"degraded: {noted}"
        if self.directory is None:
            return "degraded: no folder for the metrics files"
        try:
            stat = os.statvfs(self.directory)
        except OSError as error:
            return f"degraded: {self.directory}: {error.strerror or error}"
        free = stat.f_bavail * stat.f_frsize
        if free < RESERVE_BYTES:
            return (
                f"degraded: {self.directory} has {free} bytes free: a new worker would count in its memory only "
                "(counts not in /metrics)"
            )
        return "ok"

    def forget_dead(self) -> None:
        """Remove the live gauges' files of processes that are gone (prometheus_client's ``mark_process_dead``)."""
        if self.directory is None:
            return
        for path in Path(self.directory).glob("gauge_live*_*.db"):
            found = _FILE_PID.search(path.name)
            if found and not alive(int(found.group(1))):
                with contextlib.suppress(OSError):
                    path.unlink()

    def _forked(self) -> None:
        for file in self._files.values():
            file.close()
        self._pid = os.getpid()
        self._values.clear()
        self._files.clear()
        self._failing.clear()

    def _open(self, kind: str) -> _File | None:
        """This process's file of ``kind``, allocated now (None when it cannot be: the failure is noted)."""
        if self.directory is None:
            return None
        owner = f"{os.getpid()}-{self._serial}" if self._serial else str(os.getpid())
        path = Path(self.directory) / f"{kind}_{owner}.db"
        try:
            file = self._files[kind] = _File(path)
        except OSError as error:
            self._failed(kind, f"cannot allocate {path}", error)
            return None
        return file

    def _retry(self) -> None:
        """Allocate or grow the files of every kind that failed, writing all of its values kept in memory."""
        for kind in sorted(self._failing):
            file = self._files.get(kind) or self._open(kind)
            if file is None:
                continue
            try:
                for (value_kind, key), value in self._values.items():
                    if value_kind == kind:
                        file.write(key, value)
            except OSError as error:
                self._failed(kind, f"cannot grow the {kind} file of process {os.getpid()}", error)
                continue
            self._failing.discard(kind)
        if not self._failing:
            self.note.clear()

    def _failed(self, kind: str, what: str, error: OSError) -> None:
        self._failing.add(kind)
        self._retry_at = time.monotonic() + RETRY_S
        self.note.write(f"{what}: {error.strerror or error}; its counts are kept in its memory, not in /metrics")


class CounterFamily:
    """A counter with labels (``labels(**values).inc()``), as prometheus_client's ``Counter`` writes it."""

    def __init__(self, store: MetricStore, name: str, documentation: str, labelnames: tuple[str, ...]) -> None:
        self._store, self._name, self._documentation, self._labelnames = store, name, documentation, labelnames
        self._children: dict[tuple[tuple[str, str], ...], Counter] = {}

    def labels(self, **values: str) -> Counter:
        """The counter of these label values."""
        ident = tuple(sorted(values.items()))
        child = self._children.get(ident)
        if child is None:
            key = mmap_key(
                self._name, f"{self._name}_total", list(self._labelnames), [values[n] for n in self._labelnames],
                self._documentation,
            )  # fmt: skip
            child = self._children[ident] = Counter(self._store, key)
        return child


class Counter:
    """One counter (one set of label values)."""

    def __init__(self, store: MetricStore, key: str) -> None:
        self._store, self._key = store, key

    def inc(self, amount: float = 1.0) -> None:
        self._store.add("counter", self._key, amount)


class Histogram:
    """A histogram without labels, as prometheus_client's ``Histogram`` writes it (per-bucket counts, a sum)."""

    def __init__(self, store: MetricStore, name: str, documentation: str, buckets: tuple[float, ...]) -> None:
        self._store = store
        self._bounds = (*buckets, float("inf"))
        self._sum = mmap_key(name, f"{name}_sum", [], [], documentation)
        self._buckets = [
            mmap_key(name, f"{name}_bucket", ["le"], [_go_float(bound)], documentation) for bound in self._bounds
        ]

    def observe(self, amount: float) -> None:
        self._store.add("histogram", self._sum, amount)
        for key, bound in zip(self._buckets, self._bounds, strict=True):
            if amount <= bound:
                self._store.add("histogram", key, 1.0)
                return


def _go_float(value: float) -> str:
    """A bucket bound as prometheus_client writes it (``0.001``, ``1.0``, ``+Inf``): the ``le`` label it reads."""
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]


class LiveGauge:
    """A gauge summed over the live processes (prometheus_client's ``multiprocess_mode="livesum"``)."""

    def __init__(self, store: MetricStore, name: str, documentation: str) -> None:
        self._store, self._key = store, mmap_key(name, name, [], [], documentation)

    def inc(self, amount: float = 1.0) -> None:
        self._store.add("gauge_livesum", self._key, amount)

    def dec(self, amount: float = 1.0) -> None:
        self._store.add("gauge_livesum", self._key, -amount)


def metrics_directory(configured: str | None) -> tuple[str | None, str | None]:
    """The folder of the metrics files and, when none could be made, why.

    ``configured`` (``KG_METRICS_DIR``) is made if missing and cleared of the files of processes that are gone
    (the counts of an earlier run). Otherwise the ``kg-metrics-*`` folders of servers that are gone are removed
    from the temporary directory and a new ``kg-metrics-PID-*`` one is made there, removed when this process
    exits (not when a process forked from it does).
    """
    if configured:
        try:
            os.makedirs(configured, exist_ok=True)
        except OSError as error:
            return None, f"cannot make {configured}: {error.strerror or error}"
        for path in Path(configured).glob("*.db"):
            found = _FILE_PID.search(path.name)
            if found and not alive(int(found.group(1))):
                with contextlib.suppress(OSError):
                    path.unlink()
        return configured, None
    remove_stale_directories(Path(tempfile.gettempdir()))
    owner = os.getpid()
    try:
        directory = tempfile.mkdtemp(prefix=f"{PREFIX}{owner}-")
    except OSError as error:
        return None, f"cannot make a folder in {tempfile.gettempdir()}: {error.strerror or error}"

    def remove() -> None:
        if os.getpid() == owner:
            shutil.rmtree(directory, ignore_errors=True)

    atexit.register(remove)
    return directory, None


def remove_stale_directories(parent: Path) -> list[Path]:
    """Remove the ``kg-metrics-*`` folders in ``parent`` whose server is gone; return them.

    A folder ``kg-metrics-PID-*`` belongs to process PID; an older one (``kg-metrics-*``, made before folders
    named their owner) to the processes named by its files (``counter_PID.db``...), and is left alone when
    younger than :data:`STALE_AFTER_S` (its server may not have written a file yet).
    """
    removed = []
    now = time.time()
    for folder in parent.glob(f"{PREFIX}*"):
        try:
            if not folder.is_dir() or folder.is_symlink():
                continue
            owned = _OWNED.match(folder.name)
            if owned:
                stale = not alive(int(owned.group(1)))
            else:
                pids = [int(m.group(1)) for f in folder.iterdir() if (m := _FILE_PID.search(f.name))]
                stale = not any(alive(pid) for pid in pids) and now - folder.stat().st_mtime > STALE_AFTER_S
        except OSError:
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
