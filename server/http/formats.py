"""HTTP content negotiation between the formats of the registry (:mod:`calcinosis_kg.formats`).

A ``format`` request parameter overrides ``Accept``. It takes a short name (``json``, ``xml``, ``csv``,
``tsv``, ``turtle``, ``ntriples``, ``jsonld``, ``rdfxml`` and a few synonyms that SPARQL clients send) or a
media type, or a comma-separated list of alternatives; ``json`` and ``xml`` mean JSON-LD and RDF/XML for
graph results. Otherwise ``Accept`` decides:
each format gets the q-value of the most specific media range matching one of its media types; the
highest q wins, then the more specific match, then the server's order. Aliases (``application/json``,
``text/xml``, ...) only count when named exactly. Media-type parameters other than ``q`` are ignored.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from werkzeug.http import parse_options_header

from calcinosis_kg.formats import FORMATS, Family, ResultFormat, formats_of
from calcinosis_kg.server.errors import FormatNotAcceptable, ProtocolError

__all__ = [
    "FORMATS",
    "FORMAT_PARAMETER",
    "Family",
    "ResultFormat",
    "available",
    "choose_format",
    "formats_of",
    "negotiate",
]

FORMAT_PARAMETER = "format"
"""The request parameter choosing the result format (no canned query may declare a parameter of this name)."""


@dataclass(frozen=True)
class _MediaRange:
    type: str
    subtype: str
    q: float

    def specificity(self, media_type: str) -> int:
        """2 if this range names ``media_type``, 1 if it is its ``type/*``, 0 if ``*/*``, -1 if no match."""
        type_, _, subtype = media_type.partition("/")
        if self.type == "*":
            return 0
        if self.type != type_:
            return -1
        if self.subtype == "*":
            return 1
        return 2 if self.subtype == subtype else -1


def choose_format(accept: str | None, format_values: Sequence[str], family: Family) -> ResultFormat:
    """The format to answer in, from the ``format`` parameter's values if any, else from ``Accept``.

    Raises :class:`ProtocolError` for a ``format`` value the endpoint does not know or values that
    contradict each other, and :class:`FormatNotAcceptable` (listing what is available) when nothing the
    client accepts exists for ``family``.
    """
    if format_values:
        return _from_format_parameter(format_values, family)
    best = negotiate(accept, formats_of(family))
    if best is None:
        raise FormatNotAcceptable(f"Nothing in 'Accept: {accept}' is available for {family.value}. {available(family)}")
    return best


def negotiate(accept: str | None, offered: Sequence[ResultFormat]) -> ResultFormat | None:
    """The format of ``offered`` that ``Accept`` prefers, or None if it accepts none of them.

    Highest q first, then the most specific matching range (``text/turtle`` over ``text/*`` over ``*/*``),
    then the order of ``offered``; no or an empty ``Accept`` means the first offered format. Memoized for
    headers up to :data:`_MEMO_ACCEPT` characters (clients send few distinct ones).
    """
    if accept is None or not accept.strip():
        return offered[0]
    if len(accept) <= _MEMO_ACCEPT:
        return _negotiate_memo(accept, tuple(offered))
    return _negotiate(accept, offered)


_MEMO_ACCEPT = 512
"""Longest ``Accept`` header whose negotiation is remembered (the memo holds at most 1,024 of them)."""


@functools.lru_cache(maxsize=1024)
def _negotiate_memo(accept: str, offered: tuple[ResultFormat, ...]) -> ResultFormat | None:
    return _negotiate(accept, offered)


def _negotiate(accept: str, offered: Sequence[ResultFormat]) -> ResultFormat | None:
    ranges = _parse_accept(accept)
    scored = [(_score(ranges, fmt), -index, fmt) for index, fmt in enumerate(offered)]
    (best_q, _), _, best = max(scored, key=lambda entry: (entry[0], entry[1]))
    return best if best_q > 0 else None


def available(family: Family) -> str:
    """A sentence listing the media types and ``format`` names of ``family``."""
    media_types = ", ".join(f"{fmt.label} ({fmt.media_type})" for fmt in formats_of(family))
    names = "|".join(fmt.key for fmt in formats_of(family))
    return f"Available: {media_types}; or the parameter format={names}."


def _from_format_parameter(values: Sequence[str], family: Family) -> ResultFormat:
    chosen: set[ResultFormat] = set()
    for value in values:
        # A value may list alternatives: SPARQLWrapper sends format=application/ld+json,application/x-json+ld
        alternatives = [part.split(";")[0].strip().lower() for part in value.split(",")]
        matches = [fmt for wanted in alternatives for fmt in FORMATS if wanted in fmt.identifiers]
        if not matches:
            raise ProtocolError(f"Unknown format {value!r}. {available(family)}")
        in_family = [fmt for fmt in matches if fmt.family is family]
        if not in_family:
            raise FormatNotAcceptable(f"format={value} is not available for {family.value}. {available(family)}")
        chosen.add(in_family[0])
    if len(chosen) > 1:
        raise ProtocolError(f"The format parameters {', '.join(values)} name different formats; give one.")
    return chosen.pop()


def _parse_accept(header: str) -> list[_MediaRange]:
    ranges = []
    for part in header.split(","):
        value, options = parse_options_header(part)
        type_, slash, subtype = value.lower().partition("/")
        if not slash or not type_ or not subtype:
            continue
        try:
            q = float(options.get("q", "1"))
        except ValueError:
            continue
        ranges.append(_MediaRange(type_, subtype, min(max(q, 0.0), 1.0)))
    return ranges


def _score(ranges: Sequence[_MediaRange], fmt: ResultFormat) -> tuple[float, int]:
    """(q, specificity) for ``fmt``: per media type, the q of the most specific matching range; best kept.

    Wildcard ranges match the canonical media type only: ``text/*`` does not select SPARQL XML through its
    alias ``text/xml``, since the response would then carry a type the client did not accept.
    """
    best = (0.0, -1)
    for media_type in fmt.media_types:
        least = 0 if media_type == fmt.media_type else 2
        matching = [(r.specificity(media_type), r.q) for r in ranges if r.specificity(media_type) >= least]
        if matching:
            specificity, q = max(matching)
            best = max(best, (q, specificity))
    return best
