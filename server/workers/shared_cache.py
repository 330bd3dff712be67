"""Written answers shared by every process of a server, and by the replicas of one machine: an SQLite file.

Each granian worker keeps its own :class:`~calcinosis_kg.server.workers.cache.ResultCache` in memory, so an
answer computed by one worker used to be computed again by the next worker asked, behind whatever runaway
queries held that worker's query workers. :class:`SharedAnswers` is the second level of every process's cache:
an answer a query worker computed is written there, and a process that does not hold it in memory reads it from
there (then keeps it in memory too) without a query worker. Entries are keyed like the in-memory ones
(:func:`~calcinosis_kg.server.workers.cache.request_key`: the data version, query text, base IRI, dataset and
bindings, hashed) and by result format, so an answer is never served for other data: a server on changed files
has another data version, and the entries of the old one are evicted as the cache fills.

Why SQLite (the standard library's, no dependency): it is safe under concurrent writers in several processes
(WAL journal: readers never wait for a writer, writers take a lock with a short timeout) and under processes
killed at any point (a transaction is all or nothing; the OS drops a dead process's locks). The cache is
best-effort: a lookup or a store that meets a busy lock, a full disk or any database error answers "not cached"
(logged once per process), never an error to the client.

Bounded like the in-memory cache (``KG_CACHE_ENTRIES``, ``KG_CACHE_BYTES``): past either bound the oldest
entries written are removed first (reads write nothing, so that a hit takes no lock; each process's segmented
LRU keeps what it is asked for again). Where the file is: ``KG_SHARED_CACHE`` (:func:`shared_cache_file`).
Connections are opened lazily and shared by a process's threads, each taking an idle one for a statement or a
transaction (:data:`MOST_IDLE_CONNECTIONS` kept open; never inherited across a fork). Answers are written by a
thread of each process, off the requests' path, in batches (:meth:`SharedAnswers.put`).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from calcinosis_kg.server.http.formats import Family
from calcinosis_kg.server.http.metrics_store import alive
from calcinosis_kg.server.settings import Settings
from calcinosis_kg.server.workers.shared_keys import Connection, KnownKeys

log = logging.getLogger(__name__)

FILE_NAME = "answers-v2.sqlite"
"""The database in a ``KG_SHARED_CACHE`` folder (the suffix changes with the schema)."""
PREFIX = "kg-answers-"
"""Temporary folders of servers without ``KG_SHARED_CACHE`` (``kg-answers-PID-*``, removed when PID is gone)."""
_OWNED = re.compile(rf"{PREFIX}(\d+)-")
BUSY_TIMEOUT_MS = 50
"""How long a write waits for another process's write (a few ms each) before the answer is not shared."""

WRITE_INTERVAL_S = 0.01
"""Shortest time between two transactions of a process's writer thread: an answer queued after a quiet spell is
written at once, those queued while the last transaction was this recent wait and go together. Woken by each
answer, the writer wrote one at a time under a steady load of unique queries."""

MOST_IDLE_CONNECTIONS = 2
"""Connections a process keeps open for later statements (more are opened while more threads read at once, and
closed after). One per thread, as before, SQLite's memory in a granian worker measured 2.4-4.2 MB after ``make
bench``'s deref workload (12-19 threads, each connection with its page cache, lookaside and prepared statements);
a read takes 0.03 ms, so two threads seldom need one at the same time."""

