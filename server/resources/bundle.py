"""The serving bundle: the data in an Oxigraph store on disk and every start-up index, computed once.

A replica that loads RDF files parses them into memory and derives, at every start, the linked-data index,
the label and lookup indexes, the VoID statistics, the dataset summary and the dumps (seconds and hundreds of
megabytes per million triples, in each replica). A bundle holds all of it, written once by
``calcinosis-kg build`` (``build/bundle/``, for the built graph) or by the first server started on ``KG_DATA``
files (``build/bundles/<data version>/``, a cache keyed by the files' hash):

``store/``
    an Oxigraph (RocksDB) store holding the data, opened read-only (:func:`open_bundle`): every server process
    and query worker reads the same files, so the data live once, in the OS page cache, whatever the number of
    processes;
``quads.nq``
    for data of at most :data:`MEMORY_QUADS` quads, the store's quads in N-Quads (its blank-node labels): a
    replica loads them into an in-memory store instead of opening ``store/`` (:func:`open_fresh`,
    ``KG_STORE_IN_MEMORY``), once, in the process granian forks its workers from, which share it copy-on-write;
``indexes.pickle``, ``linked-data.bin``, ``ontology.nt``, ``lookup.bin``, ``canned.bin``
    the summary, VoID statistics and the linked-data index's small parts; apart, memory-mapped and read in place
    (:mod:`~calcinosis_kg.server.resources.mapped`: the page cache's, shared by every process and replica, not
    copies in each one's heap), the linked-data index's served IRIs and labels, the lookup index (mapped by the
    first lookup, :mod:`~calcinosis_kg.server.resources.lookup_file`) and the answers of the canned queries asked
    without parameters (:class:`~calcinosis_kg.server.resources.canned.MappedAnswers`); and the ontology document
    (``ontology.nt``, when the data have the ontology's header), read by the first page that needs it instead of
    every triple of the store; as the server builds them from the store (the same functions);
``dumps/``
    the dumps in every format, memory-mapped by the server (shared page cache, not each process's memory);
``manifest.json``
    :data:`BUNDLE_FORMAT`, the data version (:class:`~calcinosis_kg.server.http.conditional.DataVersion`: the
    SHA-256 of the files it was made from) and whether the default graph is the union of all graphs.

Which bundle a server uses, and making one in the cache, is :mod:`~calcinosis_kg.server.resources.bundle_cache`.

A bundle is *fresh* for some data files when its manifest names their data version, the server's
``KG_UNION_DEFAULT_GRAPH`` and this format; only a fresh bundle is used. A bundle is written in a folder beside
its place and renamed into it, so a reader never sees half of one; writing is deterministic (the same data give
the same manifest, indexes and dumps, byte for byte; RocksDB's own files carry ids and times, not their data).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import mmap
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from calcinosis_kg.errors import KGError
from calcinosis_kg.queries.catalog import load_catalog
from calcinosis_kg.server.http.conditional import DataVersion
from calcinosis_kg.server.resources.canned import CannedAnswers, MappedAnswers, write_answers
from calcinosis_kg.server.resources.data import DataLoadError, DatasetSummary, data_quads, summarize
from calcinosis_kg.server.resources.labels import LabelIndex
from calcinosis_kg.server.resources.linked_data import (
    LinkedData,
    mapped_linked_data,
    write_document,
    write_linked_data,
)
from calcinosis_kg.server.resources.lookup_file import MappedLabelIndex, write_lookup
from calcinosis_kg.server.resources.void import (
    DUMP_EXTENSIONS,
    DUMP_NAME,
    DatasetDumps,
    DatasetStatistics,
    Dump,
    write_dumps,
)
from calcinosis_kg.server.settings import Settings
from calcinosis_kg.server.sparql.describe import GraphView

BUNDLE_FORMAT = 6
"""Raised whenever what a bundle holds changes: a bundle of another format is not fresh."""

BUILT_BUNDLE = "bundle"
"""The bundle ``calcinosis-kg build`` writes in the build folder, for the built graph."""
CACHE = "bundles"
"""The build folder's cache of bundles made for ``KG_DATA`` files, one folder per data version."""
CACHE_SIZE = 8
"""Bundles kept in the cache (the most recently made)."""

CANNED_LIMITS = {"max_rows": Settings.max_rows, "max_answer_bytes": Settings.max_answer_bytes}
"""The limits the canned answers are computed under: the defaults of ``KG_MAX_ROWS`` and ``KG_MAX_ANSWER_BYTES``."""

