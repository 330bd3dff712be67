"""The code-systems table (graph/codesystems.py): built from the Bioregistry, written, loaded, and answering as it.

Expected answers come from the installed Bioregistry itself (``normalize_prefix``, ``parse_iri``,
``standardize_identifier``) or are written out by hand; the table must reproduce the Bioregistry for every prefix
spelling and every URI prefix it knows.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import bioregistry
import curies
import pytest

from calcinosis_kg.errors import CodeSyntaxError, CurationError
from calcinosis_kg.graph.codes import CHECKERS
from calcinosis_kg.graph.codesystems import (
    CODE_SYSTEMS_FILE,
    CodeSystems,
    CodeSystemsFileError,
    bioregistry_code_systems,
    load_code_systems,
    prefix_key,
)
from calcinosis_kg.graph.lookup import parse_code


@pytest.fixture(scope="module")
def systems() -> CodeSystems:
    return bioregistry_code_systems()


# ---------------------------------------------------------------------------------------------- the table
def test_the_table_has_every_checked_prefix_with_the_graphs_uri_prefix(systems: CodeSystems) -> None:
    assert systems.prefixes == tuple(sorted(CHECKERS))
    for system in systems.systems:
        assert bioregistry.normalize_prefix(system.prefix) == system.registry_prefix
        resource = bioregistry.get_resource(system.registry_prefix)
        assert resource is not None
        uri_format = resource.get_rdf_uri_format() or resource.get_uri_format()
        assert system.uri_prefix + "$1" == uri_format
        assert system.uri_prefix not in system.uri_prefix_synonyms
        assert set(system.prefix_synonyms) == {system.registry_prefix, *resource.get_synonyms()} - {system.prefix}
    assert systems.system("SCTID").uri_prefix == "http://snomed.info/id/"
    assert systems.prefix_map["MONDO"] == "http://purl.obolibrary.org/obo/MONDO_"
    assert systems.bioregistry_version == version("bioregistry")


def test_the_table_keeps_every_uri_prefix_of_the_bioregistrys_converter(systems: CodeSystems) -> None:
    converter = bioregistry.get_default_converter()
    for system in systems.systems:
        record = next(r for r in converter.records if r.prefix == system.registry_prefix)
        expected = {record.uri_prefix, *record.uri_prefix_synonyms}
        assert set(system.uri_prefixes) >= expected
    snomed = systems.system("SCTID").uri_prefix_synonyms
    assert {"https://identifiers.org/snomedct:", "https://bioregistry.io/snomedct:"} <= set(snomed)
    assert systems.system("MONDO").uri_prefix == "http://purl.obolibrary.org/obo/MONDO_"
    assert "https://purl.obolibrary.org/obo/MONDO_" in systems.system("MONDO").uri_prefix_synonyms
    assert systems.other_uri_prefixes["https://id.nlm.nih.gov/mesh/vocab#"] == "mesh.vocab"


def test_written_and_loaded_back_the_table_is_equal(systems: CodeSystems, tmp_path: Path) -> None:
    path = tmp_path / CODE_SYSTEMS_FILE
    systems.write(path)
    loaded = CodeSystems.load(path)
    assert loaded == systems
    assert loaded == CodeSystems.from_bioregistry()
    assert loaded.to_json() == path.read_text(encoding="utf-8")
    assert loaded != CodeSystems(systems.systems[1:], systems.other_uri_prefixes, systems.bioregistry_version)


def test_the_json_is_sorted_and_says_where_it_comes_from(systems: CodeSystems) -> None:
    text = systems.to_json()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert data["bioregistry_version"] == version("bioregistry")
    assert "Bioregistry" in data["provenance"]
    assert "calcinosis-kg build" in data["provenance"]
    assert [s["prefix"] for s in data["code_systems"]] == sorted(CHECKERS)
    for system in data["code_systems"]:
        assert system["prefix_synonyms"] == sorted(system["prefix_synonyms"])
        assert system["uri_prefix_synonyms"] == sorted(system["uri_prefix_synonyms"])
    assert list(data["other_uri_prefixes"]) == sorted(data["other_uri_prefixes"])


@pytest.mark.parametrize(
    ("text", "message"),
    [("not json", "JSONDecodeError"), ("{}", "KeyError: 'code_systems'"), ('{"code_systems": [{}]}', "'prefix'")],
)
def test_a_file_that_is_not_a_table_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / CODE_SYSTEMS_FILE
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CodeSystemsFileError, match=message) as error:
        CodeSystems.load(path)
    assert str(path) in str(error.value)
    assert "calcinosis-kg build" in str(error.value)


def test_a_spelling_or_uri_prefix_naming_two_systems_is_refused(systems: CodeSystems) -> None:
    sctid, mondo = systems.system("SCTID"), systems.system("MONDO")
    with pytest.raises(CurationError, match="'snomed' names two code systems: MONDO and SCTID"):
        CodeSystems([sctid, replace(mondo, prefix_synonyms=("Snomed",))], {}, "0")
    with pytest.raises(CurationError, match="both of a code system and of another resource"):
        CodeSystems([sctid], {"http://snomed.info/id/": "other"}, "0")


# ---------------------------------------------------------------------------------------------- prefixes
@pytest.mark.parametrize(
    ("spelling", "prefix"),
    [
        ("SCTID", "SCTID"),
        ("sctid", "SCTID"),
        ("snomed", "SCTID"),
        ("snomedct", "SCTID"),
        ("SNOMEDCT", "SCTID"),
        ("SNOMEDCT_US", "SCTID"),
        ("SNOMED-CT", "SCTID"),
        ("Snomed CT", "SCTID"),
        ("MeSH", "MESH"),
        ("icd11", "icd11.foundation"),
        ("ICD-11", "icd11.foundation"),
        ("orpha", "Orphanet"),
        ("ORPHANET", "Orphanet"),
        ("hpo", "HP"),
        ("do", "DOID"),
        ("lnc", "LOINC"),
        ("rxcui", "RXNORM"),
        ("umls_cui", "UMLS"),
        ("Uberon", "UBERON"),
        ("ICD10CM", "ICD10CM"),
    ],
)
def test_prefix_spellings_in_any_case(systems: CodeSystems, spelling: str, prefix: str) -> None:
    assert systems.canonical_prefix(spelling) == prefix


@pytest.mark.parametrize("spelling", ["XYZ", "go", "", "snomed2", "icd10", "mondo_x"])
def test_unknown_prefixes_have_no_code_system(systems: CodeSystems, spelling: str) -> None:
    assert systems.canonical_prefix(spelling) is None


def test_prefix_spellings_match_as_the_bioregistry_normalises_them(systems: CodeSystems) -> None:
    """Every spelling of every Bioregistry resource, and variants of ours, gives what normalize_prefix gives."""
    ours = {s.registry_prefix: s.prefix for s in systems.systems}
    spellings: set[str] = set()
    for prefix, resource in bioregistry.read_registry().items():
        spellings |= {prefix, *resource.get_synonyms()}
    for system in systems.systems:
        for name in (system.prefix, *system.prefix_synonyms):
            spellings |= {name.upper(), name.lower(), name.swapcase(), f"-{name}_", f" {name}/", name + "x"}
            spellings |= {name.replace("_", "."), name.replace("_", ""), name[:-1]}
    assert len(spellings) > 4000
    for spelling in spellings:
        normalized = bioregistry.normalize_prefix(spelling)
        assert systems.canonical_prefix(spelling) == ours.get(normalized or ""), spelling
    assert prefix_key("SNOMED-CT_US.x/ y") == "snomedctusxy"


# ---------------------------------------------------------------------------------------------- IRIs
@pytest.mark.parametrize(
    ("iri", "curie"),
    [
        ("http://snomed.info/id/6595006", "SCTID:6595006"),
        ("https://identifiers.org/snomedct:6595006", "SCTID:6595006"),
        ("https://bioregistry.io/snomedct:6595006", "SCTID:6595006"),
        ("http://purl.bioontology.org/ontology/SNOMEDCT/6595006", "SCTID:6595006"),
        ("http://purl.obolibrary.org/obo/MONDO_0002123", "MONDO:0002123"),
        ("https://purl.obolibrary.org/obo/MONDO_0002123", "MONDO:0002123"),
        ("https://identifiers.org/mondo:0002123", "MONDO:0002123"),
        ("https://identifiers.org/mondo:MONDO:0002123", "MONDO:0002123"),
        ("https://bioregistry.io/doid:DOID:182", "DOID:182"),
        ("https://www.ebi.ac.uk/ols4/ontologies/uberon/terms?obo_id=UBERON:0001461", "UBERON:0001461"),
        ("https://identifiers.org/orphanet.ordo/Orphanet_280062", "Orphanet:280062"),
        ("https://meshb.nlm.nih.gov/record/ui?ui=D002114", "MESH:D002114"),
        ("http://id.who.int/icd/entity/1374802956", "icd11.foundation:1374802956"),
        ("https://www.icd10data.com/search?s=L94.2", "ICD10CM:L94.2"),
        ("http://snomed.info/id/", "SCTID:"),
    ],
)
def test_iri_forms_compress_to_the_projects_curie(systems: CodeSystems, iri: str, curie: str) -> None:
    assert systems.compress(iri) == curie


@pytest.mark.parametrize(
    "iri",
    [
        "http://example.org/codes/6595006",
        "http://snomed.info/sct/6595006",
        "https://id.nlm.nih.gov/mesh/vocab#D002114",
        "https://identifiers.org/go:0008150",
        "snomed.info/id/6595006",
    ],
)
def test_unknown_iris_have_no_curie(systems: CodeSystems, iri: str) -> None:
    assert systems.compress(iri) is None


def _as_before(systems: CodeSystems, iri: str) -> str | None:
    """What lookups answered before the table: the graph's IRI forms, else bioregistry.parse_iri, standardized."""
    compressed = curies.Converter.from_prefix_map(systems.prefix_map).compress(iri)
    if compressed is not None:
        return compressed
    registry_prefix, identifier = bioregistry.parse_iri(iri)
    ours = {s.registry_prefix: s.prefix for s in systems.systems}
    if registry_prefix not in ours or identifier is None:
        return None
    return f"{ours[registry_prefix]}:{bioregistry.standardize_identifier(registry_prefix, identifier) or identifier}"


