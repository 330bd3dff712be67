"""A release's identity and its committed snapshots; the helpers that read a built graph for the release artifacts.

:func:`release_info` reads the release from the ontology header, the one hand-edited place it is stated:
``owl:versionIRI <https://w3id.org/calcinosis-kg/releases/YYYY-MM-DD/ontology>`` (dated, the date being the
release date and equal to ``dcterms:modified``), ``owl:versionInfo`` (the release number) and
``owl:priorVersion`` (the previous release's version IRI). Nothing here reads the clock, so builds stay
byte-identical. :func:`previous_release` loads the previous release's snapshot (``releases/{version}/
calcinosis-kg.nt.gz``). The artifacts themselves are written by :mod:`.obographs` (the OBO Graphs JSON view)
and :mod:`.release_diff` (what changed since the previous release).
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS
from rdflib.term import Node

from calcinosis_kg.errors import CurationError
from calcinosis_kg.ontology import BASE, CC, CCO, ONTOLOGY_IRI, bind_prefixes
from calcinosis_kg.paths import RELEASES_DIR

"""Committed snapshots of previous releases, one folder per release (``releases/0.1.0/calcinosis-kg.nt.gz``)."""
SNAPSHOT_NAME = "calcinosis-kg.nt.gz"
OBOGRAPHS_EXPORT = "calcinosis-kg.obographs.json"
DIFF_JSON = "release-diff.json"
DIFF_MARKDOWN = "release-diff.md"

RELEASES_BASE = BASE + "releases/"
_DATED_VERSION = re.compile(re.escape(RELEASES_BASE) + r"(\d{4}-\d{2}-\d{2})/ontology")
_ANY_VERSION = re.compile(re.escape(RELEASES_BASE) + r"([^/]+)/ontology")


# ---------------------------------------------------------------------------------------------- the release
@dataclass(frozen=True)
class ReleaseInfo:
    """Who a release is: its version IRI, number, date and the release before it."""

    version_iri: str
    version_info: str
    date: str | None
    prior_version_iri: str | None

    @property
    def name(self) -> str:
        """The version IRI's path segment: ``2026-12-01`` (dated releases) or ``0.1.0`` (the first release)."""
        match = _ANY_VERSION.fullmatch(self.version_iri)
        return match.group(1) if match else self.version_iri

    @property
    def prior_name(self) -> str | None:
        if self.prior_version_iri is None:
            return None
        match = _ANY_VERSION.fullmatch(self.prior_version_iri)
        if match is None:
            raise CurationError(f"owl:priorVersion <{self.prior_version_iri}> is not a release IRI of {RELEASES_BASE}")
        return match.group(1)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "version_iri": self.version_iri,
            "version_info": self.version_info,
            "date": self.date,
            "prior_version_iri": self.prior_version_iri,
        }


def _header_value(graph: Graph, prop: URIRef) -> Node | None:
    return graph.value(URIRef(ONTOLOGY_IRI), prop)


def release_info(graph: Graph, *, dated: bool = True) -> ReleaseInfo:
    """The release stated in the ontology header of ``graph``.

    With ``dated`` (the default, for the graph being built) the version IRI must be
    ``https://w3id.org/calcinosis-kg/releases/YYYY-MM-DD/ontology`` with a real date equal to ``dcterms:modified``;
    a snapshot of an older release may have an undated one (``dated=False``). Raises CurationError otherwise.
    """
    version = _header_value(graph, OWL.versionIRI)
    info = _header_value(graph, OWL.versionInfo)
    if not isinstance(version, URIRef) or info is None:
        raise CurationError(f"<{ONTOLOGY_IRI}> needs an owl:versionIRI and an owl:versionInfo")
    prior = _header_value(graph, OWL.priorVersion)
    match = _DATED_VERSION.fullmatch(str(version))
    date = match.group(1) if match else None
    if dated:
        if date is None:
            raise CurationError(
                f"owl:versionIRI <{version}> is not a dated release IRI {RELEASES_BASE}YYYY-MM-DD/ontology"
            )
        modified = _header_value(graph, DCTERMS.modified)
        if not (isinstance(modified, Literal) and modified.ill_typed is False and str(modified) == date):
            raise CurationError(f"the release date {date} of owl:versionIRI differs from dcterms:modified {modified}")
    return ReleaseInfo(str(version), str(info), date, None if prior is None else str(prior))


def snapshot_path(name: str, releases_dir: Path = RELEASES_DIR) -> Path:
    return releases_dir / name / SNAPSHOT_NAME


def load_snapshot(path: Path) -> Graph:
    """A release snapshot (gzipped N-Triples) as a graph."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return bind_prefixes(Graph()).parse(data=handle.read(), format="nt")


def write_snapshot(ntriples: str, path: Path) -> None:
    """Write sorted N-Triples as a reproducible gzip file (no file name or time stamp in its header)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(ntriples.encode("utf-8"))


def previous_release(graph: Graph, releases_dir: Path = RELEASES_DIR) -> Graph:
    """The snapshot of the release named by the ontology's ``owl:priorVersion``; CurationError if it is missing."""
    name = release_info(graph).prior_name
    if name is None:
        raise CurationError(f"<{ONTOLOGY_IRI}> has no owl:priorVersion: no previous release to compare with")
    path = snapshot_path(name, releases_dir)
    if not path.is_file():
        raise CurationError(f"no snapshot of the previous release {name}: {path} is missing")
    return load_snapshot(path)


# ------------------------------------------------------------------------------- reading a built graph
def curie(graph: Graph, node: Node) -> str:
    """``node`` as a CURIE of the graph's prefixes when it has one, else as text."""
    if isinstance(node, URIRef):
        try:
            prefix, _, local = graph.namespace_manager.compute_qname(str(node), generate=False)
        except (KeyError, ValueError):
            return str(node)
        return f"{prefix}:{local}" if local else str(node)
    return str(node)


def graph_entities(graph: Graph) -> set[URIRef]:
    """The graph's entities: the named individuals under ``cc:``."""
    return {
        s for s in graph.subjects(RDF.type, OWL.NamedIndividual) if isinstance(s, URIRef) and str(s).startswith(str(CC))
    }


def ontology_terms(graph: Graph, *kinds: URIRef) -> set[URIRef]:
    """The ontology's terms (under ``cco:``) of the given ``kinds`` (owl:Class, owl:ObjectProperty...)."""
    return {
        s
        for kind in kinds
        for s in graph.subjects(RDF.type, kind)
        if isinstance(s, URIRef) and str(s).startswith(str(CCO))
    }


def node_label(graph: Graph, node: URIRef) -> str:
    """``node``'s skos:prefLabel, else its rdfs:label, else the empty string."""
    label = graph.value(node, SKOS.prefLabel) or graph.value(node, RDFS.label)
    return "" if label is None else str(label)
