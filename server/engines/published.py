"""The bundle of a remote store: the start-up indexes of what ``calcinosis-kg publish`` loaded into it.

A replica on ``KG_ENGINE=sparql`` used to read the whole store at every start (counts, a fingerprint of every
quad, the linked-data, label and lookup indexes, the VoID statistics, a copy of every triple holding a blank
node). ``calcinosis-kg publish`` knows the data it loads, so it computes those indexes once, from the release
file as the store holds it (a triples file in the graph it went into; a dataset, ``build/calcinosis-kg.nq``, its
unnamed graph there and each named graph under its name), with the functions a replica would use
(:func:`~calcinosis_kg.server.resources.bundle.write_indexes`, as the embedded engine's bundle), and writes them
beside the store (``build/store-bundle/`` by default, ``--bundle FOLDER``): the indexes, lookup index
and dumps of a serving bundle, no store (the remote store is the data), and:

``manifest.json``
    the bundle's :class:`~calcinosis_kg.server.resources.bundle.Manifest`: the data version is the SHA-256 of the
    release file and of the graph it went into (:func:`published_version`), the default graph the union of the
    store's graphs when the data went into named graphs (the store runs ``--union-default-graph``);
``published.json``
    the graph the release went into, every graph the data went into with its triples, the store, and the
    *marker*: an empty named graph ``urn:x-calcinosis-kg:published:<data version>`` that publish creates in the
    store (empty graphs are kept by Oxigraph, hold no triple, so no query's answer changes) and that replaces
    the previous marker.

A replica (:func:`open_published`, ``KG_BUNDLE`` ``auto``/``make``: ``build/store-bundle/``; or a folder) asks
the store one question whose answer grows with the number of graphs, not triples: ``SELECT ?g WHERE { GRAPH
?g {} }``. The bundle serves when the store holds its marker and exactly the published graphs (and markers);
otherwise (republished with other data, loaded by other means, another graph beside it) the replica logs why and
reads the store as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from calcinosis_kg.paths import build_dir
from calcinosis_kg.server.engines.store_client import StoreClient
from calcinosis_kg.server.errors import EndpointError
from calcinosis_kg.server.http.conditional import DataVersion
from calcinosis_kg.server.resources.bundle import BundleError, Manifest, read_indexes, write_indexes
from calcinosis_kg.server.resources.data import DataLoadError, data_format
from calcinosis_kg.server.sparql.describe import GraphView

log = logging.getLogger(__name__)

STORE_BUNDLE = "store-bundle"
"""The folder in the build folder where ``calcinosis-kg publish`` writes the bundle by default."""
PUBLISHED = "published.json"
MARKER_PREFIX = "urn:x-calcinosis-kg:published:"
"""The marker graph's IRI is this followed by the data version."""
DEFAULT_GRAPH = "default"
"""The graph name meaning the store's default graph (as ``calcinosis-kg publish --graph default``)."""
NONE_THERE = "there is none (`calcinosis-kg publish` writes it)"
GRAPHS_QUERY = "SELECT ?g WHERE { GRAPH ?g {} }"
"""The one start-up question of a replica with a bundle: the store's graphs (empty ones too)."""


@dataclass(frozen=True)
class Published:
    """A bundle's ``published.json``: where its data went."""

    graph: str
    marker: str
    store: str
    graphs: tuple[tuple[str, int], ...] = ()
    """Every graph the data went into (:data:`DEFAULT_GRAPH` for the store's default graph), with its triples: the
    release's graph and a dataset's named graphs. The store must hold these data graphs and no other."""

    def data_graphs(self) -> set[str]:
        """The named graphs the store must hold (an older ``published.json`` lists none: the release's graph)."""
        names = {name for name, _ in self.graphs} or {self.graph}
        return names - {DEFAULT_GRAPH}

    @classmethod
    def read(cls, folder: Path) -> Published | None:
        """The ``published.json`` in ``folder``; None when there is none or it cannot be read."""
        try:
            raw = json.loads((folder / PUBLISHED).read_text(encoding="utf-8"))
            graphs = tuple((str(name), int(triples)) for name, triples in raw.get("graphs", {}).items())
            return cls(graph=str(raw["graph"]), marker=str(raw["marker"]), store=str(raw["store"]), graphs=graphs)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def as_json(self) -> str:
        record = {"graph": self.graph, "marker": self.marker, "store": self.store, "graphs": dict(self.graphs)}
        return json.dumps(record, indent=2)


@dataclass(frozen=True)
class PublishedBundle:
    """A fresh bundle of the store, opened: its manifest and the indexes (:class:`~.bundle.Bundle`'s fields)."""

    folder: Path
    manifest: Manifest
    indexes: dict[str, Any]


def published_version(path: Path, graph: str) -> DataVersion:
    """The data version of ``path`` published into ``graph``: the file's, with the graph's name hashed in."""
    release = DataVersion.of((path,))
    tag = hashlib.sha256(f"{release.tag}\0{graph}".encode()).hexdigest()
    return DataVersion(tag=tag, last_modified=release.last_modified)


def marker_graph(version: DataVersion) -> str:
    return MARKER_PREFIX + version.tag


