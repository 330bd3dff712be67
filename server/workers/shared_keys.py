"""Which answers the shared file holds (:mod:`.shared_cache`), as a process last read them: most lookups of the
shared answers are of unique queries, which are not there, and each had cost a statement.
"""

from __future__ import annotations

import os
import sqlite3
import threading


class Connection(sqlite3.Connection):
    """A connection that remembers the ``PRAGMA data_version`` at which it last read the keys (:class:`KnownKeys`)."""

    read_version = -1


class KnownKeys:
    """The keys of the shared answers as this process last read them, so that a key not there costs no lookup.

    A key not in the set is looked for only if another connection has committed since this connection last read
    the keys (``PRAGMA data_version``, which reads no table): then the rows written since the last one read are
    added (their ids only grow). Read whole again when it holds twice the entries of the cache; a key found
    missing (removed as the oldest) is forgotten. Each miss had cost a statement, about 140 µs of the granian
    worker's CPU per unique query under load.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self._keys: set[bytes] = set()
        self._last_id = 0
        self._pid = os.getpid()

    def forget(self, key: bytes) -> None:
        self._keys.discard(key)

    def learn(self, keys: list[bytes]) -> None:
        """Keys this process has just written (its own commits do not change its connections' data version)."""
        with self._lock:
            if self._pid != os.getpid():
                self.reset()
            self._keys.update(keys)

    def may_hold(self, connection: Connection, key: bytes, max_entries: int) -> bool:
        """Whether ``key`` may be in the table (read with ``connection`` if it changed)."""
        with self._lock:
            if self._pid != os.getpid():  # inherited through a fork: the parent's view
                self.reset()
            if key in self._keys:
                return True
        version = int(connection.execute("PRAGMA data_version").fetchone()[0])
        if version == connection.read_version:
            return False
        connection.read_version = version
        with self._lock:
            after = 0 if len(self._keys) > 2 * max_entries else self._last_id
        rows = connection.execute("SELECT id, key FROM answers WHERE id > ? ORDER BY id", (after,)).fetchall()
        with self._lock:
            if after == 0:
                self._keys = set()
            self._keys.update(bytes(row[1]) for row in rows)
            self._last_id = int(rows[-1][0]) if rows else after  # the ids read are all above ``after``
            return key in self._keys
