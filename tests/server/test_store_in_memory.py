"""``KG_STORE_IN_MEMORY``: a serving bundle's store loaded into memory (small data) or read on disk, same answers.

A bundle of at most :data:`~calcinosis_kg.server.resources.bundle.MEMORY_QUADS` quads holds its store's quads in
N-Quads (``quads.nq``); a replica loads them into an in-memory store (``auto``, ``always``) instead of opening the
RocksDB store read-only (``never``, or ``auto`` without the file). Real production servers on the built dataset's
bundle: where the store is read is seen from outside, in the files their processes hold open, and every way of
asking gets the same bytes whichever store answers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests

from calcinosis_kg.server.resources.bundle import QUADS, STORE, write_bundle
from calcinosis_kg.server.settings import Settings, SettingsError
from tests.support.live_server import PRODUCTION, live_server

pytestmark = [pytest.mark.live]

UNION = {"KG_UNION_DEFAULT_GRAPH": "true"}
JSON = "application/sparql-results+json"
QUERIES = (
    # blank nodes (their labels are the store's), a named graph, a path, a graph form, an aggregate
    "SELECT ?s ?p ?o { ?s ?p ?o FILTER(isBlank(?s)) } ORDER BY ?s ?p ?o LIMIT 200",
    "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g",
    "SELECT ?sub { ?sub rdfs:subClassOf+ ?super } ORDER BY ?sub LIMIT 100",
    "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }",
    "DESCRIBE <https://w3id.org/calcinosis-kg/id/calcinosis-cutis>",
)


@pytest.fixture(scope="module")
def bundles(build_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The built dataset's bundle (union default graph), and a copy of it without :data:`QUADS` (as for data
    above the bound)."""
    folder = tmp_path_factory.mktemp("in-memory")
    with_quads, without = folder / "bundle", folder / "without-quads"
    write_bundle((build_dir / "calcinosis-kg.nq",), with_quads, union_default_graph=True)
    shutil.copytree(with_quads, without)
    (without / QUADS).unlink()
    return with_quads, without


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (granian workers, query workers)."""
    found = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
            for child in children.read().split():
                found.extend(_tree(int(child)))
    return found


def _open_in(store: Path, pid: int) -> set[str]:
    """The files under ``store`` that a process of ``pid``'s tree holds open."""
    opened: set[str] = set()
    for process in _tree(pid):
        for fd in os.listdir(f"/proc/{process}/fd"):
            try:
                target = os.readlink(f"/proc/{process}/fd/{fd}")
            except OSError:  # closed meanwhile
                continue
            if target.startswith(str(store.resolve())):
                opened.add(target)
    return opened


def _answers(url: str) -> list[tuple[int, str, bytes]]:
    """Each query by GET, by a POSTed form and POSTed as ``application/sparql-query``; a graph in N-Triples, its
    lines sorted (a graph's triples come in the store's order, which differs between the two stores)."""
    got = []
    for query in QUERIES:
        accept = {"Accept": "application/n-triples" if query.startswith("DESCRIBE") else JSON}
        direct = {**accept, "Content-Type": "application/sparql-query"}
        sent = [
            requests.get(url, params={"query": query}, headers=accept, timeout=30),
            requests.post(url, data={"query": query}, headers=accept, timeout=30),
            requests.post(url, data=query.encode(), headers=direct, timeout=30),
        ]
        for answer in sent:
            body = answer.content
            if query.startswith("DESCRIBE"):
                body = b"".join(sorted(body.splitlines(keepends=True)))
            got.append((answer.status_code, answer.headers["Content-Type"], body))
    return got


@pytest.mark.parametrize(
    ("setting", "quads", "in_memory"),
    [
        ("auto", True, True),
        ("always", True, True),
        ("never", True, False),
        ("auto", False, False),
        ("always", False, True),  # copied from the store on disk
    ],
)
def test_kg_store_in_memory_says_where_the_store_is_read_and_the_answers_stay_the_same(
    bundles: tuple[Path, Path], build_dir: Path, tmp_path: Path, setting: str, quads: bool, in_memory: bool
) -> None:
    folder = bundles[0] if quads else bundles[1]
    settings = {**UNION, "KG_BUNDLE": str(folder), "KG_STORE_IN_MEMORY": setting}
    with live_server(tmp_path, [build_dir / "calcinosis-kg.nq"], settings, *PRODUCTION) as server:
        answers = _answers(server.sparql)
        opened = _open_in(folder / STORE, server.process.pid)
    assert [status for status, _, _ in answers] == [200] * len(answers)
    assert bool(opened) is not in_memory, opened
    reference = tmp_path / "reference"
    reference.mkdir()
    on_disk = {**settings, "KG_BUNDLE": str(bundles[1]), "KG_STORE_IN_MEMORY": "never"}
    with live_server(reference, [build_dir / "calcinosis-kg.nq"], on_disk, *PRODUCTION) as server:
        assert _answers(server.sparql) == answers


def test_a_small_bundle_holds_its_stores_quads_with_their_blank_node_labels(tmp_path: Path) -> None:
    """``quads.nq`` parses to the quads of the store, blank-node labels included (the answers name them)."""
    data = tmp_path / "data.nq"
    data.write_text(
        '_:b1 <http://example.org/p> _:b2 <http://example.org/g> .\n_:b2 <http://example.org/p> "x"@en .\n'
        '<http://example.org/s> <http://example.org/q> "1"^^<http://www.w3.org/2001/XMLSchema#integer> .\n',
        encoding="utf-8",
    )
    write_bundle((data,), tmp_path / "bundle", union_default_graph=False)
    on_disk = sorted(map(str, ox.Store.read_only(str(tmp_path / "bundle" / STORE))))
    parsed = sorted(map(str, ox.parse(path=str(tmp_path / "bundle" / QUADS), format=ox.RdfFormat.N_QUADS)))
    assert parsed == on_disk
    assert len(parsed) == 3
    assert any(quad.startswith("_:b1 ") for quad in parsed)


def test_kg_store_in_memory_refuses_other_values() -> None:
    assert Settings.load({}, environ={}).store_in_memory == "auto"
    assert Settings.load({"KG_STORE_IN_MEMORY": " Never "}, environ={}).store_in_memory == "never"
    with pytest.raises(SettingsError, match="KG_STORE_IN_MEMORY must be auto, always or never, got 'sometimes'"):
        Settings.load({"KG_STORE_IN_MEMORY": "sometimes"}, environ={})
