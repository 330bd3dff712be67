"""The HTTP side of a remote SPARQL store: a pooled client with deadlines, triple lookups through it, and what
is read at start-up.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

import pyoxigraph as ox
import urllib3
from rdflib import URIRef
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

from calcinosis_kg.server.engines.contract import DatasetSpec
from calcinosis_kg.server.errors import (
    EndpointError,
    EvaluationError,
    ResultTooLarge,
    StoreTimeout,
    StoreUnavailable,
)
from calcinosis_kg.server.resources.data import DatasetSummary
from calcinosis_kg.server.sparql.describe import GraphView, Resource

RESULTS_JSON = "application/sparql-results+json"


_VIRTUOSO_BNODE = re.compile(rb'("type"\s*:\s*"bnode"\s*,\s*"value"\s*:\s*")nodeID://')
"""Virtuoso writes a blank node ``_:b1`` of its N-Triples as ``nodeID://b1`` in JSON results: not a label."""


VIRTUOSO_TIMEOUT_STATE = "S1TAT"
"""Virtuoso's ``X-SQL-State`` on a 200 whose answer its time limit cut short."""


N_TRIPLES = "application/n-triples"


STARTUP_TIMEOUT = 120.0
"""Seconds each start-up read (counts, the blank-node copy, whole-graph scans) may take."""


PROBE_TIMEOUT = 2.0
"""Seconds ``/health`` waits for the store."""


_CHUNK = 1 << 16


BATCH = 200
"""Subjects per query of :meth:`StoreGraphView.triples_of`."""


