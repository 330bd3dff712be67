"""The graph's CodeSystem in each earlier release: built from the committed release snapshots (``releases/``).

Each release's graph is committed as ``releases/{version IRI segment}/calcinosis-kg.nt.gz`` (``docs/releases.md``).
The CodeSystem of a snapshot is built by the same queries and code as the served graph's
(:data:`~.resources.QUERIES`, :func:`~.resources.build_resources`), run by pyoxigraph over the snapshot in memory
(a few thousand triples), so a client can validate or look up a code in the release it was coded with
(``system|0.1.0``, ``version=0.1.0``). Its ``version`` is the snapshot's ``owl:versionInfo``; its id is
``calcinosis-kg-{version}`` (the served release keeps ``calcinosis-kg``). A snapshot that cannot be read is
logged and left out, as is one of the served release's own version.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pyoxigraph as ox

from calcinosis_kg.graph.release import SNAPSHOT_NAME
from calcinosis_kg.paths import RELEASES_DIR
from calcinosis_kg.server.engines.common import QUERY_PREFIXES
from calcinosis_kg.server.fhir.canonical import Rows
from calcinosis_kg.server.fhir.model import JSON
from calcinosis_kg.server.fhir.resources import QUERIES, build_resources

log = logging.getLogger(__name__)

PROLOGUE = "".join(f"PREFIX {prefix}: <{namespace}>\n" for prefix, namespace in QUERY_PREFIXES.items())
"""The prefixes the served graph's queries may use undeclared, declared for pyoxigraph."""


def _select(store: ox.Store, name: str) -> Rows:
    """The rows of query ``name`` of :data:`QUERIES` over ``store``, as ``{variable: lexical form}`` (bound ones)."""
    solutions = store.query(PROLOGUE + QUERIES[name])
    if not isinstance(solutions, ox.QuerySolutions):
        raise ValueError(f"query {name} is not a SELECT")
    names = [variable.value for variable in solutions.variables]
    rows: Rows = []
    for solution in solutions:
        row = {}
        for variable in names:
            term = solution[variable]
            if term is not None:
                row[variable] = str(term.value)
        rows.append(row)
    return rows


def snapshot_code_system(path: Path) -> JSON:
    """The graph's CodeSystem as the release snapshot at ``path`` has it."""
    store = ox.Store()
    with gzip.open(path, "rb") as handle:
        store.load(handle.read(), "application/n-triples")
    code_system = next(
        r for r in build_resources(lambda name: _select(store, name)) if r["resourceType"] == "CodeSystem"
    )
    code_system["id"] = f"{code_system['id']}-{code_system['version']}"
    return code_system


def release_code_systems(current: str | None, releases_dir: Path = RELEASES_DIR) -> list[JSON]:
    """The graph's CodeSystem in each release snapshot under ``releases_dir`` whose version is not ``current``."""
    found: list[JSON] = []
    for path in sorted(releases_dir.glob(f"*/{SNAPSHOT_NAME}")):
        try:
            code_system = snapshot_code_system(path)
        except (OSError, ValueError, SyntaxError, StopIteration) as error:
            log.warning("FHIR terminology: release snapshot %s left out: %s", path, error)
            continue
        if code_system.get("version") != current:
            found.append(code_system)
    return found
