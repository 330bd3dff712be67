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
of bytes (bodies plus query texts) in a :class:`SegmentedLRU`, which keeps answers asked for again over
one-off ones; an answer larger than a quarter of the byte budget is not stored. The data version
(:attr:`ResultCache.version`, a hash of the data files) is part of every key, so a cache never answers for
other data.

The cache is thread-safe (the embedded server runs requests in threads) and lives in each server process:
granian workers each have their own, and share their answers through a second level
(:class:`~calcinosis_kg.server.workers.shared_cache.SharedAnswers`, an SQLite file): an answer one process
computed is read from there by the others, and then kept in their memory. With that level, each process keeps
only the most recent answers in memory, :data:`MEMORY_SHARE` of the bounds (:func:`memory_bounds`; the shared
file holds them whole), which the response replay uses too. The pool marks an answer that came
from the cache or went into it (:attr:`~calcinosis_kg.server.engines.contract.Answer.cached`), so that the HTTP
layer may replay it, and says where it came from (:attr:`~calcinosis_kg.server.engines.contract.Answer.origin`).
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from calcinosis_kg.server.engines.contract import Answer, Job
from calcinosis_kg.server.http.formats import FORMATS, Family, ResultFormat, choose_format
from calcinosis_kg.server.workers.shared_cache import SharedAnswers, hashed

MEMORY_SHARE = 8
"""With the shared level, the part of ``KG_CACHE_ENTRIES`` and ``KG_CACHE_BYTES`` each server process keeps in its
memory (and its response replay too): 128 entries and 4 MiB by default. Every granian worker held them whole
before the shared level (1,024 entries and 32 MiB each, times two for the replay); after ``make bench``'s unique
workload each granian worker's own memory measured 5 MB less with an eighth. A repeated answer missing from a
process's memory is a read of the shared file (0.03 ms), not a query."""

_ENTRY_OVERHEAD = 256
"""Bytes counted for each entry besides its bodies and query text (key tuple, dicts, Answer objects)."""

_VOLATILE = re.compile(r"(?i)\b(?:NOW|RAND|UUID|STRUUID|BNODE)\s*\(")
"""Calls to the SPARQL functions whose value changes from one evaluation to the next."""
_VOLATILE_NAMES = ("now", "rand", "uuid", "bnode")

_BY_CONTENT_TYPE = {fmt.content_type: fmt for fmt in FORMATS}

RequestKey = tuple[Hashable, ...]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def memory_bounds(max_entries: int, max_bytes: int, *, shared: bool) -> tuple[int, int]:
    """The entries and bytes a server process keeps in memory of a cache bounded by ``max_entries`` and
    ``max_bytes``: all of them alone, :data:`MEMORY_SHARE` of each beside a shared level (at least 1 if enabled)."""
    if not shared or max_entries <= 0 or max_bytes <= 0:
        return max_entries, max_bytes
    return max(1, max_entries // MEMORY_SHARE), max(1, max_bytes // MEMORY_SHARE)


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


PROTECTED_SHARE = 0.8
"""Share of each bound that entries used more than once (the protected segment) may take."""


class SegmentedLRU(Generic[K, V]):
    """A thread-safe segmented LRU mapping, bounded by a number of entries and a number of bytes.

    A new entry goes into the *probationary* segment; a lookup that finds it there moves it into the
    *protected* segment, which holds at most :data:`PROTECTED_SHARE` of either bound (its least recently used
    entries go back to probation). Eviction takes probation's least recently used entry first. So a burst of
    one-off requests (unique ad-hoc queries, a crawler) churns probation only and cannot flush the answers
    that are asked for again and again (canned queries): measured with ``make bench``, a plain LRU let the
    ``unique`` workload evict every canned answer, and the next canned run's p99 rose from 3.5-4.6 ms to
    5.8-9.3 ms while they were evaluated again.

    Each value is stored with its size in bytes (what the caller counts for it; callers keep only values that
    :meth:`fits`, at most a quarter of the budget, so that one value never empties the cache). Either bound at 0
    disables it. The result cache, the response replay (:mod:`~calcinosis_kg.server.http.replay`) and the rendered
    HTML pages (:mod:`~calcinosis_kg.server.views.linked_data`) keep their entries in one.
    """

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._bytes = 0
        self._protected_bytes = 0
        self._probation: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._protected: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._probation) + len(self._protected)

    @property
    def size_bytes(self) -> int:
        """Bytes currently counted against ``max_bytes``."""
        return self._bytes

    def get(self, key: K) -> V | None:
        """The value stored for ``key`` (now the most recently used, and protected), or None."""
        with self._lock:
            stored = self._protected.get(key)
            if stored is not None:
                self._protected.move_to_end(key)
                return stored[0]
            stored = self._probation.pop(key, None)
            if stored is None:
                return None
            self._protected[key] = stored
            self._protected_bytes += stored[1]
            self._demote()
            return stored[0]

    def fits(self, size: int) -> bool:
        """Whether a value of ``size`` bytes is worth keeping: at most a quarter of ``max_bytes``."""
        return size <= self.max_bytes // 4

    def put(self, key: K, value: V, size: int) -> bool:
        """Store ``value`` (``size`` bytes) for ``key``, replacing what was there; False if over the budget.

        A replaced entry keeps its segment; a new one starts in probation. The entry stored is never the one
        evicted to make room for it.
        """
        if not self.enabled or size > self.max_bytes:
            return False
        with self._lock:
            segment = self._protected if key in self._protected else self._probation
            previous = segment.pop(key, None)
            if previous is not None:
                self._bytes -= previous[1]
                if segment is self._protected:
                    self._protected_bytes -= previous[1]
            segment[key] = (value, size)
            self._bytes += size
            if segment is self._protected:
                self._protected_bytes += size
                self._demote()
            while len(self) > self.max_entries or self._bytes > self.max_bytes:
                # probation's least recently used goes first, unless it is the entry just stored
                victims = self._probation if next(iter(self._probation), key) != key else self._protected
                _, (_, dropped) = victims.popitem(last=False)
                self._bytes -= dropped
                if victims is self._protected:
                    self._protected_bytes -= dropped
        return True

    def _demote(self) -> None:
        """Move protected entries, least recently used first, back to probation while the segment is too big."""
        max_entries = max(1, int(self.max_entries * PROTECTED_SHARE))
        max_bytes = self.max_bytes * PROTECTED_SHARE
        while len(self._protected) > 1 and (len(self._protected) > max_entries or self._protected_bytes > max_bytes):
            key, stored = self._protected.popitem(last=False)
            self._protected_bytes -= stored[1]
            self._probation[key] = stored

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._probation.clear()
            self._protected.clear()
            self._bytes = self._protected_bytes = 0