CONNECTION_CACHE_KIB = 256
"""SQLite's page cache per connection (its default, 2 MiB, in each of a granian worker's threads would be tens of
MB of each process's own memory; the OS page cache holds the file once for all)."""

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS answers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key BLOB NOT NULL,
        format TEXT NOT NULL,
        family TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        body BLOB NOT NULL,
        UNIQUE (key, format)
    )""",
    # the entries and bytes held, kept by triggers: summing the sizes would read every page of the table (the
    # size is before the body so that reading it does not read a long body's overflow pages)
    "CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 0), entries INTEGER, bytes INTEGER)",
    "INSERT OR IGNORE INTO totals VALUES (0, 0, 0)",
    """CREATE TRIGGER IF NOT EXISTS answer_added AFTER INSERT ON answers BEGIN
        UPDATE totals SET entries = entries + 1, bytes = bytes + NEW.size;
    END""",
    """CREATE TRIGGER IF NOT EXISTS answer_removed AFTER DELETE ON answers BEGIN
        UPDATE totals SET entries = entries - 1, bytes = bytes - OLD.size;
    END""",
)
"""Version 2 (:data:`FILE_NAME`): ids that only grow, even after the table is emptied (a process reads the keys
written since the last it read: :class:`~.shared_keys.KnownKeys`); the totals kept by triggers (an answer replaced
by ``INSERT OR REPLACE`` counts as removed: :meth:`SharedAnswers._connect` turns recursive triggers on), so that a
batch of answers is written by one statement and the oldest past the bounds removed by one."""

_INSERT = "INSERT OR REPLACE INTO answers (key, format, family, content_type, body, size) VALUES (?, ?, ?, ?, ?, ?)"
_REMOVE_OLDEST = "DELETE FROM answers WHERE id IN (SELECT id FROM answers ORDER BY id LIMIT ?)"


_Row = tuple[bytes, str, str, str, bytes, int]
"""An answer as written: key, format, family, content type, body, size."""


def shared_cache_file(setting: str) -> Path | None:
    """The database file for ``KG_SHARED_CACHE`` (``setting``), or None (``off``, or no folder could be made).

    ``auto``: a new folder ``kg-answers-PID-*`` in the temporary directory, shared by the processes this one
    forks (the granian workers) and removed when it exits; such folders of servers that are gone are removed.
    A folder: :data:`FILE_NAME` in it (made if missing), shared by every server given the same folder.
    """
    if setting == "off":
        return None
    try:
        if setting != "auto":
            os.makedirs(setting, exist_ok=True)
            return Path(setting) / FILE_NAME
        _remove_stale(Path(tempfile.gettempdir()))
        folder = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
    except OSError as error:
        log.warning("shared answers: cannot make a folder for them (%s); each process keeps its own", error)
        return None
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)
    return Path(folder) / FILE_NAME


def open_shared_answers(settings: Settings) -> SharedAnswers | None:
    """The answers shared by the server's processes (``KG_SHARED_CACHE``), None when off, when the result cache is
    off, or when the file cannot be made (logged: each process then keeps its own)."""
    if not (settings.cache_entries and settings.cache_bytes):
        return None
    path = shared_cache_file(settings.shared_cache)
    if path is None:
        return None
    try:
        return SharedAnswers(path, max_entries=settings.cache_entries, max_bytes=settings.cache_bytes)
    except (sqlite3.Error, OSError) as error:
        log.warning("shared answers: cannot open %s (%s); each process keeps its own", path, error)
        return None


def _remove_stale(parent: Path) -> None:
    for folder in parent.glob(f"{PREFIX}*"):
        owned = _OWNED.match(folder.name)
        if owned and not alive(int(owned.group(1))) and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)


def hashed(key: object) -> bytes:
    """The database key of an in-memory cache key (a tuple of texts, tuples and RDF terms: ``repr`` names them
    fully and the same way in every process)."""
    return hashlib.sha256(repr(key).encode("utf-8", "surrogatepass")).digest()


class SharedAnswers:
    """The answers in the SQLite file ``path``, at most ``max_entries`` (key, format) rows of ``max_bytes``."""

    def __init__(self, path: Path, *, max_entries: int, max_bytes: int) -> None:
        self.path = path
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._idle: list[Connection] = []
        """Connections of this process not in use, the one released last at the end (the next one taken)."""
        self._idle_pid = 0
        self._idle_lock = threading.Lock()
        self._queue: list[_Row] = []
        self._queued_bytes = 0
        self._queued = threading.Condition()
        self._writer_pid = 0
        self._known = KnownKeys()
        self.failed_pid = 0
        """The process that logged a database error (each process logs its first one)."""
        with contextlib.closing(self._connect()) as connection:  # made now: a bad path fails at start-up
            connection.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                connection.execute(statement)

    def _connect(self) -> Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,  # used by one thread at a time, not always the one that opened it
            factory=Connection,
        )
        connection.execute("PRAGMA synchronous=OFF")  # a killed process loses nothing; only a power cut could
        connection.execute("PRAGMA recursive_triggers=ON")  # a replaced answer fires answer_removed (_SCHEMA)
        connection.execute(f"PRAGMA cache_size=-{CONNECTION_CACHE_KIB}")
        return connection

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A connection of this process for one statement or transaction: an idle one, or a new one when every
        connection is in use (:data:`MOST_IDLE_CONNECTIONS`). A forked child opens its own."""
        pid = os.getpid()
        with self._idle_lock:
            if self._idle_pid != pid:  # inherited from the parent: its connections are not this process's
                self._idle, self._idle_pid = [], pid
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = self._connect()
        try:
            yield connection
        finally:
            with self._idle_lock:
                if self._idle_pid == pid and len(self._idle) < MOST_IDLE_CONNECTIONS:
                    self._idle.append(connection)
                    connection = None
            if connection is not None:
                connection.close()

    def family(self, key: bytes) -> Family | None:
        """The kind of answer stored for ``key`` (in any format), or None when none is.

        A key this process has not seen written is not looked up unless the file has changed since it last read
        the keys (:class:`~.shared_keys.KnownKeys`): almost every lookup of a unique query misses."""
        with self._failing("read"), self._connection() as connection:
            if not self._known.may_hold(connection, key, self.max_entries):
                return None
            row = connection.execute("SELECT family FROM answers WHERE key = ? LIMIT 1", (key,)).fetchone()
            if row is None:
                self._known.forget(key)
                return None
            return Family(row[0])
        return None

    def get(self, key: bytes, fmt: str) -> tuple[bytes, str] | None:
        """(body, content type) of the answer stored for ``key`` in format ``fmt``, or None."""
        with self._failing("read"), self._connection() as connection:
            row = connection.execute(
                "SELECT body, content_type FROM answers WHERE key = ? AND format = ?", (key, fmt)
            ).fetchone()
            return None if row is None else (bytes(row[0]), str(row[1]))
        return None

    def put(self, key: bytes, fmt: str, family: Family, body: bytes, content_type: str) -> bool:
        """Queue an answer for this process's writer thread (it replaces one for the same key and format); False
        when it is too large or the queue is full (the writer is behind: the answer is not shared).

        Writing takes 0.1 to 0.4 ms (a transaction), which a request that computed an answer need not wait for:
        the writer writes what has been queued meanwhile in one transaction.
        """
        size = len(body) + len(key) + len(content_type)
        if size > self.max_bytes // 4:
            return False
        with self._queued:
            if self._queued_bytes + size > self.max_bytes // 4:
                return False
            self._queue.append((key, fmt, family.value, content_type, body, size))
            self._queued_bytes += size
            if self._writer_pid != os.getpid():  # none yet in this process (a fork has no thread of its parent)
                self._writer_pid = os.getpid()
                threading.Thread(target=self._write_queued, name="shared-answers", daemon=True).start()
            self._queued.notify()
        return True

    def flush(self) -> None:
        """Write what is queued now, in this thread (the writer thread may be writing an earlier batch)."""
        self._write(self._take())

    def _take(self) -> list[_Row]:
        with self._queued:
            rows, self._queue, self._queued_bytes = self._queue, [], 0
            return rows

    def _write_queued(self) -> None:
        written = float("-inf")
        while True:
            with self._queued:
                self._queued.wait_for(lambda: bool(self._queue))
            time.sleep(max(0.0, written + WRITE_INTERVAL_S - time.monotonic()))  # the answers queued meanwhile too
            self._write(self._take())
            written = time.monotonic()

    def _write(self, rows: list[_Row]) -> None:
        """Store ``rows`` in one transaction, then remove the oldest entries past the bounds.

        One statement writes the batch and one removes the entries past ``max_entries`` (the triggers keep the
        totals): with a statement per row for the write, the replaced answer and each removal, the writer thread
        took about 150 µs of the granian worker's CPU per unique query (a third of what its request cost), and
        one replica answered 958 unique queries a second at 10k triples where it answered 1,189 without the
        shared answers. Past ``max_bytes`` the oldest go one at a time (large answers: few of them)."""
        if not rows:
            return
        with self._failing("write"), self._transaction() as connection:
            connection.executemany(_INSERT, rows)
            entries, total = _totals(connection)
            if entries > self.max_entries:
                connection.execute(_REMOVE_OLDEST, (entries - self.max_entries,))
                entries, total = _totals(connection)
            while total > self.max_bytes and entries > 0:
                connection.execute(_REMOVE_OLDEST, (1,))
                entries, total = _totals(connection)
        self._known.learn([row[0] for row in rows])

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """This thread's connection in a write transaction (waiting :data:`BUSY_TIMEOUT_MS` at most for the lock),
        committed at the end or rolled back on an error."""
        with self._connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def __len__(self) -> int:
        with self._failing("read"), self._connection() as connection:
            return _totals(connection)[0]
        return 0

    def clear(self) -> None:
        """Remove every answer (of every data version), and those queued."""
        self._take()
        self._known.reset()
        with self._failing("write"), self._transaction() as connection:
            connection.execute("DELETE FROM answers")
            connection.execute("UPDATE totals SET entries = 0, bytes = 0")

    def _failing(self, what: str) -> _Swallowed:
        """Swallow a database error (busy, disk full, file removed): the answer is then not shared."""
        return _Swallowed(self, what)


def _totals(connection: sqlite3.Connection) -> tuple[int, int]:
    """The entries and bytes the file holds (kept by the triggers of :data:`_SCHEMA`)."""
    entries, total = connection.execute("SELECT entries, bytes FROM totals").fetchone()
    return int(entries), int(total)


class _Swallowed:
    """A context in which a database error is logged (once per process, for the operator) and swallowed."""

    def __init__(self, answers: SharedAnswers, what: str) -> None:
        self.answers, self.what = answers, what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: object) -> bool:
        if error is None or not isinstance(error, sqlite3.Error | OSError):
            return False
        if self.answers.failed_pid != os.getpid():
            self.answers.failed_pid = os.getpid()
            log.warning(
                "shared answers in %s: cannot %s (%s); answers are computed instead",
                self.answers.path,
                self.what,
                error,
            )
        return True