def test_every_uri_prefix_of_the_bioregistry_compresses_as_the_bioregistry_parses_it(systems: CodeSystems) -> None:
    iris = {"http://example.org/0002123"}
    for record in bioregistry.get_default_converter().records:
        iris |= {uri_prefix + "0002123" for uri_prefix in (record.uri_prefix, *record.uri_prefix_synonyms)}
    for system in systems.systems:
        for uri_prefix in system.uri_prefixes:
            for banana in (system.prefix, system.registry_prefix, system.banana or "x", "DOID"):
                iris |= {f"{uri_prefix}{banana}:182", f"{uri_prefix}{banana}_182", f"{uri_prefix}{banana.lower()}_"}
    assert len(iris) > 10_000
    for iri in iris:
        assert systems.compress(iri) == _as_before(systems, iri), iri


def test_local_ids_are_standardized_as_the_bioregistry_does(systems: CodeSystems) -> None:
    identifiers = ["182", "DOID:182", "doid_182", "DOID_182", "MONDO:0002123", "mondo_1", "HP:1", "hp:1", "UBERON_1"]
    for system in systems.systems:
        for identifier in identifiers:
            expected = bioregistry.standardize_identifier(system.registry_prefix, identifier)
            assert system.standardize_identifier(identifier) == expected, (system.prefix, identifier)


