"""Tests for calcinosis_kg.graph.codes: identifier syntax of the code systems used in graph/mappings/.

Valid identifiers are real codes seen in public material paired with their term (the source is noted next to
each); invalid ones are real identifiers of the wrong kind, or real codes with one character changed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from calcinosis_kg.errors import CodeSyntaxError, KGError
from calcinosis_kg.graph import codes

MAPPINGS = Path(__file__).resolve().parent.parent / "graph" / "mappings" / "mappings.sssom.tsv"


# ---------------------------------------------------------------------------------------------- Verhoeff


@pytest.mark.parametrize(
    "digits",
    [
        "6595006",  # Calcinosis (HPO HP:0003761 xref; Mondo MONDO:0002123)
        "73211009",  # Diabetes mellitus (disorder)
        "55464009",  # Systemic lupus erythematosus (disorder)
        "1162576007",  # Multiple myeloma (DICOM PS3.16 CID 64)
        "146801000119103",  # Leiomyoma (disorder), US extension, long format
        "0",  # the empty product of the scheme: a lone zero checks
    ],
)
def test_verhoeff_accepts_valid_digit_strings(digits: str) -> None:
    assert codes.verhoeff_valid(digits)


@pytest.mark.parametrize(
    "digits",
    [
        "6595007",  # 6595006 with its check digit changed
        "73211008",  # 73211009 with its check digit changed
        "55464090",  # 55464009 with two digits transposed
        "22253001",  # listed as "Pain (finding)" in a public value set, but the check digit is wrong
        "",
        "12a4",
        "-6595006",
    ],
)
def test_verhoeff_rejects_invalid_digit_strings(digits: str) -> None:
    assert not codes.verhoeff_valid(digits)


# ---------------------------------------------------------------------------------------------- SNOMED CT


@pytest.mark.parametrize(
    "code",
    [
        "6595006",  # Calcinosis
        "73211009",  # Diabetes mellitus (disorder)
        "709044004",  # Chronic kidney disease (disorder)
        "89545001",  # Face structure (body structure)
        "1162576007",  # Multiple myeloma
        "146801000119103",  # Leiomyoma (disorder): partition 10, namespace 1000119
    ],
)
def test_check_sctid_accepts_concept_ids(code: str) -> None:
    codes.check_sctid(code)


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("6595007", "Verhoeff"),  # check digit changed
        ("709044005", "Verhoeff"),  # check digit changed
        ("3873179012", "description"),  # description id of "Eruption of scalp (disorder)" (partition 01)
        ("549740019", "description"),  # description id of "Calculus core (finding)" (partition 01)
        ("1156091000052113", "description"),  # Swedish extension description id (partition 11)
        ("12345", "6 to 18 digits"),  # too short
        ("0595006", "6 to 18 digits"),  # leading zero
        ("1234567890123456789", "6 to 18 digits"),  # 19 digits
        ("65950O6", "6 to 18 digits"),  # letter O instead of zero
    ],
)
def test_check_sctid_rejects(code: str, rule: str) -> None:
    with pytest.raises(CodeSyntaxError, match=rule) as info:
        codes.check_sctid(code)
    assert code in str(info.value)


def test_check_sctid_rejects_relationship_partition() -> None:
    # Synthetic: a relationship-partition id (02) built with a valid Verhoeff check digit.
    base = "1000002"
    check = next(d for d in "0123456789" if codes.verhoeff_valid(base + d))
    code = base + check
    assert code[-3:-1] == "02"
    with pytest.raises(CodeSyntaxError, match="relationship"):
        codes.check_sctid(code)


def test_check_sctid_rejects_unknown_partition() -> None:
    base = "1000005"  # partition 05 does not exist
    code = base + next(d for d in "0123456789" if codes.verhoeff_valid(base + d))
    with pytest.raises(CodeSyntaxError, match="not a concept partition"):
        codes.check_sctid(code)


# ---------------------------------------------------------------------------------------------- ICD-10-CM


@pytest.mark.parametrize("code", ["L94.2", "M32", "C90.0", "N18.6", "E83.52", "M1A", "C90.00", "S01.01XA"])
def test_check_icd10cm_accepts(code: str) -> None:
    codes.check_icd10cm(code)


@pytest.mark.parametrize(
    "code",
    [
        "A15-A19",  # a block of categories, not a code
        "L942",  # missing dot
        "l94.2",  # lower case
        "94.2",  # no leading letter
        "L9.2",  # too short before the dot
        "L94.",  # dot without extension
        "L94.23456",  # five characters after the dot
        " L94.2",
    ],
)
def test_check_icd10cm_rejects(code: str) -> None:
    with pytest.raises(CodeSyntaxError, match="ICD-10-CM"):
        codes.check_icd10cm(code)


# ---------------------------------------------------------------------------------------------- LOINC


LOINC_CODES = [
    ("2000-8", 8),  # Calcium [Moles/volume] in Serum or Plasma
    ("17861-6", 6),  # Calcium [Mass/volume] in Serum or Plasma
    ("2777-1", 1),  # Phosphate [Mass/volume] in Serum or Plasma
    ("1988-5", 5),  # C reactive protein [Mass/volume] in Serum or Plasma
    ("30341-2", 2),  # Erythrocyte sedimentation rate
    ("2731-8", 8),  # Parathyrin.intact [Mass/volume] in Serum or Plasma
]
"""Real LOINC codes with their check digits."""


@pytest.mark.parametrize(("code", "expected"), LOINC_CODES)
def test_check_loinc_accepts_and_computes_check_digit(code: str, expected: int) -> None:
    codes.check_loinc(code)
    assert codes.loinc_check_digit(code.split("-")[0]) == expected


@pytest.mark.parametrize(("code", "expected"), LOINC_CODES)
def test_check_loinc_rejects_every_other_check_digit(code: str, expected: int) -> None:
    base = code.split("-")[0]
    for wrong in set(range(10)) - {expected}:
        with pytest.raises(CodeSyntaxError, match=f"check digit of {base} is {expected}, not {wrong}"):
            codes.check_loinc(f"{base}-{wrong}")


@pytest.mark.parametrize("code", ["17861", "17861-66", "LP17861-6", "12345678-9"])
def test_check_loinc_rejects_other_shapes(code: str) -> None:
    with pytest.raises(CodeSyntaxError, match="hyphen"):
        codes.check_loinc(code)


def test_loinc_check_digit_rejects_non_digits() -> None:
    with pytest.raises(ValueError, match="digits"):
        codes.loinc_check_digit("17a61")


# ---------------------------------------------------------------------------------------------- UMLS, MeSH


def test_check_umls_cui() -> None:
    codes.check_umls_cui("C0006663")  # Calcinosis
    for bad in ("C006663", "c0006663", "0006663", "C00066630", "D0006663"):
        with pytest.raises(CodeSyntaxError, match="UMLS"):
            codes.check_umls_cui(bad)


def test_check_mesh() -> None:
    codes.check_mesh("D002114")  # Calcinosis
    codes.check_mesh("C566473")  # supplementary concept: normophosphatemic familial tumoral calcinosis
    codes.check_mesh("D000077325")  # nine-digit descriptor (Lactated Ringer's)
    for bad in ("C17.800", "D2114", "E002114", "D0021140", "d002114"):
        with pytest.raises(CodeSyntaxError, match="MeSH"):
            codes.check_mesh(bad)


# ------------------------------------------------------------------------------------------ OBO, RxNorm, ATC


def test_check_seven_digit_obo_ids() -> None:
    codes.check_mondo("0002123")
    codes.check_hp("0025520")
    codes.check_uberon("0001461")
    for checker in (codes.check_mondo, codes.check_hp, codes.check_uberon):
        for bad in ("2123", "00021230", "MONDO_0002123", "000212a"):
            with pytest.raises(CodeSyntaxError, match="7 digits"):
                checker(bad)


def test_check_doid_and_orphanet() -> None:
    codes.check_doid("182")
    codes.check_doid("0111063")
    codes.check_orphanet("53715")
    with pytest.raises(CodeSyntaxError, match="DOID"):
        codes.check_doid("01110630")
    with pytest.raises(CodeSyntaxError, match="Orphanet"):
        codes.check_orphanet("ORPHA:53715")


def test_check_rxnorm() -> None:
    codes.check_rxnorm("17767")  # amlodipine
    codes.check_rxnorm("3443")  # diltiazem
    for bad in ("", "0", "017767", "17767a", "RX17767"):
        with pytest.raises(CodeSyntaxError, match="RxNorm"):
            codes.check_rxnorm(bad)


@pytest.mark.parametrize("code", ["C", "C08", "C08D", "C08DB", "C08DB01", "M04AC01", "A02BX02", "H02AB07"])
def test_check_atc_accepts_every_level(code: str) -> None:
    codes.check_atc(code)


@pytest.mark.parametrize("code", ["C8", "C08DB1", "C08DB011", "E08DB01", "c08db01", "C08D01", "08DB01"])
def test_check_atc_rejects(code: str) -> None:
    with pytest.raises(CodeSyntaxError, match="ATC"):
        codes.check_atc(code)


# ---------------------------------------------------------------------------------------------- dispatch


@pytest.mark.parametrize(
    "curie",
    [
        "SCTID:6595006",
        "ICD10CM:L94.2",
        "icd11.foundation:1374802956",
        "LOINC:2000-8",
        "UMLS:C0006663",
        "MESH:D002114",
        "MONDO:0002123",
        "HP:0025520",
        "UBERON:0001461",
        "DOID:182",
        "Orphanet:53715",
        "RXNORM:17767",
        "ATC:C08DB01",
    ],
)
def test_check_code_dispatches_on_prefix(curie: str) -> None:
    codes.check_code(curie)


@pytest.mark.parametrize(
    ("curie", "message"),
    [
        ("SCTID:6595007", "Verhoeff"),
        ("LOINC:2000-7", "check digit"),
        ("sctid:6595006", "unknown code-system prefix"),
        ("SNOMED:6595006", "unknown code-system prefix"),
        ("6595006", "not a CURIE"),
        ("SCTID:", "not a CURIE"),
        ("SCTID: 6595006", "whitespace"),
    ],
)
def test_check_code_rejects(curie: str, message: str) -> None:
    with pytest.raises(CodeSyntaxError, match=message):
        codes.check_code(curie)


def test_code_syntax_error_is_a_kg_error() -> None:
    assert issubclass(CodeSyntaxError, KGError)


def test_every_code_in_the_mapping_set_is_well_formed() -> None:
    if not MAPPINGS.exists():
        pytest.skip("graph/mappings/mappings.sssom.tsv is not present")
    lines = [line for line in MAPPINGS.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t"))
    assert rows, "the mapping set has no rows"
    for row in rows:
        codes.check_code(row["object_id"])
