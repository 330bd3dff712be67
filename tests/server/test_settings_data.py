"""Settings from config and environment, loading data files, and clear startup errors."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Dataset, Graph, Literal, URIRef

from calcinosis_kg.server.resources.data import DataLoadError, load_store, summarize
from calcinosis_kg.server.settings import VARIABLES, Settings, SettingsError
from tests.support.live_server import SAMPLE_TTL, free_port, refused_start, server_command, server_env

pytestmark = [pytest.mark.engine, pytest.mark.live]

S, P = URIRef("http://example.org/s"), URIRef("http://example.org/p")
GRAPH = URIRef("http://example.org/graph")


def test_defaults() -> None:
    settings = Settings.load({}, environ={})
    assert settings == Settings()
    assert (settings.query_timeout, settings.max_rows, settings.max_body) == (5.0, 10_000, 1_048_576)
    assert (settings.trust_proxy, settings.union_default_graph, settings.data) == (0, True, ())
    assert settings.pool_size >= 2


def test_the_union_default_graph_is_on_for_the_built_dataset_only() -> None:
    """The built dataset (no ``KG_DATA``) is served with the union as default graph; files named by ``KG_DATA``
    and a remote store keep the store's default graph; ``KG_UNION_DEFAULT_GRAPH`` decides when it is set."""
    remote = {"KG_ENGINE": "sparql", "KG_STORE_URL": "http://127.0.0.1:7878/query"}
    assert Settings.load({}, environ={}).union_default_graph is True
    assert Settings.load({"KG_DATA": "a.nq"}, environ={}).union_default_graph is False
    assert Settings.load(remote, environ={}).union_default_graph is False
    assert Settings.load({"KG_DATA": "a.nq", "KG_UNION_DEFAULT_GRAPH": "on"}, environ={}).union_default_graph is True
    assert Settings.load({}, environ={"KG_UNION_DEFAULT_GRAPH": "false"}).union_default_graph is False
    assert Settings.load({**remote, "KG_UNION_DEFAULT_GRAPH": "1"}, environ={}).union_default_graph is True


def test_every_setting_is_read() -> None:
    """Each field but ``engine`` (read on its own) has its variable in VARIABLES, and a value set there is used."""
    assert {field.name for field in dataclasses.fields(Settings)} - {"engine"} == {field for field, _, _ in VARIABLES}
    assert Settings.load({"KG_QUERY_QUEUE": "3"}, environ={"KG_CACHE_BYTES": "7"}).query_queue == 3
    assert Settings.load({}, environ={"KG_CACHE_BYTES": "7"}).cache_bytes == 7


def test_environment_and_config_override() -> None:
    environ = {
        "KG_DATA": f"a.ttl{os.pathsep}b.trig",
        "KG_QUERY_TIMEOUT": "2.5",
        "KG_MAX_ROWS": "50",
        "KG_MAX_BODY": "1000",
        "KG_TRUST_PROXY": "true",
        "KG_QUERY_WORKERS": "3",
        "KG_UNION_DEFAULT_GRAPH": "yes",
        "KG_BODY_TIMEOUT": "0.5",
    }
    settings = Settings.load({"KG_MAX_ROWS": 7, "KG_DATA": [Path("c.nt")]}, environ=environ)
    assert settings.data == (Path("c.nt"),)
    assert settings.query_timeout == 2.5
    assert settings.max_rows == 7
    assert (settings.max_body, settings.trust_proxy, settings.pool_size) == (1000, 1, 3)
    assert settings.union_default_graph is True
    assert settings.body_timeout == 0.5
    assert Settings.load({}, environ=environ).data == (Path("a.ttl"), Path("b.trig"))
    assert Settings.load({}, environ={"KG_TRUST_PROXY": "2"}).trust_proxy == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KG_QUERY_TIMEOUT", "soon"),
        ("KG_QUERY_TIMEOUT", "0"),
        ("KG_QUERY_TIMEOUT", "inf"),
        ("KG_BODY_TIMEOUT", "0"),
        ("KG_BODY_TIMEOUT", "later"),
        ("KG_MAX_ROWS", "-1"),
        ("KG_MAX_ROWS", "1.5"),
        ("KG_MAX_BODY", True),
        ("KG_TRUST_PROXY", "maybe"),
        ("KG_QUERY_WORKERS", "-2"),
        ("KG_UNION_DEFAULT_GRAPH", "2"),
        ("KG_DATA", 42),
    ],
)
def test_invalid_settings_name_the_setting(name: str, value: object) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.load({name: value}, environ={})


