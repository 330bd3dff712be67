"""The table of target code systems (graph/mappings/target-systems.tsv): one row per checked prefix, read strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from calcinosis_kg.errors import CurationError
from calcinosis_kg.graph.codes import CHECKERS
from calcinosis_kg.graph.targets import TARGET_SYSTEMS, TARGET_SYSTEMS_FILE, load_target_systems


def test_every_checked_prefix_has_one_target_system() -> None:
    assert sorted(TARGET_SYSTEMS) == sorted(CHECKERS)


def test_fhir_codes_are_local_ids_except_for_obo_ontologies() -> None:
    assert TARGET_SYSTEMS["SCTID"].fhir_code("SCTID:6595006") == "6595006"
    assert TARGET_SYSTEMS["ICD10CM"].fhir_code("ICD10CM:L94.2") == "L94.2"
    assert TARGET_SYSTEMS["MONDO"].fhir_code("MONDO:0005013") == "MONDO:0005013"
    assert TARGET_SYSTEMS["SCTID"].fhir_system == "http://snomed.info/sct"


def test_code_urls_name_the_code() -> None:
    for system in TARGET_SYSTEMS.values():
        assert system.code_url is None or "{id}" in system.code_url, system.prefix
        assert system.homepage.startswith("https://"), system.prefix


def test_a_row_without_a_fhir_system_is_refused(tmp_path: Path) -> None:
    lines = TARGET_SYSTEMS_FILE.read_text(encoding="utf-8").splitlines()
    cells = lines[1].split("\t")
    cells[4] = ""
    broken = tmp_path / "target-systems.tsv"
    broken.write_text("\n".join([lines[0], "\t".join(cells)]) + "\n", encoding="utf-8")
    with pytest.raises(CurationError, match=r"target-systems.tsv:2: .*needs a value"):
        load_target_systems(broken)


def test_a_table_with_other_columns_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "target-systems.tsv"
    broken.write_text("prefix\tname\nSCTID\tSNOMED CT\n", encoding="utf-8")
    with pytest.raises(CurationError, match="the columns must be"):
        load_target_systems(broken)
