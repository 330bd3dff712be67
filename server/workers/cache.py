"""Written query results kept in the server process, so that a repeated request never reaches a query worker.

The served dataset is read-only and loaded once per process, so the answer to a query request is a function of
the request alone: its query text, base IRI, dataset (``default-graph-uri``/``named-graph-uri``), initial
bindings (a canned query's validated parameters) and result format. :class:`ResultCache` keys an entry on the
first four (:func:`request_key`) and keeps in it the kind of answer the query gives (learnt from its first
answer) and its written answers by format; a lookup negotiates the format in the server process
(:func:`~calcinosis_kg.server.http.formats.choose_format`) and returns the stored bytes, which are the
same bytes every time, so the ETag that :mod:`calcinosis_kg.server.http.conditional` derives from the body is
stable and revalidation answers 304.

Only successful answers are stored, never refusals (a refusal may depend on load: time limit, busy workers),
and never the answers of queries that call ``NOW()``, ``RAND()``, ``UUID()``, ``STRUUID()`` or ``BNODE()``,
whose results are meant to differ between evaluations. Memory is bounded by a number of entries and a number
of bytes (bodies plus query texts), least recently used out first; an answer larger than a quarter of the
byte budget is not stored. The data version (:attr:`ResultCache.version`, a hash of the data files) is part of
every key, so a cache never answers for other data.

The cache is thread-safe (the embedded server runs requests in threads) and lives in each server process:
granian workers each have their own. The pool marks an answer that came from the cache or went into it
(:attr:`~calcinosis_kg.server.engines.contract.Answer.cached`), so that the HTTP layer may replay it.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from calcinosis_kg.server.engines.contract import Answer, Job
from calcinosis_kg.server.http.formats import FORMATS, Family, choose_format

_ENTRY_OVERHEAD = 256
"""Bytes counted for each entry besides its bodies and query text (key tuple, dicts, Answer objects)."""

_VOLATILE = re.compile(r"(?i)\b(?:NOW|RAND|UUID|STRUUID|BNODE)\s*\(")
"""Calls to the SPARQL functions whose value changes from one evaluation to the next."""
_VOLATILE_NAMES = ("now", "rand", "uuid", "bnode")

_BY_CONTENT_TYPE = {fmt.content_type: fmt for fmt in FORMATS}

RequestKey = tuple[Hashable, ...]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def request_key(job: Job, version: str = "") -> RequestKey:
    """What the answer to ``job`` depends on, apart from the result format."""
    return (version, job.query, job.base, job.dataset, job.bindings)


def is_volatile(query: str) -> bool:
    """True if ``query`` calls a function whose value differs between evaluations (its answer is not cached)."""
    lowered = query.lower()  # substring searches first: the regular expression is slow over a long text
    if not any(name in lowered for name in _VOLATILE_NAMES):
        return False
    return _VOLATILE.search(query) is not None


@dataclass(frozen=True)
class _Entry:
    family: Family
    answers: dict[str, Answer] = field(default_factory=dict)


class BoundedLRU(Generic[K, V]):
    """A thread-safe least-recently-used mapping bounded by a number of entries and a number of bytes.

    Each value is stored with its size in bytes (what the caller counts for it; callers keep values under a
    quarter of the budget, so that one value never empties the cache). Either bound at 0 disables it. The
    result cache and the response replay (:mod:`~calcinosis_kg.server.http.replay`) keep their entries in one.
    """

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """Bytes currently counted against ``max_bytes``."""
        return self._bytes

    def get(self, key: K) -> V | None:
        """The value stored for ``key`` (now the most recently used), or None."""
        with self._lock:
            stored = self._entries.get(key)
            if stored is None:
                return None
            self._entries.move_to_end(key)
            return stored[0]

    def put(self, key: K, value: V, size: int) -> bool:
        """Store ``value`` (``size`` bytes) for ``key``, replacing what was there; False if over the budget."""
        if not self.enabled or size > self.max_bytes:
            return False
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
        return True

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0


class ResultCache:
    """Written answers by request (:func:`request_key`) and format, in a :class:`BoundedLRU`."""

    def __init__(self, *, max_entries: int, max_bytes: int, version: str = "") -> None:
        self.version = version
        self.hits = 0
        self.misses = 0
        self._lru: BoundedLRU[RequestKey, _Entry] = BoundedLRU(max_entries=max_entries, max_bytes=max_bytes)
        self._lock = threading.Lock()

    @property
    def max_entries(self) -> int:
        return self._lru.max_entries

    @property
    def max_bytes(self) -> int:
        return self._lru.max_bytes

    @property
    def enabled(self) -> bool:
        return self._lru.enabled

    def __len__(self) -> int:
        return len(self._lru)

    @property
    def size_bytes(self) -> int:
        """Bytes currently counted against ``max_bytes``."""
        return self._lru.size_bytes

    def lookup(self, job: Job) -> Answer | None:
        """The stored answer to ``job`` in the format its Accept/``format`` choose, or None.

        Raises what :func:`choose_format` raises when the query is known and no acceptable format exists
        (the query worker would refuse it in the same way).
        """
        if not self.enabled:
            return None
        entry = self._lru.get(request_key(job, self.version))
        answer = None if entry is None else entry.answers.get(choose_format(job.accept, job.formats, entry.family).key)
        with self._lock:
            if answer is None:
                self.misses += 1
            else:
                self.hits += 1
        return answer

    def store(self, job: Job, answer: Answer) -> bool:
        """Keep ``answer`` to ``job``, unless it is too large or the query's results are volatile (False)."""
        fmt = _BY_CONTENT_TYPE.get(answer.content_type)
        if not self.enabled or fmt is None or len(answer.body) > self.max_bytes // 4 or is_volatile(job.query):
            return False
        key = request_key(job, self.version)
        with self._lock:  # one writer at a time: an entry's answers in several formats are merged
            entry = self._lru.get(key) or _Entry(family=fmt.family)
            answers = {**entry.answers, fmt.key: answer}
            size = _ENTRY_OVERHEAD + len(job.query) + sum(len(stored.body) for stored in answers.values())
            return self._lru.put(key, _Entry(family=entry.family, answers=answers), size)

    def clear(self) -> None:
        """Forget every stored answer."""
        self._lru.clear()
