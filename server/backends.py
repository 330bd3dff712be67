"""Choosing and setting up the query engine (``KG_BACKEND``) and the query worker pool with its result cache.

``rdflib`` (the default) evaluates in memory with :class:`~calcinosis_kg.server.evaluation.QueryEngine`;
``oxigraph`` with :class:`~calcinosis_kg.server.oxigraph_backend.OxigraphEngine` over an on-disk store built
from the same loaded dataset (:mod:`calcinosis_kg.server.oxigraph_store`), loaded into memory here when the data
are small enough. Either way the canned queries of ``queries/*.rq`` are registered here, and each query worker
parses and checks one on its first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rdflib import Dataset

from calcinosis_kg.server.cache import ResultCache
from calcinosis_kg.server.data import content_hash, stored_triples
from calcinosis_kg.server.evaluation import Engine, QueryEngine
from calcinosis_kg.server.pool import QueryPool
from calcinosis_kg.server.settings import Settings


def canned_texts() -> list[str]:
    """The texts of the canned queries (``queries/*.rq``), as the canned-query API sends them to the pool."""
    from calcinosis_kg.queries.catalog import QUERIES_DIR

    return [path.read_text(encoding="utf-8") for path in sorted(QUERIES_DIR.glob("*.rq"))]


def default_store_root() -> Path:
    """``oxigraph-store`` in the build directory (``$KG_BUILD_DIR`` or ``build/``)."""
    from calcinosis_kg.graph.build import DEFAULT_BUILD_DIR  # imported here: it reads KG_BUILD_DIR

    return DEFAULT_BUILD_DIR / "oxigraph-store"


def make_engine(settings: Settings, dataset: Dataset, paths: Sequence[Path], data_tag: str) -> Engine:
    """The engine ``settings.backend`` names, warmed up, with the canned queries registered (parsed on first use)."""
    rdflib_engine = QueryEngine(dataset, max_rows=settings.max_rows)
    engine: Engine = rdflib_engine
    if settings.backend == "oxigraph":
        from calcinosis_kg.server.oxigraph_backend import OxigraphEngine
        from calcinosis_kg.server.oxigraph_store import copy_into_memory, ensure_store

        root = settings.store_dir or default_store_root()
        store = ensure_store(dataset, data_tag, root, tuple(paths))
        in_memory = stored_triples(dataset) <= settings.oxigraph_in_memory
        engine = OxigraphEngine(
            store,
            rdflib_engine,
            max_rows=settings.max_rows,
            union_default_graph=settings.union_default_graph,
            in_memory=copy_into_memory(store, rdflib_engine.named_graphs) if in_memory else None,
        )
    engine.warm_up()
    engine.prepare(canned_texts())
    return engine


def make_query_pool(settings: Settings, dataset: Dataset, paths: Sequence[Path]) -> QueryPool:
    """The query worker pool of a server: its engine, its size and time limit, and its result cache."""
    data_tag = content_hash(paths)
    cache = ResultCache(max_entries=settings.cache_entries, max_bytes=settings.cache_bytes, version=data_tag)
    engine = make_engine(settings, dataset, paths, data_tag)
    return QueryPool(engine, size=settings.pool_size, timeout=settings.query_timeout, cache=cache)
