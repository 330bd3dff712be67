"""The answers of the canned queries asked without parameters, computed once when a serving bundle is written.

``GET /queries/{name}`` with no parameter (each parameter its default) is the request the pages, the docs and most
clients make. Its answer depends only on the data, the query's text and the result format, so a bundle holds it in
every format of the query's family (:class:`CannedAnswers`), and the canned-query view answers from it without a
query worker: the answer is the same bytes in every process, and it never waits behind runaway queries.

An answer is used only while the query's text is the one it was computed from (the catalog may change after the
bundle) and while ``KG_MAX_ROWS`` and ``KG_MAX_ANSWER_BYTES`` are those it was computed with (a lower limit must
still refuse what it refuses). A query that fails or is refused when the bundle is written gets no answer: it runs
as before.

In a bundle the answers are a file of their own (:func:`write_answers`), mapped by every server process
(:class:`MappedAnswers`): read into each replica's heap they took 19 MB of it at a million triples, and more with
more data; mapped, the page cache holds them once for every process and replica, and only the pages of the answers
asked are read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from calcinosis_kg.errors import QueryError
from calcinosis_kg.queries.catalog import CannedQuery
from calcinosis_kg.server.engines.common import WRITTEN_PREFIXES
from calcinosis_kg.server.engines.contract import Answer, Job
from calcinosis_kg.server.engines.oxigraph import OxigraphEngine
from calcinosis_kg.server.errors import EndpointError
from calcinosis_kg.server.http.formats import Family, ResultFormat, choose_format, formats_of
from calcinosis_kg.server.resources.mapped import MappedSections, Sections, encode, string_table, write_sections
from calcinosis_kg.server.sparql.results import write_boolean, write_rows, write_triples

BASE = "http://localhost/queries/"
"""The base IRI the answers are computed with (the canned texts use absolute IRIs only: it changes nothing)."""


def answer_family(query: CannedQuery) -> Family:
    """The kind of answer ``query`` gives: results (SELECT, ASK) or a graph (CONSTRUCT, DESCRIBE)."""
    return Family.RESULTS if query.query_type in ("SELECT", "ASK") else Family.GRAPH


SOURCE_FORMATS = {Family.RESULTS: "json", Family.GRAPH: "ntriples"}
"""The format a canned query is evaluated in when a bundle is written; its other formats are written from it."""


def _written(source: bytes, family: Family, fmt: ResultFormat) -> bytes:
    """An answer written in :data:`SOURCE_FORMATS` (JSON results, N-Triples) as ``fmt``, by the engine's writers:
    the terms read back are the engine's (labels of blank nodes included), in the same order."""
    if family is Family.GRAPH:
        return write_triples(fmt, [quad.triple for quad in ox.parse(source, ox.RdfFormat.N_TRIPLES)], WRITTEN_PREFIXES)
    results = ox.parse_query_results(source, ox.QueryResultsFormat.JSON)
    if isinstance(results, ox.QueryBoolean):
        return write_boolean(fmt, bool(results))
    variables = [variable.value for variable in results.variables]
    return write_rows(fmt, variables, [tuple(solution) for solution in results])


def _text_key(query: CannedQuery) -> str:
    return hashlib.sha256(query.sparql.encode()).hexdigest()


Key = tuple[str, str, str]
"""(query name, hash of its text, format key)."""
MAGIC = b"KGCANNED1\n"
_FIELD = "\n"
"""Between the parts of a key in the file (none holds a line break)."""


def write_answers(answers: Mapping[Key, tuple[bytes, str]], path: Path) -> None:
    """Write ``answers`` to ``path`` (:mod:`~calcinosis_kg.server.resources.mapped`'s layout): the string tables
    ``keys`` (the keys' parts joined by :data:`_FIELD`, sorted), ``bodies`` and ``types``, in the keys' order."""
    entries = sorted((encode(_FIELD.join(key)), body, content_type) for key, (body, content_type) in answers.items())
    sections: Sections = {}
    sections.update(string_table("keys", [key for key, _, _ in entries]))
    sections.update(string_table("bodies", [body for _, body, _ in entries]))
    sections.update(string_table("types", [encode(content_type) for _, _, content_type in entries]))
    write_sections(path, MAGIC, sections)


class MappedAnswers(Mapping[Key, tuple[bytes, str]]):
    """The answers :func:`write_answers` wrote, mapped read-only: an answer's body is copied out of the map when
    it is asked for (a binary search of the keys finds it)."""

    def __init__(self, path: Path) -> None:
        self._file = MappedSections(path, MAGIC, "file of canned answers")

    def __getitem__(self, key: Key) -> tuple[bytes, str]:
        number = self._file.find("keys", encode(_FIELD.join(key)))
        if number is None:
            raise KeyError(key)
        return self._file.raw("bodies", number), self._file.string("types", number)

    def __iter__(self) -> Iterator[Key]:
        for number in range(len(self)):
            name, text_key, fmt = self._file.string("keys", number).split(_FIELD)
            yield name, text_key, fmt

    def __len__(self) -> int:
        return self._file.count("keys")


@dataclass(frozen=True)
class CannedAnswers:
    """(query name, text hash, format key) -> (body, content type), with the limits they were computed under."""

    answers: Mapping[Key, tuple[bytes, str]]
    """In memory when computed, :class:`MappedAnswers` when read from a bundle."""
    max_rows: int
    max_answer_bytes: int

    @classmethod
    def compute(
        cls,
        store: ox.Store,
        catalog: Mapping[str, CannedQuery],
        *,
        union_default_graph: bool,
        max_rows: int,
        max_answer_bytes: int,
    ) -> CannedAnswers:
        """Run each query of ``catalog`` with its defaults on ``store``, once, and write its answer in every
        format of its family: the engine's answer in :data:`SOURCE_FORMATS` read back and written by the same
        writers as the engine's (:func:`_written`: the same bytes; evaluating once per format took 4x as long)."""
        engine = OxigraphEngine(store, max_rows=max_rows, union_default_graph=union_default_graph)
        answers: dict[Key, tuple[bytes, str]] = {}
        for name, query in sorted(catalog.items()):
            try:
                bindings = tuple(sorted(query.bindings({}).items()))
            except QueryError:
                continue  # a required parameter: no default request
            family = answer_family(query)
            source = SOURCE_FORMATS[family]
            job = Job(query=query.sparql, base=BASE, formats=(source,), bindings=bindings)
            try:
                answer = engine.execute(job)
            except EndpointError:
                continue
            for fmt in formats_of(family):
                try:
                    body = answer.body if fmt.key == source else _written(answer.body, family, fmt)
                except EndpointError:
                    break
                if len(body) <= max_answer_bytes:
                    answers[(name, _text_key(query), fmt.key)] = (body, fmt.content_type)
        return cls(answers=answers, max_rows=max_rows, max_answer_bytes=max_answer_bytes)

    def usable(self, max_rows: int, max_answer_bytes: int) -> bool:
        """Whether the answers hold under these limits (the ones they were computed with)."""
        return (self.max_rows, self.max_answer_bytes) == (max_rows, max_answer_bytes)

    def answer(self, query: CannedQuery, accept: str | None, formats: tuple[str, ...]) -> Answer | None:
        """The answer to ``query`` without parameters in the negotiated format, if it was computed.

        Raises what :func:`~calcinosis_kg.server.http.formats.choose_format` raises (406, unknown format) as the
        engine would.
        """
        fmt: ResultFormat = choose_format(accept, formats, answer_family(query))
        found = self.answers.get((query.name, _text_key(query), fmt.key))
        return None if found is None else Answer(found[0], found[1], cached=True, origin="bundle")
