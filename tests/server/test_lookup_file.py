"""The lookup index of a serving bundle, memory-mapped (server/resources/lookup_file.py): the in-memory index's
answers, read in place."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from rdflib import Graph

from calcinosis_kg.server.resources.labels import LabelIndex
from calcinosis_kg.server.resources.lookup_file import MappedLabelIndex, write_lookup


@pytest.fixture(scope="module")
def indexes(built_graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> tuple[LabelIndex, MappedLabelIndex]:
    index = LabelIndex.from_graph(built_graph)
    path = tmp_path_factory.mktemp("lookup") / "lookup.bin"
    write_lookup(index, path)
    return index, MappedLabelIndex(path)


def _lookups(index: LabelIndex) -> list[str]:
    """Words, codes in several forms, case and spaces, no match, one letter, and random parts of indexed texts."""
    texts, codes = index.parts()
    chosen = random.Random(28)  # noqa: S311 (a fixed sample of lookups, not a secret)
    return [
        "calcinosis",
        "  Calcinosis   CUTIS ",
        "lupus",
        "ICD10CM:L94.2",
        "icd10cm:l94.2",
        "L94.2",
        "no such entity at all",
        "e",
        "ß",
        "calcinosis\0cutis",
        *(str(iri) for iri, _ in codes[:25]),
        *(text.text[: chosen.randint(1, len(text.text))] for text in chosen.sample(texts, 60)),
        *(text.text[chosen.randint(0, len(text.text) - 1) :] for text in chosen.sample(texts, 60)),
    ]


def test_the_mapped_index_answers_as_the_index_in_memory(indexes: tuple[LabelIndex, MappedLabelIndex]) -> None:
    index, mapped = indexes
    assert mapped.size == index.size
    assert mapped.parts() == index.parts()
    found = 0
    for text in _lookups(index):
        for limit in (1, 10, 100):
            expected = index.search(text, limit)
            assert mapped.search(text, limit) == expected, (text, limit)
            found += bool(expected)
    assert found > 300  # most lookups find something: the comparison is not of empty lists


def test_another_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lookup.bin"
    path.write_bytes(b"not an index\n")
    with pytest.raises(ValueError, match="is not a lookup index"):
        MappedLabelIndex(path)
