"""The tests of the W3C SPARQL query manifests: which are selected and what each one reads.

Files are named by IRIs under :data:`BASE_IRI` (the suite's published location, as Oxigraph's test runner names
them): ``<BASE_IRI>sparql10/basic/data-1.ttl`` is the file ``sparql10/basic/data-1.ttl`` under the suite root.
Manifests are parsed by pyoxigraph with their own IRI as base, so every relative reference in them (``<data.ttl>``)
resolves to such an IRI, and so does a query's ``FROM <data.ttl>`` once the query is given its file's IRI as base.

Selection: every entry of an ``mf:entries`` list of a manifest reached through ``mf:include`` from one of
:data:`SUITES`' root manifests whose ``rdf:type`` is one of :data:`TEST_TYPES`. Approval status and ``mf:requires``
are recorded but select nothing (as in Oxigraph's and Jena's runners, which run proposed tests too and skip by list).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

BASE_IRI = "https://w3c.github.io/rdf-tests/sparql/"
ROOT = Path(__file__).resolve().parents[1] / "w3c" / "sparql"
"""The copied suites (upstream folder ``sparql/`` of w3c/rdf-tests, same relative paths)."""

MF = "http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#"
QT = "http://www.w3.org/2001/sw/DataAccess/tests/test-query#"
DAWGT = "http://www.w3.org/2001/sw/DataAccess/tests/test-dawg#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"

SUITES = {
    "sparql10": "sparql10/manifest.ttl",
    "sparql11": "sparql11/manifest-sparql11-query.ttl",
    "results": "sparql11/manifest-sparql11-results.ttl",
}
"""Suite name -> root manifest. ``sparql10/manifest.ttl`` includes exactly the sub-manifests of
``manifest-evaluation.ttl`` and ``manifest-syntax.ttl``; ``results`` holds the JSON, CSV and TSV format tests."""

TEST_TYPES = {
    MF + "QueryEvaluationTest": "evaluation",
    MF + "CSVResultFormatTest": "evaluation",
    MF + "PositiveSyntaxTest": "positive-syntax",
    MF + "PositiveSyntaxTest11": "positive-syntax",
    MF + "NegativeSyntaxTest": "negative-syntax",
    MF + "NegativeSyntaxTest11": "negative-syntax",
}


@dataclass(frozen=True)
class W3CTest:
    """One test: its IRI, what it runs and what it expects."""

    iri: str
    suite: str
    manifest: str
    """IRI of the manifest that lists it."""
    kind: str
    """``evaluation``, ``positive-syntax`` or ``negative-syntax``."""
    name: str
    query: str
    """IRI of the query file."""
    data: tuple[str, ...] = ()
    graph_data: tuple[str, ...] = ()
    result: str | None = None
    approval: str | None = None
    requires: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """A readable unique id: the manifest's folder and the test's local name (``sparql10/basic/base-prefix-1``)."""
        folder = relative(self.manifest).rpartition("/")[0]
        return f"{folder}/{self.iri.rpartition('#')[2] or self.iri.rpartition('/')[2]}"


def relative(iri: str) -> str:
    """The path under the suite root of a file IRI under :data:`BASE_IRI`."""
    if not iri.startswith(BASE_IRI):
        raise ValueError(f"{iri} is not a file of the suite")
    return iri[len(BASE_IRI) :]


def local_path(iri: str, root: Path = ROOT) -> Path:
    return root / relative(iri)


def file_iri(path: str) -> str:
    """The IRI of the file at ``path`` (relative to the suite root)."""
    return BASE_IRI + path


_FROM = re.compile(r"(?i)\bFROM\s+(?:NAMED\s+)?(?:<([^<>\"{}|^`\\\s]*)>|([\w.-]*):([\w.-]*))")
_PREFIX = re.compile(r"(?i)\bPREFIX\s+([\w.-]*):\s*<([^<>\"{}|^`\\\s]*)>")


def from_graphs(test: W3CTest, root: Path = ROOT) -> list[str]:
    """The IRIs the query names in ``FROM``/``FROM NAMED`` (``<iri>`` or ``prefix:name``), resolved on its file IRI."""
    text = local_path(test.query, root).read_text(encoding="utf-8")
    prefixes = dict(_PREFIX.findall(text))
    names = [iri or prefixes.get(prefix, "urn:x-undeclared:") + local for iri, prefix, local in _FROM.findall(text)]
    return [resolve(test.query, iri) for iri in names]


def resolve(base: str, iri: str) -> str:
    """``iri`` resolved against ``base`` (RFC 3986, as pyoxigraph does it)."""
    triple = next(iter(ox.parse(input=f"<{iri}> <{iri}> <{iri}> .", format=ox.RdfFormat.TURTLE, base_iri=base)))
    value: str = triple.subject.value
    return value


Index = dict[tuple[str, str], list[ox.NamedNode | ox.BlankNode | ox.Literal]]


def _read(iri: str, root: Path) -> Index:
    index: Index = defaultdict(list)
    for triple in ox.parse(path=str(local_path(iri, root)), format=ox.RdfFormat.TURTLE, base_iri=iri):
        if not isinstance(triple.object, ox.Triple):
            index[(_key(triple.subject), triple.predicate.value)].append(triple.object)
    return index


def _key(term: object) -> str:
    if isinstance(term, ox.NamedNode):
        return term.value
    if isinstance(term, ox.BlankNode):
        return "_:" + term.value
    raise TypeError(f"unexpected manifest subject {term!r}")


def _list(index: Index, head: object) -> Iterator[ox.NamedNode | ox.BlankNode | ox.Literal]:
    while not (isinstance(head, ox.NamedNode) and head.value == RDF + "nil"):
        yield index[(_key(head), RDF + "first")][0]
        head = index[(_key(head), RDF + "rest")][0]


def _objects(index: Index, predicate: str) -> list[ox.NamedNode | ox.BlankNode | ox.Literal]:
    """The objects of ``predicate`` on any subject (some manifests are blank nodes, ``[] a mf:Manifest``)."""
    return [term for (_, p), terms in index.items() if p == predicate for term in terms]


def _values(index: Index, subject: str, predicate: str) -> tuple[str, ...]:
    return tuple(term.value for term in index.get((subject, predicate), []))


def _one(index: Index, subject: str, predicate: str) -> str | None:
    values = _values(index, subject, predicate)
    return values[0] if values else None


def manifests(suite: str, root: Path = ROOT) -> Iterator[tuple[str, Index]]:
    """The manifests of ``suite``, its root first, each with its parsed triples."""
    pending = [file_iri(SUITES[suite])]
    while pending:
        iri = pending.pop(0)
        index = _read(iri, root)
        yield iri, index
        for include in _objects(index, MF + "include"):
            pending.extend(term.value for term in _list(index, include))


def read_suite(suite: str, root: Path = ROOT) -> list[W3CTest]:
    """The selected tests of ``suite`` in manifest order."""
    tests: list[W3CTest] = []
    for manifest, index in manifests(suite, root):
        for entries in _objects(index, MF + "entries"):
            for entry in _list(index, entries):
                test = _read_test(suite, manifest, index, _key(entry))
                if test is not None:
                    tests.append(test)
    return tests


def _read_test(suite: str, manifest: str, index: Index, iri: str) -> W3CTest | None:
    kinds = [TEST_TYPES[t] for t in _values(index, iri, RDF + "type") if t in TEST_TYPES]
    if not kinds:
        return None
    action = index[(iri, MF + "action")][0]
    common = {
        "iri": iri,
        "suite": suite,
        "manifest": manifest,
        "kind": kinds[0],
        "name": _one(index, iri, MF + "name") or iri,
        "approval": _one(index, iri, DAWGT + "approval"),
        "requires": _values(index, iri, MF + "requires"),
        "result": _one(index, iri, MF + "result"),
    }
    if isinstance(action, ox.NamedNode):  # a syntax test: the action is the query file
        return W3CTest(query=action.value, **common)  # type: ignore[arg-type]
    node = _key(action)
    query = _one(index, node, QT + "query")
    if query is None:
        raise ValueError(f"{iri} has no qt:query")
    return W3CTest(
        query=query,
        data=_values(index, node, QT + "data"),
        graph_data=_values(index, node, QT + "graphData"),
        **common,  # type: ignore[arg-type]
    )


def all_tests(root: Path = ROOT) -> list[W3CTest]:
    return [test for suite in SUITES for test in read_suite(suite, root)]


def referenced_files(root: Path = ROOT) -> list[str]:
    """Paths (under the suite root) of every manifest and every file a selected test reads."""
    files: set[str] = set()
    for suite in SUITES:
        files.update(relative(iri) for iri, _ in manifests(suite, root))
    for test in all_tests(root):
        for iri in (test.query, *test.data, *test.graph_data, *([test.result] if test.result else [])):
            files.add(relative(iri))
        for iri in from_graphs(test, root):  # FROM <data.ttl>: a suite file only the query names
            if iri.startswith(BASE_IRI) and local_path(iri, root).is_file():
                files.add(relative(iri))
    return sorted(files)