def test_every_rdf_format_loads(tmp_path: Path) -> None:
    triples = Graph()
    triples.add((S, P, Literal("default")))
    quads = Dataset()
    quads.graph(GRAPH).add((S, P, Literal("named")))
    files = []
    triple_formats = [("ttl", "turtle"), ("nt", "nt"), ("rdf", "xml"), ("owl", "xml"), ("xml", "xml")]
    for suffix, rdf_format in triple_formats:
        files.append(tmp_path / f"triples.{suffix}")
        triples.serialize(files[-1], format=rdf_format, encoding="utf-8")
    for suffix, rdf_format in [("nq", "nquads"), ("trig", "trig"), ("jsonld", "json-ld")]:
        files.append(tmp_path / f"quads.{suffix}")
        quads.serialize(files[-1], format=rdf_format, encoding="utf-8")
    store = load_store(files)
    s, p = ox.NamedNode(str(S)), ox.NamedNode(str(P))
    default = {quad.triple for quad in store.quads_for_pattern(None, None, None, ox.DefaultGraph())}
    named = {quad.triple for quad in store.quads_for_pattern(None, None, None, ox.NamedNode(str(GRAPH)))}
    assert default == {ox.Triple(s, p, ox.Literal("default"))}
    assert named == {ox.Triple(s, p, ox.Literal("named"))}
    summary = summarize(store, union_default_graph=False)
    assert (summary.default_triples, dict(summary.named_graphs), summary.triples) == (1, {str(GRAPH): 1}, 2)


def test_literals_keep_their_lexical_form(tmp_path: Path) -> None:
    """Oxigraph's parsers load the data: a date keeps its time zone (rdflib's dropped it)."""
    path = tmp_path / "dates.nt"
    path.write_text(
        '<http://example.org/s> <http://example.org/p> "2006-08-23Z"^^<http://www.w3.org/2001/XMLSchema#date> .\n',
        encoding="utf-8",
    )
    values = {quad.object.value for quad in load_store([path])}
    assert values == {"2006-08-23Z"}


def test_blank_nodes_of_two_files_stay_apart(tmp_path: Path) -> None:
    for name in ("a.nt", "b.nt"):
        (tmp_path / name).write_text('_:b1 <http://example.org/p> "x" .\n', encoding="utf-8")
    store = load_store([tmp_path / "a.nt", tmp_path / "b.nt"])
    assert len({quad.subject for quad in store}) == 2
    assert {quad.subject for quad in load_store([tmp_path / "a.nt"])} == {ox.BlankNode("b1")}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.ttl", None, "no such file"),
        ("data.csv", "a,b", "unknown RDF file extension"),
        ("broken.ttl", "<http://example.org/s> <http://example.org/p> .", "cannot parse"),
        ("broken.jsonld", "{", "cannot parse"),
    ],
)
def test_bad_data_files(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataLoadError, match=message) as raised:
        load_store([SAMPLE_TTL, path])
    assert name in str(raised.value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"KG_DATA": "/nonexistent/graph.ttl"}, "error: cannot serve /nonexistent/graph.ttl: no such file"),
        ({"KG_MAX_ROWS": "many"}, "error: KG_MAX_ROWS must be a positive integer, got 'many'"),
    ],
)
def test_startup_errors_are_one_line_not_a_traceback(settings: dict[str, str], message: str) -> None:
    completed = refused_start(free_port(), [SAMPLE_TTL], settings)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_without_kg_data_the_built_graph_is_served(tmp_path: Path) -> None:
    env = server_env([], {"KG_BUILD_DIR": str(tmp_path)})
    del env["KG_DATA"]
    completed = subprocess.run(
        server_command(free_port()), env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 2
    assert f"no built graph at {tmp_path / 'calcinosis-kg.nq'}: run `make build`" in completed.stderr
    assert "Traceback" not in completed.stderr