def default_folder() -> Path:
    return build_dir() / STORE_BUNDLE


def write_published_bundle(path: Path, folder: Path, *, graph: str, store: str) -> Published:
    """Write the bundle of ``path`` published into ``graph`` of ``store`` in ``folder`` (replacing one there).

    The file is parsed as a replica would load it (same parser, base IRI and blank-node labels) into the graphs
    ``calcinosis-kg publish`` put it in: its (unnamed) triples into ``graph``, a dataset's named graphs each under
    its name. The indexes are of the union of those graphs when any is named (as the embedded engine's bundle of
    the built dataset), else of the default graph. Written into ``folder`` + ``.partial-<pid>`` and renamed.
    Raises :class:`BundleError` (or :class:`DataLoadError` for a file that does not parse).
    """
    rdf_format = data_format(path)
    if rdf_format is None:
        raise DataLoadError(f"cannot make the store's bundle of {path}: unknown RDF file extension")
    version = published_version(path, graph)
    name: ox.NamedNode | ox.DefaultGraph = ox.DefaultGraph() if graph == DEFAULT_GRAPH else ox.NamedNode(graph)
    memory = ox.Store()
    try:
        parsed = ox.parse(path=str(path), format=rdf_format, base_iri=path.resolve().as_uri())
        memory.extend(
            ox.Quad(q.subject, q.predicate, q.object, name) if isinstance(q.graph_name, ox.DefaultGraph) else q
            for q in parsed
        )
    except (SyntaxError, ValueError, OSError) as error:
        raise DataLoadError(f"cannot parse {path} as {rdf_format.name}: {error}") from error
    named = sorted(g.value for g in memory.named_graphs() if isinstance(g, ox.NamedNode))
    parts = ([(DEFAULT_GRAPH, ox.DefaultGraph())] if graph == DEFAULT_GRAPH else []) + [
        (g, ox.NamedNode(g)) for g in named
    ]
    counts = [(g, sum(1 for _ in memory.quads_for_pattern(None, None, None, part))) for g, part in parts]
    union = bool(named)
    published = Published(graph=graph, marker=marker_graph(version), store=store, graphs=tuple(counts))
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        write_indexes(partial, memory, (path,), union_default_graph=union)
        manifest = Manifest(version, union, (path.name,))
        (partial / "manifest.json").write_text(manifest.as_json() + "\n", encoding="utf-8")
        (partial / PUBLISHED).write_text(published.as_json() + "\n", encoding="utf-8")
        old = folder.with_name(f"{folder.name}.old-{os.getpid()}")
        if folder.exists():
            folder.rename(old)
        partial.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise BundleError(f"cannot write the store's bundle in {folder}: {error}") from error
    return published


def open_published(
    client: StoreClient, setting: str, view: GraphView, *, union_default_graph: bool
) -> PublishedBundle | None:
    """The bundle per ``KG_BUNDLE`` (``setting``) if it is fresh for the store behind ``client``, else None (logged
    with the reason: the replica then reads the store). Asks the store :data:`GRAPHS_QUERY`, nothing else."""
    if setting == "off":
        return None
    folder = default_folder() if setting in ("auto", "make") else Path(setting)
    reason = _stale_because(client, folder, union_default_graph)
    if reason is not None:
        level = logging.INFO if reason is NONE_THERE else logging.WARNING
        log.log(level, "not serving the store's bundle in %s: %s; reading the store instead", folder, reason)
        return None
    manifest = Manifest.read(folder)
    assert manifest is not None
    try:
        indexes = read_indexes(folder, view)
    except BundleError as error:
        log.warning("%s; reading the store instead", error)
        return None
    return PublishedBundle(folder=folder, manifest=manifest, indexes=indexes)


def _stale_because(client: StoreClient, folder: Path, union_default_graph: bool) -> str | None:
    """Why the bundle in ``folder`` cannot serve the store's data; None when it can."""
    manifest = Manifest.read(folder)
    published = Published.read(folder)
    if manifest is None or published is None:
        return NONE_THERE
    reason = manifest.stale_because(manifest.version, union_default_graph)
    if reason is not None:
        return reason
    if client.dataset is not None:
        return "KG_STORE_DEFAULT_GRAPH is set (a bundle is written for the store's own default graph)"
    try:
        rows = client.select(GRAPHS_QUERY)
    except EndpointError as error:
        return f"the store's graphs cannot be read ({error})"
    graphs = {row["g"].value for row in rows if isinstance(row["g"], ox.NamedNode)}
    if published.marker not in graphs:
        return (
            f"the store does not hold the data it was made for (data version {manifest.version.tag[:12]}, "
            f"published into graph {published.graph}): it was published again with other data, or loaded otherwise"
        )
    data = {graph for graph in graphs if not graph.startswith(MARKER_PREFIX)}
    expected = published.data_graphs()
    if expected - data:
        return f"the store no longer holds the published graph(s) {', '.join(sorted(expected - data)[:5])}"
    if data != expected:
        shown = ", ".join(sorted(data - expected)[:5])
        return f"the store holds other graphs than the published {published.graph} and its dataset's (besides: {shown})"
    return None
