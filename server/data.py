"""Loading the served RDF dataset from files, and the summary the endpoint publishes about it.

The format of each file comes from its extension. N-Quads, TriG and JSON-LD are dataset formats: their
named graphs stay named graphs and their unnamed triples go into the default graph. Every other format
holds triples only, which go into the default graph.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rdflib import Dataset, URIRef

from calcinosis_kg.errors import KGError

RDF_FORMATS: dict[str, str] = {
    ".ttl": "turtle",
    ".nt": "nt",
    ".nq": "nquads",
    ".trig": "trig",
    ".jsonld": "json-ld",
    ".rdf": "xml",
    ".owl": "xml",
    ".xml": "xml",
}
"""File extension -> rdflib parser name."""

DATASET_FORMATS = frozenset({"nquads", "trig", "json-ld"})
"""Parsers whose named graphs are kept."""


class DataLoadError(KGError):
    """A data file is missing, has an unknown extension or cannot be parsed."""


@dataclass(frozen=True)
class DatasetSummary:
    """Graph names and sizes of the served dataset: for the service description, /health and checks."""

    default_triples: int
    """Triples in the default graph as queries see it (with ``union_default_graph``: of all graphs)."""
    named_graphs: Mapping[URIRef, int]
    """Name -> triples of each named graph."""
    union_default_graph: bool
    triples: int
    """Triples stored in all graphs together (a triple in two graphs counts twice)."""


def load_dataset(paths: Iterable[Path], *, union_default_graph: bool = False) -> Dataset:
    """Parse ``paths`` into one in-memory rdflib Dataset.

    With ``union_default_graph`` the dataset's default graph is, for queries, the union of all its graphs.
    Raises :class:`DataLoadError` with the file name and the parser's message when a file is missing,
    has an extension not in :data:`RDF_FORMATS` or does not parse.
    """
    dataset = Dataset(default_union=union_default_graph)
    for path in paths:
        rdf_format = RDF_FORMATS.get(path.suffix.lower())
        if rdf_format is None:
            known = ", ".join(sorted(RDF_FORMATS))
            raise DataLoadError(f"cannot serve {path}: unknown RDF file extension (known: {known})")
        if not path.is_file():
            raise DataLoadError(f"cannot serve {path}: no such file")
        try:
            if rdf_format in DATASET_FORMATS:
                _merge(Dataset().parse(path, format=rdf_format), into=dataset)
            else:
                dataset.default_graph.parse(path, format=rdf_format)
        except Exception as error:  # rdflib's parsers raise many unrelated types for bad input
            raise DataLoadError(f"cannot parse {path} as {rdf_format}: {error}") from error
    return dataset


def _merge(part: Dataset, into: Dataset) -> None:
    """Add every graph of ``part`` to ``into``.

    Dataset files are parsed into a dataset of their own and merged: rdflib's N-Quads parser empties the
    default graph of the dataset it parses into.
    """
    for graph in part.graphs():
        if graph.identifier == part.default_graph.identifier:
            target = into.default_graph
        else:
            target = into.graph(graph.identifier)
        target += graph


def named_graph_names(dataset: Dataset) -> frozenset[URIRef]:
    """The names of the dataset's named graphs (its default graph is not one of them)."""
    default = dataset.default_graph.identifier
    return frozenset(
        graph.identifier
        for graph in dataset.graphs()
        if isinstance(graph.identifier, URIRef) and graph.identifier != default
    )


def summarize(dataset: Dataset) -> DatasetSummary:
    """Count the triples of the default graph (the union if the dataset has one) and of each named graph."""
    named = {name: len(dataset.graph(name)) for name in named_graph_names(dataset)}
    own_default = len(dataset.default_graph)
    union = len(set(dataset.triples((None, None, None)))) if dataset.default_union else own_default
    return DatasetSummary(
        default_triples=union,
        named_graphs=dict(sorted(named.items())),
        union_default_graph=dataset.default_union,
        triples=own_default + sum(named.values()),
    )


def stored_triples(dataset: Dataset) -> int:
    """The triples of the default graph and of every named graph (the quads a store of the dataset holds)."""
    return len(dataset.default_graph) + sum(len(dataset.graph(name)) for name in named_graph_names(dataset))


def content_hash(paths: Iterable[Path]) -> str:
    """Hex SHA-256 over the files' names and contents, in order: what identifies a version of the data."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as data:
            while chunk := data.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()
