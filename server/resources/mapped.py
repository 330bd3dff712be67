"""Files of a serving bundle that every server process maps read-only and reads in place, never loads.

An index read into Python objects (unpickled) is a copy of the data in each replica's heap: at a million triples the
lookup index took 85 MB, the canned answers 19 MB and the linked-data index 7 to 14 MB of every replica, growing with
the data. A mapped file's pages are the OS page cache's: one copy shared by every process and every replica of the
machine, and only the pages a request touches are read.

Layout: :data:`MAGIC`-like bytes naming the file's kind, then the JSON table of sections (name -> offset, length,
element format), then the offset of the first section (8 bytes, little-endian), then the sections, each aligned on
8 bytes. A *string table* ``NAME`` is two sections: ``NAME``, its entries (UTF-8 for text) each followed by a NUL
byte, and ``NAME_at``, the offset of each entry and one past the last (:func:`string_table`). Writing is
deterministic (the same sections give the same bytes).
"""

from __future__ import annotations

import json
import mmap
import struct
from array import array
from collections.abc import Callable, ItemsView, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Literal, TypeVar

SEPARATOR = b"\0"
OFFSET = "q"
NUMBER = "i"
_ELEMENT_FORMATS: dict[str, Literal["B", "q", "i"]] = {"B": "B", "q": "q", "i": "i"}
"""The element formats of the sections (bytes, offsets, numbers), as :meth:`memoryview.cast` takes them."""

T = TypeVar("T", bound=str)

Sections = dict[str, tuple[str, bytes]]
"""A file's sections before writing: name -> (element format, bytes)."""


def string_table(name: str, entries: Sequence[bytes]) -> Sections:
    """The two sections of the string table ``name`` holding ``entries`` (see the module docstring)."""
    offsets, at = [], 0
    for entry in entries:
        offsets.append(at)
        at += len(entry) + len(SEPARATOR)
    offsets.append(at)
    data = b"".join(entry + SEPARATOR for entry in entries)
    return {name: ("B", data), f"{name}_at": (OFFSET, array(OFFSET, offsets).tobytes())}


def encode(text: str) -> bytes:
    """``text`` as a string table holds it (UTF-8; lone surrogates kept)."""
    return text.encode("utf-8", "surrogatepass")


def write_sections(path: Path, magic: bytes, sections: Sections) -> None:
    """Write ``sections`` to ``path`` after ``magic`` and the table of sections (see the module docstring)."""
    table: dict[str, tuple[int, int, str]] = {}
    at = 0
    for name, (fmt, data) in sections.items():
        table[name] = (at, len(data), fmt)
        at += -(-len(data) // 8) * 8
    header = magic + json.dumps(table, sort_keys=True).encode()
    start = -(-(len(header) + 8) // 8) * 8
    body = bytearray(start + at)
    body[: len(header)] = header
    struct.pack_into("<q", body, start - 8, start)
    for name, (_, data) in sections.items():
        offset = start + table[name][0]
        body[offset : offset + len(data)] = data
    path.write_bytes(bytes(body))


class MappedSections:
    """A file written by :func:`write_sections`, mapped read-only: its sections as typed memory views."""

    def __init__(self, path: Path, magic: bytes, kind: str) -> None:
        """Map ``path``; raises ValueError when it does not start with ``magic`` (not a ``kind``), OSError when it
        cannot be read."""
        with path.open("rb") as file:
            self.map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        if self.map[: len(magic)] != magic:
            raise ValueError(f"{path} is not a {kind}")
        end = self.map.find(b"}", len(magic)) + 1
        table: dict[str, list[object]] = json.loads(self.map[len(magic) : end])
        start = -(-(end + 8) // 8) * 8
        view = memoryview(self.map)
        self.at = {name: start + int(str(at)) for name, (at, _, _) in table.items()}
        """Where each section starts in the file."""
        self.sections = {
            name: view[self.at[name] : self.at[name] + int(str(size))].cast(_ELEMENT_FORMATS[str(fmt)])
            for name, (_, size, fmt) in table.items()
        }

    def count(self, table: str) -> int:
        """How many entries the string table ``table`` holds."""
        return len(self.sections[f"{table}_at"]) - 1

    def raw(self, table: str, number: int) -> bytes:
        """Entry ``number`` of the string table ``table``, as bytes (copied out of the map)."""
        starts = self.sections[f"{table}_at"]
        at = self.at[table]
        return self.map[at + int(starts[number]) : at + int(starts[number + 1]) - len(SEPARATOR)]

    def string(self, table: str, number: int) -> str:
        """Entry ``number`` of the string table ``table``, decoded."""
        return self.raw(table, number).decode("utf-8", "surrogatepass")

    def find(self, table: str, key: bytes) -> int | None:
        """The number of the entry ``key`` of the string table ``table``, whose entries are sorted (as bytes), or
        None (a binary search: a handful of slices of the map)."""
        low, high = 0, self.count(table)
        while low < high:
            middle = (low + high) // 2
            if self.raw(table, middle) < key:
                low = middle + 1
            else:
                high = middle
        return low if low < self.count(table) and self.raw(table, low) == key else None


class MappedSet(AbstractSet[T]):
    """The sorted string table ``table`` of ``file`` as a set of ``make(entry)`` (a str subclass, such as
    ``URIRef``): membership is a binary search of the map, not a hash table in each process."""

    def __init__(self, file: MappedSections, table: str, make: Callable[[str], T]) -> None:
        self._file, self._table, self._make = file, table, make

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and self._file.find(self._table, encode(item)) is not None

    def __iter__(self) -> Iterator[T]:
        return (self._make(self._file.string(self._table, number)) for number in range(len(self)))

    def __len__(self) -> int:
        return self._file.count(self._table)


class MappedMapping(Mapping[T, str]):
    """The sorted string table ``keys`` of ``file`` (as ``make(entry)``) mapped to the entries of the string table
    ``values`` of the same numbers: a lookup is a binary search of the map."""

    def __init__(self, file: MappedSections, keys: str, values: str, make: Callable[[str], T]) -> None:
        self._file, self._keys, self._values, self._make = file, keys, values, make

    def __getitem__(self, key: T) -> str:
        number = self._file.find(self._keys, encode(key)) if isinstance(key, str) else None
        if number is None:
            raise KeyError(key)
        return self._file.string(self._values, number)

    def __iter__(self) -> Iterator[T]:
        return (self._make(self._file.string(self._keys, number)) for number in range(len(self)))

    def __len__(self) -> int:
        return self._file.count(self._keys)

    def items(self) -> ItemsView[T, str]:
        """Every (key, value), in the file's order: one pass, not a search per key."""
        return _Items(self)


class _Items(ItemsView[T, str]):
    def __init__(self, mapping: MappedMapping[T]) -> None:
        super().__init__(mapping)
        self._source = mapping

    def __iter__(self) -> Iterator[tuple[T, str]]:
        source = self._source
        for number in range(len(source)):
            yield (
                source._make(source._file.string(source._keys, number)),
                source._file.string(source._values, number),
            )
