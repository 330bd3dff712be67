"""Syntax checks for the terminology codes used in graph/mappings/.

Pure functions only: each ``check_*`` function returns ``None`` for a well-formed identifier and raises
:class:`calcinosis_kg.errors.CodeSyntaxError` naming the code and the rule it breaks. The checks are about
the *form* of an identifier (length, alphabet, check digits, partition); they cannot tell whether a
well-formed code exists in its code system or means what a mapping says it means.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from calcinosis_kg.errors import CodeSyntaxError

__all__ = [
    "CHECKERS",
    "check_atc",
    "check_code",
    "check_doid",
    "check_hp",
    "check_icd10cm",
    "check_icd11_foundation",
    "check_loinc",
    "check_mesh",
    "check_mondo",
    "check_omim",
    "check_orphanet",
    "check_rxnorm",
    "check_sctid",
    "check_uberon",
    "check_umls_cui",
    "loinc_check_digit",
    "verhoeff_valid",
]

# ---------------------------------------------------------------------------------------------- Verhoeff
# The Verhoeff scheme that SNOMED CT uses for the check digit of every identifier (SNOMED CT Technical
# Implementation Guide, 6.7) works in the dihedral group D5: digits 0-4 are its rotations, 5-9 its reflections.


def _d5(a: int, b: int) -> int:
    """The product of ``a`` and ``b`` in D5 (Verhoeff's multiplication table)."""
    if a < 5:
        return (a + b) % 5 + (5 if b >= 5 else 0)
    return (a - b) % 5 + (0 if b >= 5 else 5)


_VERHOEFF_D: Final = tuple(tuple(_d5(a, b) for b in range(10)) for a in range(10))
"""Verhoeff's multiplication table."""


def _powers(permutation: tuple[int, ...], count: int) -> tuple[tuple[int, ...], ...]:
    """``permutation`` applied 0, 1, ... ``count - 1`` times."""
    rows = [tuple(range(len(permutation)))]
    while len(rows) < count:
        rows.append(tuple(permutation[digit] for digit in rows[-1]))
    return tuple(rows)


_VERHOEFF_P: Final = _powers((1, 5, 7, 6, 2, 8, 3, 0, 9, 4), 8)
"""Verhoeff's permutation table: row ``i`` is its second row applied ``i`` times."""

_DIGITS_RE: Final = re.compile(r"[0-9]+")


def verhoeff_valid(digits: str) -> bool:
    """True when ``digits`` (check digit last) passes the Verhoeff check; False for empty/non-digit input."""
    if not _DIGITS_RE.fullmatch(digits):
        return False
    checksum = 0
    for position, char in enumerate(reversed(digits)):
        checksum = _VERHOEFF_D[checksum][_VERHOEFF_P[position % 8][int(char)]]
    return checksum == 0


def _fail(code: str, system: str, rule: str) -> CodeSyntaxError:
    return CodeSyntaxError(f"{system} code {code!r} is malformed: {rule}")


# ---------------------------------------------------------------------------------------------- SNOMED CT
_SCTID_RE: Final = re.compile(r"[1-9][0-9]{5,17}")
# Partition identifier (the two digits before the check digit): first digit 0 = short format (International
# release), 1 = long format (namespace of an extension); second digit 0 = concept, 1 = description,
# 2 = relationship (SNOMED CT Technical Implementation Guide, 6.5 and 6.6).
_CONCEPT_PARTITIONS: Final = frozenset({"00", "10"})
_OTHER_PARTITIONS: Final = {
    "01": "description",
    "11": "description",
    "02": "relationship",
    "12": "relationship",
}


def check_sctid(code: str) -> None:
    """A SNOMED CT concept id: 6-18 digits, no leading zero, Verhoeff check digit, concept partition."""
    if not _SCTID_RE.fullmatch(code):
        raise _fail(code, "SNOMED CT", "an SCTID is 6 to 18 digits without a leading zero")
    if not verhoeff_valid(code):
        raise _fail(code, "SNOMED CT", "the last digit is not a valid Verhoeff check digit")
    partition = code[-3:-1]
    if partition not in _CONCEPT_PARTITIONS:
        kind = _OTHER_PARTITIONS.get(partition)
        if kind is not None:
            raise _fail(code, "SNOMED CT", f"partition identifier {partition} marks a {kind} id, not a concept id")
        raise _fail(code, "SNOMED CT", f"partition identifier {partition} is not a concept partition (00 or 10)")


# ---------------------------------------------------------------------------------------------- ICD
_ICD10CM_RE: Final = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?")


def check_icd10cm(code: str) -> None:
    """An ICD-10-CM category or subcategory: letter, digit, letter or digit, optionally '.' and 1-4 more."""
    if not _ICD10CM_RE.fullmatch(code):
        raise _fail(
            code,
            "ICD-10-CM",
            "expected a letter, a digit and a letter or digit, optionally followed by '.' and 1 to 4 "
            "letters or digits (block ranges such as 'A15-A19' are not codes)",
        )


_ICD11_FOUNDATION_RE: Final = re.compile(r"[1-9][0-9]{0,11}")


def check_icd11_foundation(code: str) -> None:
    """An ICD-11 foundation entity id: the numeric last segment of http://id.who.int/icd/entity/{id}."""
    if not _ICD11_FOUNDATION_RE.fullmatch(code):
        raise _fail(code, "ICD-11 foundation", "an entity id is 1 to 12 digits without a leading zero")


# ---------------------------------------------------------------------------------------------- LOINC
_LOINC_RE: Final = re.compile(r"([1-9][0-9]{0,6})-([0-9])")


def loinc_check_digit(base: str) -> int:
    """The LOINC Mod 10 check digit of the part before the hyphen.

    Digits in odd positions counted from the right are doubled, the digits of all the results are summed with
    the digits in even positions, and the check digit brings the total to a multiple of ten.
    """
    if not _DIGITS_RE.fullmatch(base):
        raise ValueError(f"not a string of digits: {base!r}")
    total = 0
    for position, char in enumerate(reversed(base)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            value = value // 10 + value % 10
        total += value
    return (10 - total % 10) % 10


def check_loinc(code: str) -> None:
    """A LOINC code: 1-7 digits, a hyphen and the Mod 10 check digit."""
    match = _LOINC_RE.fullmatch(code)
    if match is None:
        raise _fail(code, "LOINC", "expected 1 to 7 digits, a hyphen and one check digit (e.g. 2000-8)")
    base, check = match.group(1), int(match.group(2))
    expected = loinc_check_digit(base)
    if check != expected:
        raise _fail(code, "LOINC", f"the Mod 10 check digit of {base} is {expected}, not {check}")


# ---------------------------------------------------------------------------------------------- UMLS, MeSH
_UMLS_RE: Final = re.compile(r"C[0-9]{7}")
_MESH_RE: Final = re.compile(r"[DC](?:[0-9]{6}|[0-9]{9})")


def check_umls_cui(code: str) -> None:
    """A UMLS concept unique identifier: 'C' followed by 7 digits."""
    if not _UMLS_RE.fullmatch(code):
        raise _fail(code, "UMLS", "a CUI is 'C' followed by exactly 7 digits")


def check_mesh(code: str) -> None:
    """A MeSH unique id: 'D' (descriptor) or 'C' (supplementary concept) followed by 6 or 9 digits.

    Tree numbers (e.g. 'C17.800') are positions in a hierarchy, not identifiers, and are rejected.
    """
    if not _MESH_RE.fullmatch(code):
        raise _fail(code, "MeSH", "expected 'D' or 'C' followed by 6 or 9 digits (tree numbers are not identifiers)")


# ------------------------------------------------------------------------------------------ OBO ontologies
_SEVEN_DIGITS_RE: Final = re.compile(r"[0-9]{7}")
_DOID_RE: Final = re.compile(r"[0-9]{1,7}")
_POSITIVE_INT_RE: Final = re.compile(r"[1-9][0-9]{0,8}")


def _check_seven_digits(code: str, system: str) -> None:
    if not _SEVEN_DIGITS_RE.fullmatch(code):
        raise _fail(code, system, "the local id is exactly 7 digits (zero-padded)")


def check_mondo(code: str) -> None:
    """A Mondo local id: 7 digits, e.g. 0002123."""
    _check_seven_digits(code, "MONDO")


def check_hp(code: str) -> None:
    """A Human Phenotype Ontology local id: 7 digits, e.g. 0025520."""
    _check_seven_digits(code, "HP")


def check_uberon(code: str) -> None:
    """An Uberon local id: 7 digits, e.g. 0001461."""
    _check_seven_digits(code, "UBERON")


def check_doid(code: str) -> None:
    """A Disease Ontology local id: 1 to 7 digits (both 'DOID:182' and 'DOID:0111063' occur)."""
    if not _DOID_RE.fullmatch(code):
        raise _fail(code, "DOID", "the local id is 1 to 7 digits")


def check_orphanet(code: str) -> None:
    """An Orphanet (ORPHAcode) id: a positive integer."""
    if not _POSITIVE_INT_RE.fullmatch(code):
        raise _fail(code, "Orphanet", "an ORPHAcode is a positive integer without a leading zero")


_OMIM_RE: Final = re.compile(r"[0-9]{6}")


def check_omim(code: str) -> None:
    """An OMIM (MIM) number: exactly 6 digits (phenotype entries such as 610455, gene entries such as 611020)."""
    if not _OMIM_RE.fullmatch(code):
        raise _fail(code, "OMIM", "a MIM number is exactly 6 digits")


def check_rxnorm(code: str) -> None:
    """An RxNorm concept unique identifier (RXCUI): a positive integer."""
    if not _POSITIVE_INT_RE.fullmatch(code):
        raise _fail(code, "RxNorm", "an RXCUI is a positive integer without a leading zero")


# ---------------------------------------------------------------------------------------------- ATC
_ATC_GROUPS: Final = "ABCDGHJLMNPRSV"
_ATC_LEVELS: Final = (
    re.compile(rf"[{_ATC_GROUPS}]"),
    re.compile(rf"[{_ATC_GROUPS}][0-9]{{2}}"),
    re.compile(rf"[{_ATC_GROUPS}][0-9]{{2}}[A-Z]"),
    re.compile(rf"[{_ATC_GROUPS}][0-9]{{2}}[A-Z]{{2}}"),
    re.compile(rf"[{_ATC_GROUPS}][0-9]{{2}}[A-Z]{{2}}[0-9]{{2}}"),
)


def check_atc(code: str) -> None:
    """A WHO ATC code of any level: C, C08, C08D, C08DB or C08DB01 (anatomical group letters only)."""
    if not any(level.fullmatch(code) for level in _ATC_LEVELS):
        raise _fail(
            code,
            "ATC",
            f"expected one of the five ATC level patterns (group letter from {_ATC_GROUPS}; e.g. C, C08, "
            "C08D, C08DB, C08DB01)",
        )


# ---------------------------------------------------------------------------------------------- dispatch
CHECKERS: Final[dict[str, Callable[[str], None]]] = {
    "SCTID": check_sctid,
    "ICD10CM": check_icd10cm,
    "icd11.foundation": check_icd11_foundation,
    "LOINC": check_loinc,
    "UMLS": check_umls_cui,
    "MESH": check_mesh,
    "MONDO": check_mondo,
    "HP": check_hp,
    "UBERON": check_uberon,
    "DOID": check_doid,
    "Orphanet": check_orphanet,
    "OMIM": check_omim,
    "RXNORM": check_rxnorm,
    "ATC": check_atc,
}


def check_code(curie: str) -> None:
    """Check a CURIE such as 'SCTID:6595006' with the checker of its prefix (prefixes are case-sensitive)."""
    prefix, sep, local = curie.partition(":")
    if not sep or not prefix or not local:
        raise CodeSyntaxError(f"{curie!r} is not a CURIE: expected PREFIX:LOCAL_ID")
    if local != local.strip():
        raise CodeSyntaxError(f"{curie!r} has whitespace around its local id")
    checker = CHECKERS.get(prefix)
    if checker is None:
        known = ", ".join(sorted(CHECKERS))
        raise CodeSyntaxError(f"{curie!r} has an unknown code-system prefix {prefix!r} (known: {known})")
    checker(local)