# ---------------------------------------------------------------------------------------------- CURIEs
def test_curies_expand_to_the_graphs_iris(systems: CodeSystems) -> None:
    assert systems.expand("SCTID:6595006") == "http://snomed.info/id/6595006"
    assert systems.expand("snomedct:6595006") == "http://snomed.info/id/6595006"
    assert systems.expand("SNOMEDCT_US:6595006") == "http://snomed.info/id/6595006"
    assert systems.expand("icd11.foundation:1374802956") == "http://id.who.int/icd/entity/1374802956"
    assert systems.expand_strict("LOINC:2000-8") == "http://loinc.org/rdf/2000-8"
    # exact spellings only, as a CURIE prefix map has them (parse_code accepts any spelling: see canonical_prefix)
    assert systems.expand("snomed:6595006") is None
    assert systems.expand("XYZ:1") is None
    assert systems.expand("6595006") is None
    with pytest.raises(CodeSyntaxError, match=r"'XYZ:1' is not a CURIE with the prefix of a known code system"):
        systems.expand_strict("XYZ:1")


def test_parse_code_reads_codes_with_the_table_it_is_given(systems: CodeSystems, tmp_path: Path) -> None:
    path = tmp_path / CODE_SYSTEMS_FILE
    systems.write(path)
    loaded = CodeSystems.load(path)
    for text in ("snomed:6595006", "https://identifiers.org/mondo:0002123", "MeSH:D002114", "6595006"):
        assert parse_code(text, loaded) == parse_code(text, systems) == parse_code(text)
    only_snomed = CodeSystems([systems.system("SCTID")], {}, systems.bioregistry_version)
    with pytest.raises(CodeSyntaxError, match=r"unknown code-system prefix 'mondo' \(known: SCTID\)"):
        parse_code("mondo:0002123", only_snomed)
    with pytest.raises(CodeSyntaxError, match=r"not the IRI of a code in a known code system \(known: SCTID "):
        parse_code("http://purl.obolibrary.org/obo/MONDO_0002123", only_snomed)


