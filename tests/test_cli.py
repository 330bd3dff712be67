"""The calcinosis-kg console script, run as a real subprocess."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "calcinosis_kg.cli"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, check=False)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_help_explains_each_command() -> None:
    out = run("--help").stdout
    for command in ("build", "validate", "query", "lookup", "codes", "serve"):
        assert command in out
    for command in ("build", "validate", "query", "lookup", "codes", "serve"):
        assert "usage: calcinosis-kg " + command in run(command, "--help").stdout


def test_build_writes_every_artifact(tmp_path: Path) -> None:
    out = run("build", "--out", str(tmp_path)).stdout
    assert "passed: SHACL shapes" in out
    assert "passed: OWL consistency (HermiT)" in out
    for name in (
        "calcinosis-kg.ttl",
        "calcinosis-kg.nt",
        "calcinosis-kg.jsonld",
        "calcinosis-kg.owl",
        "calcinosis-kg.sssom.tsv",
        "calcinosis-kg-to-snomedct.conceptmap.json",
    ):
        assert (tmp_path / name).stat().st_size > 10_000
    schema = (tmp_path / "schema.md").read_text()
    assert "| `cco:hasCause` | `cco:Condition` | `cco:Cause` | `cco:causes` |" in schema
    assert "| case series | `case-series` | `cco:CaseSeriesLevel` | Oxford CEBM 2011 level 4" in schema
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["entities"] > 100
    assert summary["entities_per_class"]["cco:Subtype"] == 4


def test_query_lists_canned_queries() -> None:
    out = run("query", "--list").stdout
    assert "causes-of-subtype (subtype:iri)" in out


def test_query_by_name_as_csv() -> None:
    out = run("query", "subtypes", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted((r["subtypeLabel"], r["certainty"]) for r in rows) == [
        ("calciphylaxis", "disputed"),  # a source's claim, shown marked (issue 23)
        ("dystrophic calcinosis cutis", ""),
        ("iatrogenic calcinosis cutis", ""),
        ("idiopathic calcinosis cutis", ""),
        ("metastatic calcinosis cutis", ""),
    ]


def test_query_with_parameter_as_json() -> None:
    out = run(
        "query",
        "causes-of-subtype",
        "-p",
        "subtype=https://w3id.org/calcinosis-kg/id/iatrogenic-calcinosis-cutis",
        "-f",
        "json",
    ).stdout
    labels = {b["causeLabel"]["value"] for b in json.loads(out)["results"]["bindings"]}
    assert labels == {"intravenous calcium administration", "calcium chloride electrode paste", "sucralfate"}


def test_query_tsv_follows_sparql_tsv_format() -> None:
    lines = run("query", "first-line-treatments", "-f", "tsv").stdout.splitlines()
    assert lines[0] == "?treatment\t?treatmentLabel\t?sourceLabel\t?level"
    assert lines[1].startswith(
        '<https://w3id.org/calcinosis-kg/id/calcium-channel-blocker>\t"calcium channel blocker"@en\t'
    )
    assert lines[1].endswith('\t"case series"@en')


def test_query_from_rq_file(tmp_path: Path) -> None:
    path = tmp_path / "count.rq"
    path.write_text("#+ summary: count\nASK { ?s ?p ?o }\n", encoding="utf-8")
    assert run("query", str(path)).stdout == "yes\n"


@pytest.mark.parametrize("code", ["46742003", "SCTID:46742003", "snomed:46742003", "http://snomed.info/id/46742003"])
def test_lookup_resolves_a_code_in_every_form(code: str) -> None:
    lines = run("lookup", code).stdout.splitlines()
    assert lines == [
        "https://w3id.org/calcinosis-kg/id/skin-ulcer\tskin ulcer\tskos:exactMatch"
        "\tSCTID:46742003\tSkin ulcer (disorder)"
    ]


def test_codes_lists_the_codes_of_an_entity() -> None:
    codes = [line.split("\t")[0] for line in run("codes", "cc:calcinosis-cutis").stdout.splitlines()]
    assert "ICD10CM:L94.2" in codes
    assert "HP:0025520" in codes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("query", "no-such-query"), "no canned query named 'no-such-query'"),
        (("query", "causes-of-subtype", "-p", "subtype=not an iri"), "parameter 'subtype' must be an absolute IRI"),
        (("query", "subtypes", "-p", "colour=red"), "has no parameter(s) ['colour']"),
        (("query", "subtypes", "-f", "turtle"), "SELECT results come as json, xml, csv, tsv or table"),
        (("query", "subtypes", "--data", "/no/such/file.ttl"), "no such data file"),
        (("lookup", "SCTID:6595007"), "6595007"),
        (("lookup", "XYZ:123"), "XYZ"),
        (("lookup", "SCTID:73211009"), "73211009"),
        (("codes", "no-such-entity"), "no-such-entity"),
    ],
)
def test_bad_input_is_a_clear_error(args: tuple[str, ...], message: str) -> None:
    done = run(*args, check=False)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