class ResultCache:
    """Written answers by request (:func:`request_key`) and format, in a :class:`SegmentedLRU`."""

    def __init__(
        self, *, max_entries: int, max_bytes: int, version: str = "", shared: SharedAnswers | None = None
    ) -> None:
        self.version = version
        self.shared = shared if max_entries > 0 and max_bytes > 0 else None
        """The second level, shared with the server's other processes (:mod:`.shared_cache`), if any."""
        self.hits = 0
        self.shared_hits = 0
        self.misses = 0
        entries, size = memory_bounds(max_entries, max_bytes, shared=self.shared is not None)
        self._lru: SegmentedLRU[RequestKey, _Entry] = SegmentedLRU(max_entries=entries, max_bytes=size)
        self._lock = threading.Lock()

    @property
    def max_entries(self) -> int:
        """Entries kept in this process's memory (:func:`memory_bounds`)."""
        return self._lru.max_entries

    @property
    def max_bytes(self) -> int:
        """Bytes kept in this process's memory (:func:`memory_bounds`)."""
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
        key = request_key(job, self.version)
        entry = self._lru.get(key)
        answer = None if entry is None else entry.answers.get(choose_format(job.accept, job.formats, entry.family).key)
        if answer is None and self.shared is not None:
            answer = self._shared_lookup(job, key)
            if answer is not None:
                with self._lock:
                    self.shared_hits += 1
                return answer
        with self._lock:
            if answer is None:
                self.misses += 1
            else:
                self.hits += 1
        return None if answer is None else dataclasses.replace(answer, origin="memory")

    def _shared_lookup(self, job: Job, key: RequestKey) -> Answer | None:
        """The answer another process stored in the shared cache (now kept in this process's memory too)."""
        assert self.shared is not None
        hashed_key = hashed(key)
        family = self.shared.family(hashed_key)
        if family is None:
            return None
        fmt = choose_format(job.accept, job.formats, family)
        found = self.shared.get(hashed_key, fmt.key)
        if found is None:
            return None
        answer = Answer(found[0], found[1], cached=True, origin="shared")
        self._store_in_memory(job, key, fmt, answer)
        return answer

    def store(self, job: Job, answer: Answer) -> bool:
        """Keep ``answer`` to ``job`` in the shared level and in memory; False if neither took it (too large for
        both, volatile results)."""
        fmt = _BY_CONTENT_TYPE.get(answer.content_type)
        if not self.enabled or fmt is None or is_volatile(job.query):
            return False
        key = request_key(job, self.version)
        shared = self.shared is not None and self.shared.put(
            hashed(key), fmt.key, fmt.family, answer.body, answer.content_type
        )  # bounded by its own budget, larger than this process's
        return self._store_in_memory(job, key, fmt, answer) or shared

    def _store_in_memory(self, job: Job, key: RequestKey, fmt: ResultFormat, answer: Answer) -> bool:
        if not self._lru.fits(len(answer.body)):
            return False
        with self._lock:  # one writer at a time: an entry's answers in several formats are merged
            entry = self._lru.get(key) or _Entry(family=fmt.family)
            answers = {**entry.answers, fmt.key: answer}
            size = _ENTRY_OVERHEAD + len(job.query) + sum(len(stored.body) for stored in answers.values())
            return self._lru.put(key, _Entry(family=entry.family, answers=answers), size)

    def clear(self) -> None:
        """Forget every stored answer (the shared ones too)."""
        self._lru.clear()
        if self.shared is not None:
            self.shared.clear()
