"""Everything the server reads at start-up, once: settings, data, their version, the engine and its workers,
and the indexes the routes answer from.

:meth:`Services.load` does all of the start-up I/O (the data files are read and hashed once, the settings
loaded once); :func:`~calcinosis_kg.server.app.create_app` only assembles the app around a
:class:`Services`, so tests and embedders can build one in memory and give it to ``create_app``.

With a fresh serving bundle (:mod:`~calcinosis_kg.server.resources.bundle`, ``KG_BUNDLE``) the store is the
bundle's, on disk and opened read-only, and every index below is read from the bundle instead of computed.

The data are held once, in the Oxigraph store: queries, descriptions and linked-data documents are answered by
the engine in the query workers; the start-up indexes (labels, VoID statistics, the ontology document) are
read once from the same store with pyoxigraph (:func:`~calcinosis_kg.server.resources.data.rdflib_view` gives
rdflib's API over it, for embedders); the lookup index is built by the first lookup, except with a remote store
(``KG_ENGINE=sparql``), where it is read at start-up with the other indexes: reads outside a query job have no
time limit but the start-up one, and ``/lookup`` then keeps answering while the store is down. With the remote
store's bundle (:mod:`~calcinosis_kg.server.engines.published`, written by ``calcinosis-kg publish``) every index
is read from that bundle instead, as from a serving bundle, and the store is not read at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calcinosis_kg.paths import build_dir
from calcinosis_kg.queries.catalog import CannedQuery, load_catalog
from calcinosis_kg.server.engines.oxigraph import OxigraphEngine
from calcinosis_kg.server.http.conditional import DataVersion
from calcinosis_kg.server.http.metrics import Metrics
from calcinosis_kg.server.resources.bundle import Bundle
from calcinosis_kg.server.resources.bundle_cache import serving_bundle
from calcinosis_kg.server.resources.canned import CannedAnswers
from calcinosis_kg.server.resources.data import DataLoadError, DatasetSummary, data_format, load_store, summarize
from calcinosis_kg.server.resources.labels import LabelIndex
from calcinosis_kg.server.resources.linked_data import LinkedData
from calcinosis_kg.server.resources.void import DatasetDumps, DatasetStatistics
from calcinosis_kg.server.settings import Settings
from calcinosis_kg.server.sparql.describe import GraphView
from calcinosis_kg.server.sparql.lexer import Limits
from calcinosis_kg.server.workers.cache import ResultCache
from calcinosis_kg.server.workers.limits import WorkerLimits
from calcinosis_kg.server.workers.pool import QueryPool
from calcinosis_kg.server.workers.shared_cache import open_shared_answers

if TYPE_CHECKING:
    from calcinosis_kg.server.engines.store_client import StoreClient

log = logging.getLogger(__name__)

BUILT_GRAPH = "calcinosis-kg.nq"
"""The file served when ``KG_DATA`` names none: the built dataset in the build folder (N-Quads: the ontology in
the default graph, the article's knowledge and each import in a named graph of its own), served with the union of
its graphs as the default graph (``KG_UNION_DEFAULT_GRAPH``'s default for it)."""


@dataclass(frozen=True)
class Services:
    """What the app is assembled around (see the module docstring)."""

    settings: Settings
    paths: tuple[Path, ...]
    """The data files, in the order they were loaded (none with a remote store)."""
    version: DataVersion
    summary: DatasetSummary
    view: GraphView
    """The store as the served default graph (the union of all graphs with ``KG_UNION_DEFAULT_GRAPH``)."""
    pool: QueryPool
    metrics: Metrics
    catalog: Mapping[str, CannedQuery]
    linked_data: LinkedData
    statistics: DatasetStatistics
    dumps: DatasetDumps
    lookup_index: LabelIndex | Callable[[], LabelIndex] | None = None
    """The lookup index when it is read at start-up (see the module docstring), or what reads it from a bundle at
    the first lookup; if None, it is built from the store by the first lookup."""
    canned_answers: CannedAnswers | None = None
    """A serving bundle's answers of the canned queries asked without parameters (if usable under the settings)."""
    store_client: StoreClient | None = None
    """The remote store's client with ``KG_ENGINE=sparql`` (``/health`` probes it), else None."""
    store_on_disk: bool = False
    """Whether the embedded engine reads a serving bundle's store on disk (not a copy in memory): the default number
    of query workers depends on it (:func:`~calcinosis_kg.server.http.serve.production_query_workers`)."""

    @classmethod
    def load(cls, config: Mapping[str, Any] | None = None) -> Services:
        """Read the settings (``config`` overrides the environment) and the data; build the engine and indexes.

        Raises :class:`~calcinosis_kg.server.settings.SettingsError` for an invalid setting and
        :class:`~calcinosis_kg.server.resources.data.DataLoadError` when a data file is missing or does not
        parse; both are :class:`~calcinosis_kg.errors.KGError`\\ s whose message is meant for the operator.
        """
        settings = Settings.load(config)
        limits = Limits(
            max_bytes=settings.max_body, max_depth=settings.max_query_depth, max_tokens=settings.max_query_tokens
        )
        worker_limits = WorkerLimits(
            memory=settings.query_memory_mb * 1024 * 1024,
            answer_bytes=settings.max_answer_bytes,
            queue=settings.query_queue,
            per_client=settings.client_concurrency,
        )
        metrics = Metrics.create(settings.metrics_dir)
        store_client: StoreClient | None = None
        bundle: Bundle | None = None
        canned_answers: CannedAnswers | None = None
        lookup_index: LabelIndex | Callable[[], LabelIndex] | None
        paths: tuple[Path, ...] = ()
        view: GraphView
        bundled: tuple[Path, Mapping[str, Any]] | None = None  # a bundle's folder, indexes (files' or store's)
        if settings.engine == "sparql":  # the data stay in the remote store; everything reads it through view
            from calcinosis_kg.server.engines.sparql import open_remote_store  # its HTTP client only when used

            remote = open_remote_store(settings, limits, worker_limits, metrics)
            pool: QueryPool = remote.runner
            summary, view, version, store_client = remote.summary, remote.view, remote.version, remote.client
            log.info("serving the SPARQL store at %s (%d triples)", settings.store_url, summary.triples)
            if remote.bundle is not None:
                bundled = remote.bundle.folder, remote.bundle.indexes
        else:
            paths = tuple(settings.data or (default_data_file(),))
            bundle = _bundle(paths, settings)
            if bundle is not None:
                store, summary, version = bundle.store, bundle.summary, bundle.manifest.version
            else:
                store = load_store(paths)
                summary = summarize(store, union_default_graph=settings.union_default_graph)
                version = DataVersion.of(paths)
            engine = OxigraphEngine(
                store, max_rows=settings.max_rows, union_default_graph=settings.union_default_graph, limits=limits
            )
            engine.warm_up()
            cache = ResultCache(
                max_entries=settings.cache_entries,
                max_bytes=settings.cache_bytes,
                version=version.tag,
                shared=open_shared_answers(settings),
            )
            pool = QueryPool(
                engine, size=settings.pool_size, timeout=settings.query_timeout, cache=cache, limits=worker_limits,
                metrics=metrics,
            )  # fmt: skip
            log.info(
                "loaded %d triples (%d named graphs) from %s",
                summary.triples,
                len(summary.named_graphs),
                ", ".join(str(path) for path in paths),
            )
            view = GraphView(store, union=settings.union_default_graph)
            if bundle is not None:
                bundled = bundle.folder, bundle.__dict__
        if bundled is not None:
            bundle_folder, indexes = bundled
            linked_data, statistics, lookup_index, dumps = (
                indexes["linked_data"],
                indexes["statistics"],
                indexes["lookup_index"],
                indexes["dumps"],
            )
            canned = indexes["canned_answers"]
            if canned is not None and canned.usable(settings.max_rows, settings.max_answer_bytes):
                canned_answers = canned
            log.info("served from the bundle %s", bundle_folder)
        else:
            linked_data = LinkedData.from_store(view)
            statistics = DatasetStatistics.of(view, linked_data)
            lookup_index = LabelIndex.from_store(view) if store_client is not None else None
            dumps = DatasetDumps.load(view, paths)
        return cls(
            settings=settings,
            paths=paths,
            version=version,
            summary=summary,
            view=view,
            pool=pool,
            metrics=metrics,
            catalog=load_catalog(),
            store_client=store_client,
            store_on_disk=bundle is not None and bundle.on_disk,
            lookup_index=lookup_index,
            canned_answers=canned_answers,
            linked_data=linked_data,
            statistics=statistics,
            dumps=dumps,
        )


def _bundle(paths: tuple[Path, ...], settings: Settings) -> Bundle | None:
    """The serving bundle of ``paths`` per ``KG_BUNDLE`` (:func:`~.resources.bundle.serving_bundle`), None for
    files that are missing or of an unknown format (then :func:`load_store` says what is wrong)."""
    if settings.bundle == "off" or not all(path.is_file() and data_format(path) for path in paths):
        return None
    return serving_bundle(
        paths,
        union_default_graph=settings.union_default_graph,
        setting=settings.bundle,
        in_memory=settings.store_in_memory,
    )


def default_data_file() -> Path:
    """The built dataset, :data:`BUILT_GRAPH` in the build folder (``$KG_BUILD_DIR`` or ``build/``).

    Raises :class:`DataLoadError` saying how to build it when it does not exist.
    """
    path = build_dir() / BUILT_GRAPH
    if not path.is_file():
        raise DataLoadError(f"no built graph at {path}: run `make build`, or set KG_DATA to the files to use")
    return path
