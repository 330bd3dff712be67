"""The oxigraph backend's on-disk store: built once per version of the data, reused across restarts.

A store is a pyoxigraph (RocksDB) directory under the store root (``KG_STORE_DIR``, by default
``oxigraph-store`` in the build directory), named after a hash of the data files' contents and of the
pyoxigraph and rdflib versions (:func:`store_name`). Its ``SOURCE.json`` marker, written last, says what it
was built from; a directory without it is not used. When the data change, the name changes and a new store is
built; stores not used for :data:`STALE_DAYS` days are deleted when another one is built.

The store is built from the dataset rdflib has already loaded, not by pyoxigraph's parsers: rdflib stays the
one reader of the data, so both backends see the same terms (rdflib normalizes typed literals, keeps the
blank-node labels of N-Triples and reads every format the endpoint accepts, JSON-LD included). The build runs
in a forked child process, because RocksDB starts threads that a later fork of the server (the query workers)
would not have; the server process never opens the store. It writes into a temporary directory that is
renamed into place when complete, so concurrent servers on the same data build it at most twice and never use
a half-built store. Query workers open it read-only (:func:`open_read_only`), or the server loads it into an
in-memory store before forking them (:func:`copy_into_memory`), from the N-Quads snapshot written beside the
RocksDB files when the store was built.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib import BNode, Dataset, Literal, URIRef
from rdflib.term import Node

from calcinosis_kg.server.data import DataLoadError, named_graph_names

log = logging.getLogger(__name__)

MARKER = "SOURCE.json"
SNAPSHOT = "snapshot.nq"
"""The store's contents as N-Quads, written when it is built: what :func:`copy_into_memory` loads."""
STORE_FORMAT = 2
"""Bumped when the way a store is built changes, so that older stores are rebuilt."""
STALE_DAYS = 7
_BATCH = 50_000
_FORK = multiprocessing.get_context("fork")


def store_name(data_tag: str) -> str:
    """Directory name of the store for data whose content hash is ``data_tag``."""
    source = f"{STORE_FORMAT}\0{data_tag}\0{ox.__version__}\0{rdflib.__version__}"
    return hashlib.sha256(source.encode()).hexdigest()[:24]


def ensure_store(dataset: Dataset, data_tag: str, root: Path, sources: tuple[Path, ...] = ()) -> Path:
    """The store holding ``dataset`` (whose files hash to ``data_tag``) under ``root``, built if missing.

    Raises :class:`DataLoadError` when the root cannot be created or the build fails.
    """
    path = root / store_name(data_tag)
    marker = path / MARKER
    if marker.is_file():
        os.utime(marker)
        return path
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataLoadError(f"cannot create the oxigraph store directory {root}: {error}") from error
    building = root / f".building-{path.name}-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    started = time.perf_counter()
    child = _FORK.Process(target=_build, args=(dataset, building), name="kg-store-build")
    child.start()
    child.join()
    if child.exitcode != 0:
        shutil.rmtree(building, ignore_errors=True)
        raise DataLoadError(f"building the oxigraph store in {building} failed (exit code {child.exitcode})")
    info = {
        "format": STORE_FORMAT,
        "data": data_tag,
        "files": [str(source) for source in sources],
        "pyoxigraph": ox.__version__,
        "rdflib": rdflib.__version__,
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (building / MARKER).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    try:
        building.rename(path)
    except OSError:  # another server built the same store meanwhile
        shutil.rmtree(building, ignore_errors=True)
        if not marker.is_file():
            raise DataLoadError(f"cannot move the oxigraph store into {path}") from None
    log.info("built the oxigraph store %s in %.1f s", path, time.perf_counter() - started)
    _prune(root, keep=path)
    return path


def open_read_only(path: Path) -> ox.Store:
    """Open a built store for queries (in a query worker)."""
    return ox.Store.read_only(str(path))


def copy_into_memory(path: Path, graph_names: Iterable[URIRef] = ()) -> ox.Store:
    """An in-memory store holding what the built store at ``path`` holds, blank-node labels included.

    It is loaded from the store's N-Quads snapshot (:data:`SNAPSHOT`, written when the store was built), so
    RocksDB is never opened in this process (its threads would not survive the later forks); the workers then
    share the copy through fork. ``graph_names`` are added as named graphs (N-Quads has no empty graphs).
    Raises :class:`DataLoadError` when the snapshot is missing or unreadable.
    """
    started = time.perf_counter()
    store = ox.Store()
    for name in graph_names:
        store.add_graph(ox.NamedNode(str(name)))
    try:
        # ox.parse keeps blank-node labels (Store.load would rename them); extend starts no threads.
        store.extend(ox.parse(path=str(path / SNAPSHOT), format=ox.RdfFormat.N_QUADS))
    except (OSError, SyntaxError) as error:
        raise DataLoadError(
            f"cannot load the oxigraph store {path} into memory ({error}); delete that directory to rebuild it"
        ) from error
    log.info("loaded the oxigraph store %s into memory in %.2f s", path, time.perf_counter() - started)
    return store


def to_oxigraph(term: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """An rdflib term as the equal pyoxigraph term (plain literals become ``xsd:string`` ones, as in RDF 1.1)."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"cannot store {term!r}")


def _resource(term: Node) -> ox.NamedNode | ox.BlankNode:
    """A subject or graph name (an IRI or a blank node) as a pyoxigraph term."""
    converted = to_oxigraph(term)
    if isinstance(converted, ox.Literal):
        raise TypeError(f"a literal cannot be a subject or a graph name: {term!r}")
    return converted


def _build(dataset: Dataset, path: Path) -> None:
    """Write every graph of ``dataset`` into a new store at ``path`` (in the build child process)."""
    store = ox.Store(str(path))
    default = dataset.default_graph.identifier
    for name in named_graph_names(dataset):
        store.add_graph(ox.NamedNode(str(name)))
    for graph in dataset.graphs():
        target = ox.DefaultGraph() if graph.identifier == default else _resource(graph.identifier)
        batch: list[ox.Quad] = []
        for subject, predicate, obj in graph:
            batch.append(ox.Quad(_resource(subject), ox.NamedNode(str(predicate)), to_oxigraph(obj), target))
            if len(batch) >= _BATCH:
                store.extend(batch)
                batch = []
        store.extend(batch)
    store.flush()
    store.optimize()
    store.dump(output=str(path / SNAPSHOT), format=ox.RdfFormat.N_QUADS)


def _prune(root: Path, keep: Path) -> None:
    """Delete stores whose marker was not touched for :data:`STALE_DAYS` days."""
    limit = time.time() - STALE_DAYS * 86_400
    for candidate in root.iterdir():
        marker = candidate / MARKER
        if candidate == keep or not marker.is_file():
            continue
        try:
            if marker.stat().st_mtime < limit:
                shutil.rmtree(candidate)
                log.info("deleted the unused oxigraph store %s", candidate)
        except OSError as error:
            log.warning("could not delete the unused oxigraph store %s: %s", candidate, error)