MANIFEST = "manifest.json"
STORE = "store"
INDEXES = "indexes.pickle"
LOOKUP = "lookup.bin"
CANNED = "canned.bin"
LINKED_DATA = "linked-data.bin"
ONTOLOGY = "ontology.nt"
DUMPS = "dumps"
QUADS = "quads.nq"

MEMORY_QUADS = 100_000
"""Most quads whose bundle holds :data:`QUADS`, which ``KG_STORE_IN_MEMORY=auto`` serves from memory.

Evaluation on pyoxigraph's in-memory store is about 9x faster than on the RocksDB store read-only (the 35
canned queries with the union default graph: 15 against 135 ms a round, 11,145 quads), and the memory is
shared by every process forked from the one that loads it. Measured per quad: 350 bytes of memory and 2.5 µs
of loading (:data:`~calcinosis_kg.server.resources.data` parse and ``extend``). At this bound: 35 MB and 0.25 s
of start-up, within the release's cold start (0.5 s) and a replica's memory (issue 28: 250 MB at 1M triples,
where the store in memory alone would take 350 MB and 2.6 s)."""

LOAD_BATCH = 50_000
"""Quads handed to the store's bulk loader at a time: its memory is this batch's, not the data's (at 1M
triples: 7.8 s and 106 MB with batches of 50,000; one batch of all: 7.2 s and 855 MB)."""

log = logging.getLogger(__name__)


class BundleError(KGError):
    """A bundle cannot be written or does not match the data it is asked to serve."""


