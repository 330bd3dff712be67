"""Which serving bundle a server uses (``KG_BUNDLE``): the build's, one of the cache's, or one made now, once.

The bundles themselves (what they hold, writing, opening, freshness) are :mod:`~calcinosis_kg.server.resources.bundle`;
this module finds the fresh one for the data files, and makes one in the cache (``build/bundles/<hash>-<graph>/``,
the :data:`~.bundle.CACHE_SIZE` most recent kept) when asked to. Replicas started together on new files make it
once: the first holds a lock (``flock``) while making it, the others wait and open it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

from calcinosis_kg.paths import build_dir
from calcinosis_kg.server.http.conditional import DataVersion
from calcinosis_kg.server.resources.bundle import (
    BUILT_BUNDLE,
    CACHE,
    CACHE_SIZE,
    Bundle,
    BundleError,
    Manifest,
    file_stats,
    make_bundle_in_subprocess,
    open_bundle,
    open_fresh,
)

log = logging.getLogger(__name__)


def serving_bundle(
    paths: tuple[Path, ...], *, union_default_graph: bool, setting: str, in_memory: str = "auto"
) -> Bundle | None:
    """The bundle to serve ``paths`` from, per ``KG_BUNDLE`` (``setting``), or None.

    ``off``: none. ``auto``: the build's (:data:`BUILT_BUNDLE`) or one of the cache's (:func:`cached_folder`) when
    fresh. ``make``: the same, else one made now into the cache (in a child process; on failure the server
    logs why and loads the files as before). A folder: that bundle, or :class:`BundleError` when it is not
    fresh (the operator named it: serving anything else would hide the mistake).

    A bundle whose manifest names the files with their present size and modification time is fresh without
    hashing them (as ``make`` judges a target: hashing is most of the start at a million triples); otherwise
    the files are hashed and the bundle is fresh when it was made from data of that hash. Its store is opened
    in memory or on disk as ``in_memory`` (``KG_STORE_IN_MEMORY``) says (:func:`~.bundle.open_fresh`).
    """
    if setting == "off":
        return None
    named = setting not in ("auto", "make")
    cache = build_dir() / CACHE
    candidates = [Path(setting)] if named else [build_dir() / BUILT_BUNDLE, *_folders(cache)]
    stats = file_stats(paths)
    for folder in candidates:
        manifest = Manifest.read(folder)
        fresh = manifest is not None and manifest.files == stats
        if fresh and manifest is not None and manifest.stale_because(manifest.version, union_default_graph) is None:
            return open_fresh(folder, manifest, in_memory)
    version = DataVersion.of(paths)
    if named:
        return open_bundle(Path(setting), version, union_default_graph=union_default_graph, in_memory=in_memory)
    cached = cached_folder(version, union_default_graph)
    for folder in (build_dir() / BUILT_BUNDLE, cached):
        try:
            return open_bundle(folder, version, union_default_graph=union_default_graph, in_memory=in_memory)
        except BundleError as error:
            log.debug("%s", error)
    if setting != "make":
        return None
    try:
        with _making(cached):  # replicas started together: one makes it, the others wait and open it
            try:
                return open_bundle(cached, version, union_default_graph=union_default_graph, in_memory=in_memory)
            except BundleError:
                pass
            log.info("making the serving bundle of %s in %s", ", ".join(map(str, paths)), cached)
            make_bundle_in_subprocess(paths, cached, union_default_graph=union_default_graph)
            prune_cache(keep=cached)
        return open_bundle(cached, version, union_default_graph=union_default_graph, in_memory=in_memory)
    except BundleError as error:
        log.warning("%s; loading the data files instead", error)
        return None


@contextlib.contextmanager
def _making(folder: Path) -> Iterator[None]:
    """Hold the lock on making the bundle in ``folder`` (``folder.lock``, an ``flock``, let go if the process dies)."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock = (folder.parent / f"{folder.name}.lock").open("a")
    except OSError as error:
        raise BundleError(f"cannot make the serving bundle in {folder}: {error}") from error
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def cached_folder(version: DataVersion, union_default_graph: bool) -> Path:
    """Where the bundle of data of ``version`` is cached: ``build/bundles/<hash>-<default|union>``."""
    return build_dir() / CACHE / f"{version.tag[:32]}-{'union' if union_default_graph else 'default'}"


def prune_cache(keep: Path, size: int = CACHE_SIZE) -> None:
    """Remove all but the ``size`` most recently made bundles of the cache (never ``keep``)."""
    for old in _folders(keep.parent)[size:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def _folders(cache: Path) -> list[Path]:
    """The cache's bundles, the most recently made first (none while being written: those are ``.partial``)."""
    try:
        made = [path for path in cache.iterdir() if path.is_dir() and "." not in path.name]
    except OSError:
        return []
    return sorted(made, key=lambda path: path.stat().st_mtime, reverse=True)
