"""What a query may ask of the endpoint: no federation, and only graphs the dataset already holds.

rdflib would fetch data for a query in two places: ``SERVICE`` (it sends the inner pattern to the IRI
over HTTP) and ``FROM``/``FROM NAMED`` naming a graph that is not in the dataset, or is empty in it (it
downloads or opens the IRI and parses what it gets). Both are checked on the translated algebra, never on
the query text: :func:`refuse_service` looks for a SERVICE node anywhere in the tree (inside OPTIONAL,
UNION, sub-queries and FILTER EXISTS too), and :func:`check_graphs` accepts only names of the dataset's
graphs. The evaluator never hands FROM clauses to rdflib; it builds the query's dataset itself from the
:class:`DatasetSpec`. ``LOAD`` and the other update operations cannot reach evaluation: updates are refused.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from rdflib import URIRef
from rdflib.plugins.sparql.sparql import Query

from calcinosis_kg.server.errors import ServiceRefused, UnknownGraph
from calcinosis_kg.server.parsing import walk

_SHOWN_GRAPHS = 20


@dataclass(frozen=True)
class DatasetSpec:
    """An RDF dataset described by graph names: the graphs merged into the default graph, the named graphs.

    It comes from the protocol's ``default-graph-uri``/``named-graph-uri`` parameters or else from the
    query's ``FROM``/``FROM NAMED`` clauses; either replaces the served dataset's own arrangement.
    """

    default: tuple[URIRef, ...] = ()
    named: tuple[URIRef, ...] = ()


def refuse_service(query: Query) -> None:
    """Raise :class:`ServiceRefused` if ``SERVICE`` occurs anywhere in the query's algebra."""
    for node in walk(query.algebra):
        if node.name == "ServiceGraphPattern":
            raise ServiceRefused(
                f"SERVICE {node.term.n3()} refused: this endpoint does not evaluate federated queries "
                "and never contacts other services."
            )


def query_dataset(query: Query) -> DatasetSpec | None:
    """The dataset the query's ``FROM``/``FROM NAMED`` clauses describe, or None if it has none."""
    # CompValue attributes are None when absent (its get() would return the key itself).
    clauses = query.algebra.datasetClause or []
    if not clauses:
        return None
    return DatasetSpec(
        default=tuple(clause.default for clause in clauses if clause.default is not None),
        named=tuple(clause.named for clause in clauses if clause.named is not None),
    )


def check_graphs(spec: DatasetSpec, known: Collection[URIRef], source: str) -> None:
    """Raise :class:`UnknownGraph` if ``spec`` names a graph not in ``known``.

    ``source`` says where the names came from (``FROM/FROM NAMED`` or the protocol parameters).
    """
    unknown = [name for name in (*spec.default, *spec.named) if name not in known]
    if not unknown:
        return
    listed = ", ".join(f"<{name}>" for name in sorted(known)[:_SHOWN_GRAPHS])
    more = f" and {len(known) - _SHOWN_GRAPHS} more" if len(known) > _SHOWN_GRAPHS else ""
    holds = f"It holds the named graphs {listed}{more}." if known else "It holds no named graphs."
    raise UnknownGraph(
        f"{source} names {', '.join(f'<{name}>' for name in unknown)}, which this dataset does not hold. "
        f"The endpoint never loads graphs from the web or from files. {holds}"
    )