@dataclass(frozen=True)
class Manifest:
    """What a bundle was made from (``manifest.json``)."""

    version: DataVersion
    union_default_graph: bool
    sources: tuple[str, ...]
    """File names of the data, in load order (for the operator; freshness is the version's hash)."""
    files: tuple[tuple[str, int, int], ...] = ()
    """(absolute path, size, modification time in ns) of each data file when the bundle was made: the same
    files unchanged need not be hashed again (:func:`~.bundle_cache.serving_bundle`)."""
    format: int = BUNDLE_FORMAT

    def as_json(self) -> str:
        return json.dumps(
            {
                "format": self.format,
                "data_version": self.version.tag,
                "last_modified": self.version.last_modified.isoformat(),
                "union_default_graph": self.union_default_graph,
                "sources": list(self.sources),
                "files": [list(file) for file in self.files],
            },
            indent=2,
        )

    @classmethod
    def read(cls, folder: Path) -> Manifest | None:
        """The manifest of the bundle in ``folder``, None when there is none or it is not one of ours."""
        try:
            raw = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            return cls(
                version=DataVersion(raw["data_version"], datetime.fromisoformat(raw["last_modified"])),
                union_default_graph=bool(raw["union_default_graph"]),
                sources=tuple(raw["sources"]),
                files=tuple((str(path), int(size), int(mtime)) for path, size, mtime in raw.get("files", [])),
                format=int(raw["format"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def stale_because(self, version: DataVersion, union_default_graph: bool) -> str | None:
        """Why this bundle cannot serve data of ``version`` with that default graph; None when it can."""
        if self.format != BUNDLE_FORMAT:
            return f"it is of format {self.format}, this server reads format {BUNDLE_FORMAT}"
        if self.version.tag != version.tag:
            return f"it was made from data version {self.version.tag[:12]}, the data files are {version.tag[:12]}"
        if self.union_default_graph != union_default_graph:
            return f"it was made with KG_UNION_DEFAULT_GRAPH={str(self.union_default_graph).lower()}"
        return None


@dataclass(frozen=True)
class Bundle:
    """A fresh bundle, opened: the read-only store and the indexes (the view is given to the linked data)."""

    folder: Path
    manifest: Manifest
    store: ox.Store
    """The bundle's store: in memory (loaded from :data:`QUADS`) or on disk, read-only (:func:`open_fresh`)."""
    on_disk: bool
    """Whether :attr:`store` is the read-only store on disk (else its copy in memory)."""
    summary: DatasetSummary
    linked_data: LinkedData
    statistics: DatasetStatistics
    lookup_index: Callable[[], LabelIndex]
    """Maps the lookup index (:class:`~.lookup_file.MappedLabelIndex`): called by the first lookup."""
    dumps: DatasetDumps
    canned_answers: CannedAnswers


def write_bundle(paths: tuple[Path, ...], folder: Path, *, union_default_graph: bool, replace: bool = True) -> Manifest:
    """Load ``paths`` into a store in ``folder`` and write every index beside it (see the module docstring).

    The store is bulk-loaded (several threads), :data:`LOAD_BATCH` quads at a time, from the same parse as an
    in-memory load (:func:`~calcinosis_kg.server.resources.data.data_quads`: same blank-node labels, which
    Oxigraph's own ``bulk_load`` of a file would rename at random), then the indexes are read from it by
    streaming over it (no copy of the data in memory: the dumps are written straight to their files). Written
    into ``folder`` + ``.partial-<pid>`` and renamed to ``folder``, replacing an older bundle there (with
    ``replace=False``, a fresh bundle made there meanwhile by another process is kept instead: a replica may
    have opened it; a stale one is replaced). Raises
    :class:`~calcinosis_kg.server.resources.data.DataLoadError` for bad data and :class:`BundleError` when the
    folder cannot be written.
    """
    version = DataVersion.of(paths)
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    try:
        shutil.rmtree(partial, ignore_errors=True)
        (partial / DUMPS).mkdir(parents=True)
        store = ox.Store(str(partial / STORE))
        quads = data_quads(paths)
        count = 0
        while batch := list(itertools.islice(quads, LOAD_BATCH)):
            store.bulk_extend(batch)
            count += len(batch)
        store.flush()
        store.optimize()
        if count <= MEMORY_QUADS:  # the quads as the store holds them (its order, its blank-node labels)
            store.dump(output=str(partial / QUADS), format=ox.RdfFormat.N_QUADS)
        write_indexes(partial, store, paths, union_default_graph=union_default_graph)
        del store
        manifest = Manifest(version, union_default_graph, tuple(path.name for path in paths), file_stats(paths))
        (partial / MANIFEST).write_text(manifest.as_json() + "\n", encoding="utf-8")
        there = None if replace else Manifest.read(folder)
        if there is None or there.stale_because(version, union_default_graph) is not None:
            _replace(folder, partial)
        else:  # a fresh one made meanwhile by another process, which may serve it already
            shutil.rmtree(partial, ignore_errors=True)
    except DataLoadError:  # bad data, found by the parser while loading: no half-written folder left behind
        shutil.rmtree(partial, ignore_errors=True)
        raise
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise BundleError(f"cannot write the serving bundle in {folder}: {error}") from error
    return manifest


def write_indexes(folder: Path, store: ox.Store, paths: tuple[Path, ...], *, union_default_graph: bool) -> None:
    """Write the start-up indexes of ``store`` (read from ``paths``) and its dumps into ``folder``: everything a
    bundle holds but its store and manifest (a remote store's bundle, written by ``calcinosis-kg publish``, has
    only these: :mod:`~calcinosis_kg.server.engines.published`)."""
    (folder / DUMPS).mkdir(parents=True, exist_ok=True)
    view = GraphView(store, union=union_default_graph)
    linked_data = LinkedData.from_store(view)
    dumps_from_build = write_dumps(view, paths, folder / DUMPS)
    if linked_data.ontology is not None:
        write_document(linked_data.ontology_graph, folder / ONTOLOGY)
    canned = CannedAnswers.compute(store, load_catalog(), union_default_graph=union_default_graph, **CANNED_LIMITS)
    write_answers(canned.answers, folder / CANNED)
    indexes = {
        "summary": summarize(store, union_default_graph=union_default_graph),
        "linked_data": write_linked_data(linked_data, folder / LINKED_DATA),
        "statistics": DatasetStatistics.of(view, linked_data),
        "dumps_from_build": dumps_from_build,
        "canned_limits": (canned.max_rows, canned.max_answer_bytes),
    }
    (folder / INDEXES).write_bytes(pickle.dumps(indexes, protocol=pickle.HIGHEST_PROTOCOL))
    write_lookup(LabelIndex.from_store(view), folder / LOOKUP)


def make_bundle_in_subprocess(paths: tuple[Path, ...], folder: Path, *, union_default_graph: bool) -> None:
    """:func:`write_bundle` in a child interpreter: a writable RocksDB store starts threads, and the server
    process forks its workers afterwards, so it must never open one itself. Raises :class:`BundleError` with
    the child's last message when it fails."""
    argv = [sys.executable, "-m", __name__, str(folder), "union" if union_default_graph else "default", "keep"]
    done = subprocess.run([*argv, *map(str, paths)], capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BundleError(f"cannot make the serving bundle in {folder}: {message}")


def open_bundle(folder: Path, version: DataVersion, *, union_default_graph: bool, in_memory: str = "auto") -> Bundle:
    """Open the bundle in ``folder`` for data of ``version``: its store (:func:`open_fresh`), indexes and dumps.

    Raises :class:`BundleError` saying why when there is none there or it is stale (see the module docstring).
    """
    manifest = Manifest.read(folder)
    if manifest is None:
        raise BundleError(f"no serving bundle in {folder}")
    reason = manifest.stale_because(version, union_default_graph)
    if reason is not None:
        raise BundleError(f"the serving bundle in {folder} is stale: {reason}")
    return open_fresh(folder, manifest, in_memory)


def open_fresh(folder: Path, manifest: Manifest, in_memory: str = "auto") -> Bundle:
    """Open the bundle in ``folder`` whose ``manifest`` was found fresh (:func:`open_bundle` checks it first).

    Its store is ``in_memory`` (``KG_STORE_IN_MEMORY``): ``auto``, in memory when the bundle holds
    :data:`QUADS` (data of at most :data:`MEMORY_QUADS` quads), else on disk; ``always``, in memory (from
    :data:`QUADS`, else copied from the store on disk: slower, about 7 µs a quad); ``never``, on disk.
    """
    quads = folder / QUADS
    on_disk = in_memory == "never" or (in_memory == "auto" and not quads.is_file())
    try:
        store = ox.Store.read_only(str(folder / STORE)) if on_disk else _memory_store(folder)
    except (OSError, SyntaxError) as error:
        raise BundleError(f"cannot open the serving bundle in {folder}: {error}") from error
    indexes = read_indexes(folder, GraphView(store, union=manifest.union_default_graph))
    return Bundle(folder=folder, manifest=manifest, store=store, on_disk=on_disk, **indexes)


def _memory_store(folder: Path) -> ox.Store:
    """The bundle's quads in an in-memory store: parsed from :data:`QUADS` (the store's blank-node labels kept),
    else copied from the store on disk. ``extend``, not ``bulk_extend``: it starts no thread in a process that
    forks afterwards."""
    store = ox.Store()
    quads = folder / QUADS
    if quads.is_file():
        store.extend(ox.parse(path=str(quads), format=ox.RdfFormat.N_QUADS))
    else:
        store.extend(ox.Store.read_only(str(folder / STORE)).quads_for_pattern(None, None, None, None))
    return store


def read_indexes(folder: Path, view: GraphView) -> dict[str, Any]:
    """The indexes :func:`write_indexes` wrote in ``folder`` as :class:`Bundle`'s fields (the linked data
    reading documents through ``view``); raises :class:`BundleError` when they cannot be read."""
    ontology = folder / ONTOLOGY
    try:
        indexes: dict[str, Any] = pickle.loads((folder / INDEXES).read_bytes())  # noqa: S301 (our own file)
        dumps = tuple(_mapped(folder / DUMPS / name, fmt) for name, fmt in _dump_names())
        return {
            "summary": indexes["summary"],
            "linked_data": mapped_linked_data(
                folder / LINKED_DATA, indexes["linked_data"], view, ontology if ontology.is_file() else None
            ),
            "statistics": indexes["statistics"],
            "lookup_index": functools.partial(MappedLabelIndex, folder / LOOKUP),
            "dumps": DatasetDumps(dumps=dumps, from_build=indexes["dumps_from_build"]),
            "canned_answers": CannedAnswers(MappedAnswers(folder / CANNED), *indexes["canned_limits"]),
        }
    except (OSError, ValueError, pickle.UnpicklingError, EOFError, KeyError) as error:
        raise BundleError(f"cannot open the serving bundle in {folder}: {error}") from error


def file_stats(paths: tuple[Path, ...]) -> tuple[tuple[str, int, int], ...]:
    """(absolute path, size, modification time in ns) of each of ``paths``."""
    stats = [(path.resolve(), path.stat()) for path in paths]
    return tuple((str(path), stat.st_size, stat.st_mtime_ns) for path, stat in stats)


def _dump_names() -> list[tuple[str, Any]]:
    return [(f"{DUMP_NAME}.{extension}", fmt) for extension, fmt in DUMP_EXTENSIONS]


def _mapped(path: Path, fmt: Any) -> Dump:
    """A dump whose bytes are the file's, memory-mapped (shared by every process, kept if the file goes)."""
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        body = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    return Dump(path.name, fmt, body)


def _replace(folder: Path, partial: Path) -> None:
    """Rename ``partial`` to ``folder``; an older bundle there is moved aside first and then removed."""
    old = folder.with_name(f"{folder.name}.old-{os.getpid()}")
    if folder.exists():
        folder.rename(old)
    partial.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str]) -> int:
    """``python -m calcinosis_kg.server.resources.bundle FOLDER union|default keep|replace FILE...``: write one."""
    folder, graph, mode, *files = argv
    try:
        paths = tuple(map(Path, files))
        write_bundle(paths, Path(folder), union_default_graph=graph == "union", replace=mode == "replace")
    except KGError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