class StoreClient:
    """The pooled HTTP client of one store's SPARQL query endpoint, with a per-thread deadline."""

    def __init__(self, url: str, *, max_bytes: int, connections: int = 16, timeout_param: str | None = None) -> None:
        self.url = url
        self.dataset: DatasetSpec | None = None
        """The dataset sent with the queries that name none (``KG_STORE_DEFAULT_GRAPH``, set by :func:`read_store`)."""
        self._max_bytes = max_bytes
        self._timeout_param = timeout_param
        self._http = urllib3.PoolManager(num_pools=2, maxsize=connections, retries=False)
        self._local = threading.local()

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Every request of this thread inside the block must be answered within ``seconds`` from now."""
        previous = getattr(self._local, "deadline", None)
        self._local.deadline = (time.monotonic() + seconds, seconds)
        try:
            yield
        finally:
            self._local.deadline = previous

    def query(self, text: str, accept: str, dataset: DatasetSpec | None = None) -> bytes:
        """The store's answer to ``text`` (its body); raises StoreUnavailable, StoreTimeout or EvaluationError.

        Inside :meth:`deadline` (a query job) the answer is held to the answer-size limit (ResultTooLarge);
        outside it (the start-up reads: counts, the blank-node copy, the indexes) it may be as large as the
        store, within :data:`STARTUP_TIMEOUT`.
        """
        deadline = getattr(self._local, "deadline", None)
        end, limit = deadline or (time.monotonic() + STARTUP_TIMEOUT, STARTUP_TIMEOUT)
        max_bytes = self._max_bytes if deadline is not None else None  # start-up reads take the whole store
        fields = [("query", text)]
        if dataset is not None:
            fields += [("default-graph-uri", str(name)) for name in dataset.default]
            fields += [("named-graph-uri", str(name)) for name in dataset.named]
        if self._timeout_param:
            fields.append((self._timeout_param, str(int(limit * 1000))))
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise self._timeout(limit)
        try:
            response = self._http.request(
                "POST",
                self.url,
                body=urlencode(fields),
                headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": accept},
                timeout=urllib3.Timeout(connect=remaining, read=remaining),
                preload_content=False,
                redirect=False,
            )
        except NewConnectionError as error:  # before TimeoutError: urllib3 makes it a ConnectTimeoutError too
            raise StoreUnavailable(f"The SPARQL store at {self.url} could not be reached: {_reason(error)}") from None
        except TimeoutError:
            raise self._timeout(limit) from None
        except (HTTPError, OSError) as error:
            raise StoreUnavailable(f"The SPARQL store at {self.url} could not be reached: {_reason(error)}") from None
        try:
            body = self._read(response, end, limit, max_bytes)
        finally:
            response.release_conn()
        if response.status == 200:
            if response.headers.get("X-SQL-State") == VIRTUOSO_TIMEOUT_STATE:
                raise self._timeout(limit)  # a partial answer ("anytime query"): not the query's answer
            return body
        message = body[:1000].decode("utf-8", "replace").strip()
        if response.status in (503, 504) or (response.status == 500 and "timeout" in message.lower()):
            raise self._timeout(limit)
        if 400 <= response.status < 500:
            raise EvaluationError(f"The SPARQL store at {self.url} refused the query ({response.status}): {message}")
        raise StoreUnavailable(f"The SPARQL store at {self.url} answered {response.status}: {message}")

    def _read(self, response: urllib3.BaseHTTPResponse, end: float, limit: float, max_bytes: int | None) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.stream(_CHUNK):
                chunks.append(chunk)
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    response.close()
                    raise ResultTooLarge(
                        f"The store's answer is over {max_bytes} bytes (KG_MAX_ANSWER_BYTES); "
                        "add a LIMIT or narrow the pattern."
                    )
                if time.monotonic() > end:
                    response.close()
                    raise self._timeout(limit)
        except TimeoutError:
            response.close()
            raise self._timeout(limit) from None
        except (HTTPError, OSError) as error:
            response.close()
            raise StoreUnavailable(f"The SPARQL store at {self.url} broke off its answer: {_reason(error)}") from None
        return b"".join(chunks)

    def _timeout(self, limit: float) -> StoreTimeout:
        return StoreTimeout(
            f"The SPARQL store at {self.url} did not answer within the {limit:g} s limit (KG_QUERY_TIMEOUT). "
            "Narrow the pattern or add a LIMIT; if every query times out, the store is overloaded or stuck."
        )

    def probe(self) -> str | None:
        """None when the store answers ``ASK {}`` within :data:`PROBE_TIMEOUT`, else what went wrong."""
        try:
            with self.deadline(PROBE_TIMEOUT):
                self.query("ASK {}", RESULTS_JSON)
        except EndpointError as error:
            return str(error)
        return None

    def select(self, text: str) -> list[ox.QuerySolution]:
        """The solutions of a SELECT the server itself writes (counts, start-up reads)."""
        result = self.parse_results(self.query(text, RESULTS_JSON, self.dataset))
        if not isinstance(result, ox.QuerySolutions):
            raise StoreUnavailable(f"The SPARQL store at {self.url} answered a SELECT with a boolean.")
        return list(self.solutions(result))

    def construct(self, text: str) -> list[ox.Triple]:
        """The distinct triples of a CONSTRUCT."""
        body = self.query(text, N_TRIPLES, self.dataset)
        try:
            return list(dict.fromkeys(quad.triple for quad in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)))
        except (SyntaxError, ValueError) as error:
            raise StoreUnavailable(f"The SPARQL store at {self.url} sent N-Triples we cannot read: {error}") from None

    def parse_results(self, body: bytes) -> ox.QuerySolutions | ox.QueryBoolean:
        """The store's JSON results, read lazily: iterate the solutions with :meth:`solutions`."""
        if b"nodeID://" in body:
            body = _VIRTUOSO_BNODE.sub(rb"\1", body)
        try:
            return ox.parse_query_results(body, ox.QueryResultsFormat.JSON)
        except (SyntaxError, ValueError) as error:
            raise self._unreadable(error) from None

    def solutions(self, result: ox.QuerySolutions) -> Iterator[ox.QuerySolution]:
        """The solutions of ``result``: one the store wrote wrongly is its fault (502), never ours (500)."""
        try:
            yield from result
        except (SyntaxError, ValueError) as error:
            raise self._unreadable(error) from None

    def _unreadable(self, error: Exception) -> StoreUnavailable:
        return StoreUnavailable(f"The SPARQL store at {self.url} sent results we cannot read: {error}")


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    return str(reason or error)


