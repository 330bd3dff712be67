"""A replica holds no copy of its serving bundle's data (issue 28): the canned answers and the linked-data index are
mapped from the bundle's files (the OS page cache's pages, one copy for every process and replica of the machine),
not read into each replica's heap.

On a real production server on the built dataset's bundle: its process memory is read from ``/proc`` (the anonymous
mappings of the process that loaded the bundle, searched for the bundle's answers and labels) and its mappings
listed; the answers it serves are still the bundle's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest
import requests

from calcinosis_kg.server.http.replay import ANSWER_HEADER
from calcinosis_kg.server.resources.bundle import Manifest, open_fresh, write_bundle
from tests.support.live_server import PRODUCTION, live_server
from tests.support.store_server import engine_under_test

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(engine_under_test() == "sparql", reason="the embedded engine's serving bundle"),
]

SAMPLE = 60
"""Labels searched for in the server's memory (each search reads all of it)."""
ENTITIES = "https://w3id.org/calcinosis-kg/id/"
ASCII_HEADER = sys.getsizeof("") - 1 - 16
"""Bytes from the length field of a compact ASCII ``str`` (``PyASCIIObject``, after the object's 16-byte head) to
its text (32 on CPython 3.11): the header's size is that of the empty string less its NUL terminator."""


@pytest.fixture(scope="module")
def bundle(build_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("replica-memory") / "bundle"
    write_bundle((build_dir / "calcinosis-kg.nq",), folder, union_default_graph=True)
    return folder


def _anonymous_memory(pid: int) -> bytes:
    """Every readable anonymous mapping of process ``pid`` (its heaps: Python's objects), concatenated."""
    parts = []
    with open(f"/proc/{pid}/maps", encoding="utf-8") as maps, open(f"/proc/{pid}/mem", "rb", 0) as memory:
        for line in maps:
            fields = line.split()
            if not fields[1].startswith("r") or (len(fields) > 5 and fields[5] != "[heap]"):
                continue  # unreadable, or a file's pages (the bundle's mapped files among them), or the stack
            start, end = (int(address, 16) for address in fields[0].split("-"))
            try:
                memory.seek(start)
                parts.append(memory.read(end - start))
            except OSError:  # a guard page, or unmapped meanwhile
                continue
    return b"".join(parts)


def _holds_str(memory: bytes, text: bytes) -> bool:
    """Whether ``memory`` holds a Python ``str`` object of the ASCII ``text``: the text, its NUL terminator, and
    32 bytes before it the length field of CPython's compact ASCII header (the same text elsewhere, in a query's
    text, a docstring or the store's cached blocks, is not a copy of the index)."""
    length = len(text).to_bytes(8, "little")
    at = memory.find(text + b"\0")
    while at >= 0:
        if at >= ASCII_HEADER and memory[at - ASCII_HEADER : at - ASCII_HEADER + 8] == length:
            return True
        at = memory.find(text + b"\0", at + 1)
    return False


def _mapped_files(pid: int) -> set[str]:
    with open(f"/proc/{pid}/maps", encoding="utf-8") as maps:
        return {fields[5] for fields in map(str.split, maps) if len(fields) > 5}


def test_a_replica_maps_the_canned_answers_and_linked_data_index_instead_of_copying_them(
    bundle: Path, build_dir: Path, tmp_path: Path
) -> None:
    manifest = Manifest.read(bundle)
    assert manifest is not None
    opened = open_fresh(bundle, manifest, "never")  # what the server reads, as this process reads it
    answers = opened.canned_answers.answers
    bodies = [body for body, _ in answers.values() if len(body) >= 256]
    labels = [
        label.encode()
        for iri, label in opened.linked_data.labels.items()
        if iri.startswith(ENTITIES) and len(label) >= 12 and label.isascii()  # the data's, not the ontology's
    ]
    sample = sorted(labels)[:: max(1, len(labels) // SAMPLE)][:SAMPLE]  # spread over the labels
    assert len(bodies) > 50  # a real search, not of nothing
    assert len(sample) == SAMPLE
    settings = {"KG_UNION_DEFAULT_GRAPH": "true", "KG_BUNDLE": str(bundle), "KG_STORE_IN_MEMORY": "never"}
    with live_server(tmp_path, [build_dir / "calcinosis-kg.nq"], settings, *PRODUCTION) as server:
        loaded = server.process.pid  # granian's main process: it opened the bundle, its workers are its forks
        memory = _anonymous_memory(loaded)
        copied_answers = sum(body in memory for body in bodies)
        copied_labels = sum(_holds_str(memory, label) for label in sample)
        mapped = {Path(path).name for path in _mapped_files(loaded) if path.startswith(str(bundle.resolve()))}
        key = min(key for key in answers if key[2] == "csv")
        served = requests.get(f"{server.url}/queries/{key[0]}", headers={"Accept": "text/csv"}, timeout=30)
    assert len(memory) > 10_000_000  # the process's heaps were read (Python's objects, the modules' among them)
    assert copied_answers == 0, f"{copied_answers} of {len(bodies)} canned answers in the heap"
    assert copied_labels <= SAMPLE // 10, f"{copied_labels} of {SAMPLE} labels in the heap"
    assert {"canned.bin", "linked-data.bin"} <= mapped, mapped  # the bundle's files, mapped instead
    assert served.status_code == 200
    assert served.headers[ANSWER_HEADER] == "bundle"
    assert served.content == answers[key][0]


def _bytes_read(pid: int) -> int:
    """What process ``pid`` has read by system calls (files, the page cache's included: ``rchar``)."""
    with open(f"/proc/{pid}/io", encoding="ascii") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("rchar:"))


def test_a_replica_reads_its_ontology_document_from_the_bundle_not_every_triple_of_the_store(
    bundle: Path, build_dir: Path, tmp_path: Path
) -> None:
    """The ontology page (and a resource page's class context, the editor's terms) needs the ontology document:
    made from the store it reads every triple (at a million triples 32 s and 58 MB in each granian worker)."""
    store = sum(path.stat().st_size for path in (bundle / "store").glob("*.sst"))
    document = (bundle / "ontology.nt").stat().st_size if (bundle / "ontology.nt").is_file() else 0
    settings = {"KG_UNION_DEFAULT_GRAPH": "true", "KG_BUNDLE": str(bundle), "KG_STORE_IN_MEMORY": "never"}
    with live_server(tmp_path, [build_dir / "calcinosis-kg.nq"], settings, *PRODUCTION) as server:
        (worker,) = psutil.Process(server.process.pid).children()  # --workers 1: the one granian worker
        assert requests.get(f"{server.url}/health", timeout=30).status_code == 200
        before = _bytes_read(worker.pid)
        served = requests.get(f"{server.url}/ontology", headers={"Accept": "application/n-triples"}, timeout=60)
        read = _bytes_read(worker.pid) - before
    assert served.status_code == 200
    assert len(served.content.splitlines()) > 500  # the whole ontology (1,000 triples)
    assert store > 1_000_000  # a scan of it would be seen
    # a scan of every triple reads an index of the store and the strings it names: 0.72 of its 1.9 MB here, against
    # 0.19 MB for the document (0.15 MB) and the page's own files
    assert read < store // 5, f"the granian worker read {read:,} bytes for the ontology (the store: {store:,})"
    assert 0 < document < store // 4
