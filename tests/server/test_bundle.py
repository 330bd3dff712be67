"""The serving bundle (issue 28): written deterministically, served with the same answers as the dump, fresh-checked.

A bundle is written by :func:`~calcinosis_kg.server.resources.bundle.write_bundle` (what ``calcinosis-kg build`` and
a server started on ``KG_DATA`` files run), in child interpreters with different hash seeds, of the built
dataset (``calcinosis-kg.nq``, the union as default graph, as ``calcinosis-kg build`` writes ``build/bundle/``);
apps are created on the same data with ``KG_BUNDLE=off`` (the files loaded into memory) and on the bundle, and
their answers compared byte for byte; a production server on ``KG_DATA`` makes the bundle once, in the cache, and
uses it at its next start.
"""

from __future__ import annotations

import mmap
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests
from flask import Flask
from rdflib import Graph
from rdflib.compare import isomorphic

from calcinosis_kg.server import create_app
from calcinosis_kg.server.app import app_services, query_pool
from calcinosis_kg.server.http.conditional import DataVersion
from calcinosis_kg.server.http.formats import Family, formats_of
from calcinosis_kg.server.resources.bundle import LOAD_BATCH, MANIFEST, STORE, BundleError, write_bundle
from calcinosis_kg.server.resources.bundle_cache import cached_folder
from calcinosis_kg.server.resources.canned import answer_family
from calcinosis_kg.server.resources.data import DataLoadError, load_store
from tests.support.live_server import PRODUCTION, live_server

pytestmark = [pytest.mark.live]

FILES = (
    "manifest.json",
    "indexes.pickle",
    "lookup.bin",
    "canned.bin",
    "linked-data.bin",
    "ontology.nt",
    "dumps/calcinosis-kg.nt",
    "dumps/calcinosis-kg.ttl",
    "dumps/calcinosis-kg.nq",
)
UNION = {"KG_UNION_DEFAULT_GRAPH": True}
"""The built dataset's default graph, the union of its graphs (the default without ``KG_DATA``)."""
PROBES = (
    # every triple, in pages under KG_MAX_ROWS (10,000)
    "/sparql?query=SELECT+*+%7B+%3Fs+%3Fp+%3Fo+%7D+ORDER+BY+%3Fs+%3Fp+%3Fo+LIMIT+8000&format=csv",
    "/sparql?query=SELECT+*+%7B+%3Fs+%3Fp+%3Fo+%7D+ORDER+BY+%3Fs+%3Fp+%3Fo+LIMIT+8000+OFFSET+8000&format=csv",
    "/id/calcinosis-cutis",
    "/id/calcinosis-cutis.html",
    "/lookup?q=calcinosis",
    "/lookup?q=calc",
    "/.well-known/void",
    "/queries/cancers",
    "/dumps/calcinosis-kg.jsonld",
    "/",
    "/ontology",  # the ontology document (the bundle's ontology.nt)
    "/ontology.html",
    "/query",  # the editor's classes, properties (the ontology document) and entities (the labels)
    "/search?q=calc",
)


def _write_in_child(data: Path, folder: Path, seed: str) -> None:
    argv = [sys.executable, "-m", "calcinosis_kg.server.resources.bundle", str(folder), "union", "replace", str(data)]
    subprocess.run(argv, env={**os.environ, "PYTHONHASHSEED": seed}, check=True, timeout=300)


def _quads(folder: Path) -> list[str]:
    return sorted(str(quad) for quad in ox.Store.read_only(str(folder / STORE)))


@pytest.fixture(scope="module")
def built_dataset(build_dir: Path) -> Path:
    """The build's ``calcinosis-kg.nq``: what the server serves without ``KG_DATA``."""
    return build_dir / "calcinosis-kg.nq"


