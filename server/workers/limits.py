"""The bounds of a query worker: memory, answer size, the queue in front of the workers, life with its parent.

- Memory: each query worker caps its address space (``RLIMIT_AS``) at what it had when it started (the shared
  store, the interpreter, its 64 MB stack) plus ``KG_QUERY_MEMORY``. pyoxigraph aborts the process when an
  allocation fails (SIGABRT); the pool reports that as :class:`~calcinosis_kg.server.errors.MemoryLimitExceeded`
  and replaces the worker. A ``MemoryError`` in Python code is reported the same way, the worker kept.
- Answer size: a written answer over ``KG_MAX_ANSWER_BYTES`` is refused in the worker, so it never reaches
  the server process.
- Queue: at most ``KG_QUERY_QUEUE`` requests wait for an idle worker in each server process; the next one is
  refused at once with 503 and ``Retry-After``, and the wait counts toward the query's time limit.
- Clients: at most ``KG_CLIENT_CONCURRENCY`` queries of one client run, and as many wait, in each server process;
  the next one is refused at once with 429 and ``Retry-After`` (:mod:`~calcinosis_kg.server.workers.fairness`).
- Parent: a query worker's main thread watches its parent (:func:`watch_parent`) while another thread answers,
  and exits within :data:`PARENT_CHECK_SECONDS` of the parent's death, mid-query too; a granian worker asks the
  kernel to kill it when granian's main process dies (:func:`die_with_parent`, ``PR_SET_PDEATHSIG``: that
  signal follows the death of the *thread* that forked the child, so it suits processes forked by a main
  thread, not query workers forked from request threads). A ``kill -9`` of any process leaves no orphan.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import resource
import signal
import sys
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
PARENT_CHECK_SECONDS = 0.5


@dataclass(frozen=True)
class WorkerLimits:
    """What one query may cost (see the module docstring)."""

    memory: int = 1024 * 1024 * 1024
    """Bytes of address space a query worker may add to what it had at start (0: no cap)."""
    answer_bytes: int = 64 * 1024 * 1024
    queue: int = 16
    per_client: int = 2
    """Queries one client may have running, and as many waiting, in one server process (``KG_CLIENT_CONCURRENCY``)."""

    def memory_message(self) -> str:
        return (
            f"The query needed more than {self.memory // (1024 * 1024)} MB of memory (KG_QUERY_MEMORY) and was "
            "stopped. Narrow the pattern, or avoid building long strings and large intermediate results."
        )


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel send SIGKILL to this process when its parent dies (Linux); exit if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != parent_pid:  # the parent died before the request above took effect
        os._exit(0)


def watch_parent(parent_pid: int, busy: threading.Thread) -> None:
    """Wait for ``busy`` to end; exit the process at once if the parent dies meanwhile."""
    while busy.is_alive():
        busy.join(PARENT_CHECK_SECONDS)
        if os.getppid() != parent_pid:
            os._exit(0)


def cap_memory(current: int | None, extra: int) -> None:
    """Cap this process's address space at ``current`` bytes plus ``extra`` (0 or an unknown size: no cap)."""
    if not extra or current is None:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = current + extra
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def address_space() -> int | None:
    """This process's virtual memory size in bytes (``VmSize`` of ``/proc/self/status``), None if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