# ---------------------------------------------------------------------------------------------- loading
def test_a_table_file_is_loaded_without_importing_the_bioregistry(systems: CodeSystems, tmp_path: Path) -> None:
    path = tmp_path / CODE_SYSTEMS_FILE
    systems.write(path)
    script = (
        "import sys; from pathlib import Path\n"
        "from calcinosis_kg.graph.codesystems import load_code_systems\n"
        "table = load_code_systems(Path(sys.argv[1]))\n"
        "print(table.compress('http://purl.obolibrary.org/obo/MONDO_0002123'))\n"
        "print(sorted(m for m in ('bioregistry', 'curies', 'pydantic') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.splitlines() == ["MONDO:0002123", "[]"]


def test_without_a_table_file_it_is_computed_and_logged(
    systems: CodeSystems, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="calcinosis_kg.graph.codesystems")
    assert load_code_systems(tmp_path / CODE_SYSTEMS_FILE) is systems
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert f"no code-systems table at {tmp_path / CODE_SYSTEMS_FILE}" in record.getMessage()
    assert "computing it from the Bioregistry, which takes about 2 s" in record.getMessage()


def test_a_table_for_other_prefixes_is_recomputed_and_logged(
    systems: CodeSystems, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / CODE_SYSTEMS_FILE
    CodeSystems(systems.systems[1:], systems.other_uri_prefixes, systems.bioregistry_version).write(path)
    caplog.set_level(logging.INFO, logger="calcinosis_kg.graph.codesystems")
    assert load_code_systems(path) is systems
    (record,) = caplog.records
    assert "is stale" in record.getMessage()
    caplog.clear()
    systems.write(path)
    assert load_code_systems(path) == systems
    assert caplog.records == []
