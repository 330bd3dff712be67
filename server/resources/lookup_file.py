"""The lookup index as one memory-mapped file of a serving bundle (``lookup.bin``), searched without loading it.

Read as Python objects (:class:`~calcinosis_kg.server.resources.labels.LabelIndex` unpickled), the lookup index of a
million triples took 0.8 s to read and 85 MB in each granian worker that answered a lookup, and each lookup walked
every text in Python (0.17 to 0.24 s). :class:`MappedLabelIndex` answers the same lookups (the same hits in the same
order: it reuses the index's matching and ranking) from the file, mapped read-only: its pages are the OS page
cache's, shared by every process and every replica of the machine, and a lookup finds the texts that contain the
searched key with ``bytes.find`` over their normalised keys (C speed), then decodes only those.

Layout: :mod:`~calcinosis_kg.server.resources.mapped`'s, after :data:`MAGIC`. Sections:

``keys``, ``texts``
    each indexed text's normalised key and text, in the index's order;
``sources``, ``entity_of``
    each text's :class:`~.labels.Source` and entity number;
``entities``
    four strings per entity: IRI, label, type IRI and type label (empty: no type);
``codes``, ``code_starts``, ``code_entities``
    the mapped code IRIs, sorted, and the entity numbers mapped to each (``code_starts[i]`` to ``[i + 1]``).

A key holding a NUL character (none in practice) is stored without it. Writing is deterministic (the index's
parts are).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator
from pathlib import Path

from rdflib import URIRef

from calcinosis_kg.errors import CodeSyntaxError
from calcinosis_kg.graph.codesystems import CodeSystems, default_code_systems
from calcinosis_kg.graph.lookup import parse_code
from calcinosis_kg.server.resources.labels import (
    Entity,
    EntityType,
    Hit,
    LabelIndex,
    Level,
    Source,
    _kind,
    _level,
    _Text,
    _word_starts,
    normalise,
)
from calcinosis_kg.server.resources.mapped import (
    NUMBER,
    MappedSections,
    Sections,
    encode,
    string_table,
    write_sections,
)

MAGIC = b"KGLOOKUP1\n"


def write_lookup(index: LabelIndex, path: Path) -> None:
    """Write ``index`` to ``path`` in the layout of the module docstring."""
    texts, codes = index.parts()
    entities: dict[Entity, int] = {}
    for text in texts:
        entities.setdefault(text.entity, len(entities))
    for _, mapped in codes:
        for entity in mapped:
            entities.setdefault(entity, len(entities))
    entity_strings = [
        part
        for entity in entities
        for part in (
            str(entity.iri),
            entity.label,
            *(("", "") if entity.type is None else (entity.type.iri, entity.type.label)),
        )
    ]
    code_starts = [0]
    for _, mapped in codes:
        code_starts.append(code_starts[-1] + len(mapped))
    sections: Sections = {}
    for name, strings in (
        ("keys", [text.key.replace("\0", "") for text in texts]),
        ("texts", [text.text for text in texts]),
        ("entities", entity_strings),
        ("codes", [str(iri) for iri, _ in codes]),
    ):
        sections.update(string_table(name, [encode(string) for string in strings]))
    sections["sources"] = ("B", bytes(int(text.source) for text in texts))
    sections["entity_of"] = (NUMBER, array(NUMBER, [entities[text.entity] for text in texts]).tobytes())
    sections["code_starts"] = (NUMBER, array(NUMBER, code_starts).tobytes())
    code_entities = [entities[entity] for _, mapped in codes for entity in mapped]
    sections["code_entities"] = (NUMBER, array(NUMBER, code_entities).tobytes())
    write_sections(path, MAGIC, sections)


class MappedLabelIndex(LabelIndex):
    """A :class:`LabelIndex` whose texts, entities and codes stay in the mapped file (see the module docstring)."""

    def __init__(self, path: Path, systems: CodeSystems | None = None) -> None:
        self._file = MappedSections(path, MAGIC, "lookup index")
        self._map, self._at, self._sections = self._file.map, self._file.at, self._file.sections
        self._systems = default_code_systems() if systems is None else systems

    @property
    def size(self) -> int:
        return len({int(number) for number in self._sections["entity_of"]})

    def parts(self) -> tuple[tuple[_Text, ...], list[tuple[URIRef, tuple[Entity, ...]]]]:
        """The index as :meth:`LabelIndex.parts` gives it (everything decoded: for tests and tools)."""
        texts = tuple(self._text(number) for number in range(len(self._sections["sources"])))
        codes = [
            (URIRef(self._string("codes", n)), self._code_entities(n))
            for n in range(len(self._sections["codes_at"]) - 1)
        ]
        return texts, codes

    def _matches(self, text: str) -> Iterator[Hit]:
        try:
            curie, iri = parse_code(text, self._systems)
        except CodeSyntaxError:
            pass
        else:
            rank, kind = _kind(Level.EXACT, Source.CODE)
            found = self._code(str(iri))
            if found is not None:
                yield from (Hit(entity, curie, kind, rank) for entity in self._code_entities(found))
        key = normalise(text)
        entities: dict[int, Entity] = {}  # decoded once per lookup (an entity has several texts)
        for number in self._containing(key):
            candidate = self._text(number, entities)
            level = _level(candidate, key)
            if level is not None and (candidate.source != Source.HIDDEN or level <= Level.PREFIX):
                rank, kind = _kind(level, candidate.source)
                yield Hit(candidate.entity, candidate.text, kind, rank)

    def _containing(self, key: str) -> list[int]:
        """The numbers of the texts whose key contains ``key``, in order."""
        if "\0" in key:
            return []
        needle = key.encode("utf-8", "surrogatepass")
        starts, base = self._sections["keys_at"], self._at["keys"]
        end = base + len(self._sections["keys"])
        found: list[int] = []
        at = 0
        while True:
            hit = self._map.find(needle, base + at, end) if needle else base + at
            if hit < 0 or hit >= end:
                return found
            number = bisect.bisect_right(starts, hit - base) - 1
            if not found or found[-1] != number:
                found.append(number)
            at = int(starts[number + 1])  # on to the next text: one hit per text is enough

    def _string(self, table: str, number: int) -> str:
        return self._file.string(table, number)

    def _entity(self, number: int) -> Entity:
        iri, label, type_iri, type_label = (self._string("entities", 4 * number + part) for part in range(4))
        return Entity(URIRef(iri), label, EntityType(type_iri, type_label) if type_iri else None)

    def _text(self, number: int, entities: dict[int, Entity] | None = None) -> _Text:
        key = self._string("keys", number)
        entity_number = int(self._sections["entity_of"][number])
        entity = None if entities is None else entities.get(entity_number)
        if entity is None:
            entity = self._entity(entity_number)
            if entities is not None:
                entities[entity_number] = entity
        source = Source(self._sections["sources"][number])
        return _Text(entity, self._string("texts", number), key, source, _word_starts(key))

    def _code(self, iri: str) -> int | None:
        """The number of the code ``iri``, or None (a binary search of the sorted codes)."""
        return self._file.find("codes", encode(iri))

    def _code_entities(self, number: int) -> tuple[Entity, ...]:
        starts = self._sections["code_starts"]
        entities = self._sections["code_entities"][int(starts[number]) : int(starts[number + 1])]
        return tuple(self._entity(int(entity)) for entity in entities)