class StoreGraphView(GraphView):
    """The store's default graph as triple patterns (see the module docstring for blank nodes)."""

    def __init__(self, client: StoreClient) -> None:  # no store of our own: GraphView's is not set
        self._client = client
        self._by_subject: dict[object, list[ox.Triple]] = {}
        self._by_object: dict[object, list[ox.Triple]] = {}
        for triple in client.construct("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o FILTER(isBlank(?s) || isBlank(?o)) }"):
            self._by_subject.setdefault(triple.subject, []).append(triple)
            self._by_object.setdefault(triple.object, []).append(triple)

    def triples(
        self, subject: Resource | None, predicate: ox.NamedNode | None, obj: object | None
    ) -> Iterator[ox.Triple]:
        if isinstance(subject, ox.BlankNode) or isinstance(obj, ox.BlankNode):
            found = self._by_subject.get(subject, []) if subject is not None else self._by_object.get(obj, [])
            yield from (
                t for t in found if (predicate is None or t.predicate == predicate) and (obj is None or t.object == obj)
            )
            return
        terms = (subject, predicate, obj)
        pattern = " ".join("?" + name if term is None else str(term) for name, term in zip("spo", terms, strict=True))
        yield from self._client.construct(f"CONSTRUCT {{ {pattern} }} WHERE {{ {pattern} }}")

    def triples_of(self, subjects: Sequence[ox.NamedNode], predicates: Sequence[ox.NamedNode]) -> Iterator[ox.Triple]:
        """As :meth:`GraphView.triples_of`, with one query per :data:`BATCH` subjects (a DESCRIBE labels every
        neighbour: one query per neighbour and property made a well-linked resource miss the time limit)."""
        rank = {predicate: index for index, predicate in enumerate(predicates)}
        wanted = " ".join(str(predicate) for predicate in predicates)
        for start in range(0, len(subjects), BATCH):
            chunk = subjects[start : start + BATCH]
            order = {subject: index for index, subject in enumerate(chunk)}
            values = " ".join(str(subject) for subject in chunk)
            found = self._client.construct(
                f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ VALUES ?s {{ {values} }} VALUES ?p {{ {wanted} }} ?s ?p ?o }}"
            )
            yield from sorted(found, key=lambda t: (order[t.subject], rank[t.predicate]))  # type: ignore[index]


@dataclass(frozen=True)
class StoreState:
    """What the server learns of the store at start-up."""

    summary: DatasetSummary
    fingerprint: str
    """Hex SHA-256 over the store's quads (sorted): what identifies the served data, for caching."""


def read_store(client: StoreClient, *, union_default_graph: bool, default_graph: str | None = None) -> StoreState:
    """Count the store's graphs and fingerprint its contents (raises StoreUnavailable when it cannot).

    With ``default_graph`` (``KG_STORE_DEFAULT_GRAPH``) that graph is the default graph and the others the named
    graphs: from then on ``client`` sends them as the dataset of every query that names none.
    """
    named = {
        str(row["g"].value): int(row["n"].value)
        for row in client.select("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
        if isinstance(row["g"], ox.NamedNode) and row["n"] is not None and row["g"].value != default_graph
    }
    if default_graph is not None:
        client.dataset = DatasetSpec(default=(URIRef(default_graph),), named=tuple(URIRef(name) for name in named))
    default = int(client.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")[0]["n"].value)
    digest = hashlib.sha256(client.url.encode() + b"\0")
    quads = client.query(
        "SELECT ?g ?s ?p ?o WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }",
        "text/tab-separated-values",
        client.dataset,
    )
    for line in sorted(quads.splitlines()):
        digest.update(line + b"\n")
    summary = DatasetSummary(
        default_triples=default,
        named_graphs=dict(sorted(named.items())),
        union_default_graph=union_default_graph,
        triples=sum(named.values()) + (0 if union_default_graph else default),
    )
    return StoreState(summary=summary, fingerprint=digest.hexdigest())