@pytest.fixture(scope="module")
def bundled(built_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bundled") / "bundle"
    _write_in_child(built_dataset, folder, "1")
    return folder


@pytest.fixture(scope="module")
def apps(built_dataset: Path, bundled: Path) -> Iterator[tuple[Flask, Flask]]:
    """An app on the dump loaded into memory, an app on the bundle: the same data."""
    made = [
        create_app({"KG_DATA": [built_dataset], "TESTING": True, "KG_BUNDLE": setting, **UNION})
        for setting in ("off", str(bundled))
    ]
    try:
        yield made[0], made[1]
    finally:
        for app in made:
            query_pool(app).close()


def test_the_bundle_is_deterministic(built_dataset: Path, bundled: Path, tmp_path: Path) -> None:
    """Written again in another interpreter with another hash seed: the same files, byte for byte, the same quads."""
    again = tmp_path / "again"
    _write_in_child(built_dataset, again, "2")
    for name in FILES:
        assert (again / name).read_bytes() == (bundled / name).read_bytes(), name
    assert _quads(again) == _quads(bundled)
    assert len(_quads(bundled)) > 5000
    assert any("<https://w3id.org/calcinosis-kg/graph/hpo>" in quad for quad in _quads(bundled))  # the graphs kept


def test_a_server_on_the_bundle_answers_as_one_on_the_dump(apps: tuple[Flask, Flask]) -> None:
    on_dump, on_bundle = (app.test_client() for app in apps)
    assert isinstance(app_services(apps[1]).dumps.dumps[0].content, mmap.mmap)  # really the bundle's
    assert isinstance(app_services(apps[0]).dumps.dumps[0].content, bytes)
    for probe in PROBES:
        expected, got = on_dump.get(probe), on_bundle.get(probe)
        assert (got.status_code, got.content_type) == (expected.status_code, expected.content_type), probe
        assert expected.status_code == 200, probe
        if got.content_type.startswith("text/turtle"):  # the same triples, in the store's order (not the same)
            assert isomorphic(Graph().parse(data=got.data), Graph().parse(data=expected.data)), probe
        else:
            assert got.data == expected.data, probe
    assert app_services(apps[1]).summary == app_services(apps[0]).summary
    assert app_services(apps[1]).statistics == app_services(apps[0]).statistics


def test_a_stale_bundle_named_by_kg_bundle_is_refused(built_nt: Path, tmp_path: Path) -> None:
    data = tmp_path / "data.nt"
    data.write_bytes(built_nt.read_bytes())
    write_bundle((data,), tmp_path / "bundle", union_default_graph=False)
    with pytest.raises(BundleError, match="made with KG_UNION_DEFAULT_GRAPH=false"):
        create_app({"KG_DATA": [data], "KG_UNION_DEFAULT_GRAPH": True, "KG_BUNDLE": str(tmp_path / "bundle")})
    with data.open("a", encoding="utf-8") as file:
        file.write("<http://example.org/new> <http://example.org/p> <http://example.org/o> .\n")
    with pytest.raises(BundleError, match=r"bundle in .* is stale: it was made from data version \w+, the data"):
        create_app({"KG_DATA": [data], "TESTING": True, "KG_BUNDLE": str(tmp_path / "bundle")})
    with pytest.raises(BundleError, match="no serving bundle in"):
        create_app({"KG_DATA": [data], "TESTING": True, "KG_BUNDLE": str(tmp_path)})


def test_a_stale_built_bundle_is_not_served_but_made_again(
    built_nt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``KG_BUNDLE=make`` with the build's bundle made from other data: the data files are served, from a new bundle."""
    build = tmp_path / "build"
    data = build / "calcinosis-kg.nt"
    build.mkdir()
    data.write_bytes(built_nt.read_bytes())
    write_bundle((data,), build / "bundle", union_default_graph=False)
    with data.open("a", encoding="utf-8") as file:
        file.write("<http://example.org/new> <http://example.org/p> <http://example.org/o> .\n")
    monkeypatch.setenv("KG_BUILD_DIR", str(build))
    app = create_app({"KG_DATA": [data], "TESTING": True, "KG_BUNDLE": "make"})
    try:
        folder = app_services(app).dumps.dumps[0].filename and next(
            p for p in (build / "bundles").iterdir() if p.is_dir()
        )
        answer = app.test_client().get("/sparql?query=ASK+%7B+%3Chttp://example.org/new%3E+%3Fp+%3Fo+%7D&format=json")
        assert answer.json == {"head": {}, "boolean": True}
        assert '"data_version"' in (folder / MANIFEST).read_text(encoding="utf-8")
    finally:
        query_pool(app).close()


def test_a_production_server_makes_the_bundle_of_its_files_once(built_nt: Path, tmp_path: Path) -> None:
    """``serve --production`` on KG_DATA: the bundle is made in the cache at the first start and used at the next;
    the query workers (forked from the granian worker) answer from the read-only store."""
    data = tmp_path / "data.nt"
    data.write_bytes(built_nt.read_bytes())
    settings = {"KG_BUILD_DIR": str(tmp_path / "build")}
    with live_server(tmp_path, [data], settings, *PRODUCTION) as server:
        count = requests.get(server.sparql, params={"query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"}, timeout=30)
        assert count.status_code == 200
    (made,) = (tmp_path / "build" / "bundles").glob("*-default")
    stamp = (made / MANIFEST).stat().st_mtime_ns
    with live_server(tmp_path, [data], settings, *PRODUCTION) as server:
        again = requests.get(server.sparql, params={"query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"}, timeout=30)
        assert again.text == count.text
        assert requests.get(f"{server.url}/lookup", params={"q": "calcinosis"}, timeout=30).status_code == 200
        assert "served from the bundle" in server.log_text()
    assert (made / MANIFEST).stat().st_mtime_ns == stamp


def test_a_bundle_that_cannot_be_made_leaves_the_files_served(
    built_nt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A build folder that cannot be written (here a file): the server says why and loads the files as before."""
    (tmp_path / "not-a-folder").write_text("", encoding="utf-8")
    monkeypatch.setenv("KG_BUILD_DIR", str(tmp_path / "not-a-folder"))
    app = create_app({"KG_DATA": [built_nt], "TESTING": True, "KG_BUNDLE": "make"})
    try:
        assert "cannot make the serving bundle in" in caplog.text
        assert "loading the data files instead" in caplog.text
        assert isinstance(app_services(app).dumps.dumps[0].content, bytes)
        assert app.test_client().get("/lookup?q=calcinosis").status_code == 200
    finally:
        query_pool(app).close()


def test_every_canned_answer_of_the_bundle_is_the_engines(apps: tuple[Flask, Flask]) -> None:
    """Each canned query without parameters, in each format of its family: the same bytes as the query workers'."""
    on_dump, on_bundle = (app.test_client() for app in apps)
    precomputed = app_services(apps[1]).canned_answers
    assert precomputed is not None
    assert app_services(apps[0]).canned_answers is None
    catalog = app_services(apps[1]).catalog
    checked = 0
    for name, query in catalog.items():
        for fmt in formats_of(answer_family(query)):
            expected = on_dump.get(f"/queries/{name}", query_string={"format": fmt.key})
            got = on_bundle.get(f"/queries/{name}", query_string={"format": fmt.key})
            assert (got.status_code, got.content_type) == (expected.status_code, expected.content_type), name
            if expected.content_type.startswith("text/turtle") or answer_family(query) is Family.GRAPH:
                continue  # graphs: the store's triple order (see above)
            assert got.data == expected.data, (name, fmt.key)
            checked += 1
    assert checked >= len(catalog)
    assert len(precomputed.answers) >= len(catalog)


def test_a_canned_answer_of_the_bundle_does_not_wait_behind_a_runaway_query(built_dataset: Path, bundled: Path) -> None:
    """One query worker, busy with a runaway query until the 3 s limit: the canned answer comes at once."""
    settings = {"KG_QUERY_WORKERS": 1, "KG_QUERY_TIMEOUT": 3, "TESTING": True, **UNION}
    app = create_app({"KG_DATA": [built_dataset], "KG_BUNDLE": str(bundled), **settings})
    runaway = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    try:
        with ThreadPoolExecutor(1) as executor:
            busy = executor.submit(app.test_client().get, "/sparql", query_string={"query": runaway})
            time.sleep(0.5)
            started = time.monotonic()
            answer = app.test_client().get("/queries/cancers")
            waited = time.monotonic() - started
            assert answer.status_code == 200
            assert waited < 1.5, waited
            assert not busy.done()  # the worker was still busy meanwhile
            assert busy.result().status_code == 503
    finally:
        query_pool(app).close()


def test_a_stale_bundle_in_the_cache_is_replaced(
    built_nt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache's bundle of these very data, of an older format: ``make`` writes a new one in its place and serves
    it (it was kept, and the files loaded instead, before)."""
    monkeypatch.setenv("KG_BUILD_DIR", str(tmp_path / "build"))
    folder = cached_folder(DataVersion.of((built_nt,)), union_default_graph=False)
    write_bundle((built_nt,), folder, union_default_graph=False)
    manifest = folder / MANIFEST
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"format": ', '"format": 1000'), "utf-8")
    app = create_app({"KG_DATA": [built_nt], "TESTING": True, "KG_BUNDLE": "make"})
    try:
        assert isinstance(app_services(app).dumps.dumps[0].content, mmap.mmap)
        assert '"format": 1000' not in manifest.read_text(encoding="utf-8")
    finally:
        query_pool(app).close()


def test_replicas_started_together_make_the_bundle_once(built_nt: Path, tmp_path: Path) -> None:
    """Three processes ask for the bundle of new files at once: one makes it, the others wait for it and open it."""
    data = tmp_path / "data.nt"
    data.write_bytes(built_nt.read_bytes())
    script = (
        "import logging, sys; from pathlib import Path; logging.basicConfig(level=logging.INFO)\n"
        "from calcinosis_kg.server.resources.bundle_cache import serving_bundle\n"
        "bundle = serving_bundle((Path(sys.argv[1]),), union_default_graph=False, setting='make')\n"
        "print('opened', bundle.folder if bundle else None)\n"
    )
    env = {**os.environ, "KG_BUILD_DIR": str(tmp_path / "build")}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(data)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert sum(err.count("making the serving bundle") for _, err in outputs) == 1, outputs
    opened = {out.strip() for out, _ in outputs}
    (folder,) = (tmp_path / "build" / "bundles").glob("*-default")
    assert opened == {f"opened {folder}"}


def test_a_bundle_of_several_files_holds_the_quads_of_their_in_memory_load(tmp_path: Path) -> None:
    """The bundle's store is bulk-loaded from the same parse as the in-memory load, batch by batch: the same quads,
    blank-node labels included (each file's ``_:b1`` its own), and a .nq file's quads in their graphs."""
    first, second = tmp_path / "first.nt", tmp_path / "second.nq"
    first.write_text("_:b1 <http://example.org/p> _:b2 .\n<http://example.org/s> <http://example.org/p> _:b1 .\n")
    second.write_text('_:b1 <http://example.org/p> "x" <http://example.org/g> .\n_:b1 <http://example.org/p> "y" .\n')
    write_bundle((first, second), tmp_path / "bundle", union_default_graph=False)
    store = ox.Store.read_only(str(tmp_path / "bundle" / STORE))
    assert sorted(map(str, store)) == sorted(map(str, load_store((first, second))))
    assert {quad.subject.value for quad in store if isinstance(quad.subject, ox.BlankNode)} == {"f0_b1", "f1_b1"}
    assert len(list(store.quads_for_pattern(None, None, None, ox.NamedNode("http://example.org/g")))) == 1


def test_a_bundle_of_a_file_that_does_not_parse_says_so_and_leaves_nothing(tmp_path: Path) -> None:
    """A syntax error past the first batch of the bulk load: the parser's message, and no half-written folder."""
    data = tmp_path / "data.nt"
    lines = (f"<http://example.org/s{n}> <http://example.org/p> {n} .\n" for n in range(LOAD_BATCH + 10))
    data.write_text("".join(lines) + "<http://example.org/s> <http://example.org/p> .\n")
    with pytest.raises(DataLoadError, match=r"cannot parse .*data\.nt as N-Triples"):
        write_bundle((data,), tmp_path / "bundle", union_default_graph=False)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data.nt"]
