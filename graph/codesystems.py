"""The code systems of the mappings: a small table computed from the Bioregistry at build time, loaded in milliseconds.

For every prefix the project checks (the keys of :data:`calcinosis_kg.graph.codes.CHECKERS`: ``SCTID``,
``ICD10CM``, ``MONDO``...) a :class:`CodeSystem` holds what code lookups need from the Bioregistry: its
Bioregistry prefix and every prefix synonym, the URI prefix of the graph's code IRIs (the Bioregistry's RDF URI
format, else its URI format: ``http://snomed.info/id/``), every other URI prefix the Bioregistry's converter knows
for the resource (OBO PURLs, identifiers.org, bioregistry.io, BioPortal...) and its "banana" (a redundant prefix
written inside local ids, ``DOID:182``). :class:`CodeSystems` holds the table and answers with it as the
Bioregistry 0.15 would (``tests/test_codesystems.py`` checks that against the installed Bioregistry):

- :meth:`CodeSystems.canonical_prefix` matches a prefix spelling as ``bioregistry.normalize_prefix`` does: after
  case-folding and removing ``' '``, ``'-'``, ``'_'``, ``'.'`` and ``'/'`` (so ``snomed``, ``SNOMEDCT_US``,
  ``SNOMED-CT`` and ``sctid`` all name ``SCTID``);
- :meth:`CodeSystems.compress` reads a code IRI in the graph's form, else as ``bioregistry.parse_iri`` does (the
  longest URI prefix of the Bioregistry's converter wins, also when it is another resource's, such as MeSH's
  ``https://id.nlm.nih.gov/mesh/vocab#``), followed by ``bioregistry.standardize_identifier`` (a banana or the
  Bioregistry prefix at the start of the local id is removed);
- :meth:`CodeSystems.expand` expands a CURIE whose prefix is a project prefix or one of its exact synonyms.

The build (:func:`bioregistry_code_systems`) computes the table from the installed Bioregistry and
``calcinosis-kg build`` writes it as ``build/code-systems.json`` (:data:`CODE_SYSTEMS_FILE`). Consumers of the
built graph (the server, the ``lookup``/``codes``/``query`` commands) use :func:`default_code_systems`, which loads
that file instead of importing the Bioregistry (about 0.65 s) and building its converter (about 1.6 s). Importing
this module never imports the Bioregistry: only :meth:`CodeSystems.from_bioregistry` does.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from calcinosis_kg.errors import CodeSyntaxError, CurationError, KGError
from calcinosis_kg.graph.codes import CHECKERS
from calcinosis_kg.paths import build_dir

__all__ = [
    "CODE_SYSTEMS_FILE",
    "CodeSystem",
    "CodeSystems",
    "CodeSystemsFileError",
    "bioregistry_code_systems",
    "default_code_systems",
    "load_code_systems",
    "prefix_key",
]

CODE_SYSTEMS_FILE = "code-systems.json"
"""Name of the table in the build directory."""

PROVENANCE = (
    "Computed by `calcinosis-kg build` (calcinosis_kg.graph.codesystems.CodeSystems.from_bioregistry) from the "
    "Bioregistry (https://bioregistry.io, CC0 1.0) of the version given in bioregistry_version: for each code "
    "system of the project's mappings, its Bioregistry prefix, name and prefix synonyms, the URI prefix of the "
    "graph's code IRIs (the RDF URI format, else the URI format), the other URI prefixes of the Bioregistry's "
    "converter and the banana of its local ids; other_uri_prefixes are the URI prefixes of other Bioregistry "
    "resources that extend one of these. Prefix spellings are matched as bioregistry.normalize_prefix matches "
    "them: case-folded, without ' ', '-', '_', '.' and '/'."
)

_PREFIX_SEPARATORS = str.maketrans("", "", " -_./")
_T = TypeVar("_T")

log = logging.getLogger(__name__)


class CodeSystemsFileError(KGError):
    """A code-systems table file is not valid JSON or lacks a field."""


def prefix_key(spelling: str) -> str:
    """The key under which the Bioregistry matches a prefix spelling: case-folded, without `` -_./``."""
    return spelling.casefold().lower().translate(_PREFIX_SEPARATORS)


@dataclass(frozen=True)
class CodeSystem:
    """One code system of the mappings, as the Bioregistry describes it."""

    prefix: str
    """The project's CURIE prefix (Mondo's and SSSOM's conventions), e.g. ``SCTID``."""
    registry_prefix: str
    """The Bioregistry's prefix, e.g. ``snomedct``."""
    name: str
    """The Bioregistry's name of the resource, e.g. ``Systematized Nomenclature of Medicine - Clinical Terms``."""
    prefix_synonyms: tuple[str, ...]
    """Every other spelling the Bioregistry gives (its own prefix and its synonyms), sorted."""
    uri_prefix: str
    """The IRI prefix of the graph's code IRIs, e.g. ``http://snomed.info/id/``."""
    uri_prefix_synonyms: tuple[str, ...]
    """Every other URI prefix of the resource in the Bioregistry's converter, sorted."""
    banana: str | None
    """The redundant prefix some sources write inside local ids (``DOID`` in ``DOID:182``), if any."""
    banana_peel: str
    """What separates the banana from the local id (``:``)."""

    @property
    def uri_prefixes(self) -> tuple[str, ...]:
        """:attr:`uri_prefix` and :attr:`uri_prefix_synonyms`."""
        return (self.uri_prefix, *self.uri_prefix_synonyms)

    def standardize_identifier(self, identifier: str) -> str:
        """``identifier`` without a leading banana or Bioregistry prefix and separator, as the Bioregistry does it.

        The separator is the banana peel or ``_`` (``DOID:182``, ``DOID_182``, ``doid_182`` all give ``182``).
        """
        folded = identifier.casefold()
        for peel in (self.banana_peel, "_"):
            with_banana = f"{self.banana}{peel}".casefold()
            if self.banana and folded.startswith(with_banana):
                return identifier[len(with_banana) :]
            if folded.startswith(f"{self.registry_prefix.casefold()}{peel}"):
                return identifier[len(self.registry_prefix) + len(peel) :]
        return identifier


class CodeSystems:
    """The code systems of the mappings with the indexes that lookups use (see the module docstring).

    Two tables are equal when their systems, other URI prefixes and Bioregistry version are.
    """

    def __init__(
        self, systems: Iterable[CodeSystem], other_uri_prefixes: Mapping[str, str], bioregistry_version: str
    ) -> None:
        """Index ``systems`` and ``other_uri_prefixes`` (URI prefix -> Bioregistry prefix of another resource).

        Raises CurationError when a prefix spelling or a URI prefix would name two code systems.
        """
        self.systems = tuple(sorted(systems, key=lambda s: s.prefix))
        self.other_uri_prefixes = dict(sorted(other_uri_prefixes.items()))
        self.bioregistry_version = bioregistry_version
        self._by_prefix = {s.prefix: s for s in self.systems}
        self._by_curie_prefix = _unique((name, s) for s in self.systems for name in (s.prefix, *s.prefix_synonyms))
        self._by_key = _unique(
            (prefix_key(name), s) for s in self.systems for name in (s.prefix, s.registry_prefix, *s.prefix_synonyms)
        )
        self._graph_uri_prefixes = _unique((s.uri_prefix, s) for s in self.systems)
        self._registry_uri_prefixes: dict[str, CodeSystem | None] = {
            **dict.fromkeys(self.other_uri_prefixes),
            **_unique((u, s) for s in self.systems for u in s.uri_prefixes),
        }
        claimed = sorted(u for u in self.other_uri_prefixes if self._registry_uri_prefixes[u] is not None)
        if claimed:
            raise CurationError(f"URI prefixes both of a code system and of another resource: {claimed}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CodeSystems):
            return NotImplemented
        return (self.systems, self.other_uri_prefixes, self.bioregistry_version) == (
            other.systems,
            other.other_uri_prefixes,
            other.bioregistry_version,
        )

    def __repr__(self) -> str:
        return f"CodeSystems({', '.join(self.prefixes)}; Bioregistry {self.bioregistry_version})"

    # ------------------------------------------------------------------------------------------ queries
    @property
    def prefixes(self) -> tuple[str, ...]:
        """The project's prefixes, sorted."""
        return tuple(self._by_prefix)

    @property
    def prefix_map(self) -> dict[str, str]:
        """Project prefix -> URI prefix of the graph's code IRIs."""
        return {s.prefix: s.uri_prefix for s in self.systems}

    def system(self, prefix: str) -> CodeSystem:
        """The code system of a project prefix (exact spelling); KeyError for any other."""
        return self._by_prefix[prefix]

    def canonical_prefix(self, spelling: str) -> str | None:
        """The project prefix of any spelling of a code system's prefix or synonym (``snomed`` -> ``SCTID``), or None.

        Spellings match as ``bioregistry.normalize_prefix`` matches them (see :func:`prefix_key`).
        """
        system = self._by_key.get(prefix_key(spelling))
        return None if system is None else system.prefix

    def expand(self, curie: str) -> str | None:
        """The graph's IRI of a CURIE whose prefix is a project prefix or one of its exact synonyms, else None."""
        prefix, sep, local = curie.partition(":")
        system = self._by_curie_prefix.get(prefix) if sep else None
        return None if system is None else system.uri_prefix + local

    def expand_strict(self, curie: str) -> str:
        """The graph's IRI of a CURIE, as :meth:`expand`; raise CodeSyntaxError when its prefix is not known."""
        iri = self.expand(curie)
        if iri is None:
            known = ", ".join(self.prefixes)
            raise CodeSyntaxError(f"{curie!r} is not a CURIE with the prefix of a known code system ({known})")
        return iri

    def compress(self, iri: str) -> str | None:
        """The CURIE (project prefix) of a code IRI, or None when no code system has it.

        The graph's own IRI forms come first (the longest matching :attr:`CodeSystem.uri_prefix`; the rest of the
        IRI is the local id as it stands). Otherwise the IRI is read as ``bioregistry.parse_iri`` reads it: the
        longest matching URI prefix among those of the code systems and :attr:`other_uri_prefixes`; an IRI under
        another resource's gives None, and the local id is standardized
        (:meth:`CodeSystem.standardize_identifier`, keeping it as it stands if that leaves nothing). The local id
        may be empty (the IRI is a bare URI prefix); it is not checked here.
        """
        found = _longest_prefix(iri, self._graph_uri_prefixes)
        if found is not None:
            uri_prefix, system = found
            return f"{system.prefix}:{iri[len(uri_prefix) :]}"
        registry = _longest_prefix(iri, self._registry_uri_prefixes)
        if registry is None:
            return None
        uri_prefix, owner = registry
        if owner is None:  # another resource's URI prefix
            return None
        identifier = iri[len(uri_prefix) :]
        return f"{owner.prefix}:{owner.standardize_identifier(identifier) or identifier}"

    # ------------------------------------------------------------------------------------------ building
    @classmethod
    def from_bioregistry(cls) -> CodeSystems:
        """The table computed from the installed Bioregistry (imported here; takes about 2 s).

        Raises CurationError when the Bioregistry does not know a project prefix or gives it no URI format ending
        in the local id.
        """
        from importlib.metadata import version

        import bioregistry

        converter = bioregistry.get_default_converter()  # the converter of bioregistry.parse_iri
        records = {record.prefix: record for record in converter.records}
        systems = []
        for prefix in sorted(CHECKERS):
            registry_prefix = bioregistry.normalize_prefix(prefix)
            if registry_prefix is None:
                raise CurationError(f"the Bioregistry does not know the prefix {prefix!r}")
            resource = bioregistry.get_resource(registry_prefix)
            uri_format = (resource.get_rdf_uri_format() or resource.get_uri_format()) if resource else None
            if resource is None or not uri_format or not uri_format.endswith("$1"):
                raise CurationError(f"the Bioregistry gives no usable URI format for {prefix!r}")
            uri_prefix = uri_format[:-2]
            record = records.get(registry_prefix)
            registry_uri_prefixes = {record.uri_prefix, *record.uri_prefix_synonyms} if record else set()
            systems.append(
                CodeSystem(
                    prefix=prefix,
                    registry_prefix=registry_prefix,
                    name=resource.get_name() or registry_prefix,
                    prefix_synonyms=tuple(sorted({registry_prefix, *resource.get_synonyms()} - {prefix})),
                    uri_prefix=uri_prefix,
                    uri_prefix_synonyms=tuple(sorted(registry_uri_prefixes - {uri_prefix})),
                    banana=resource.get_banana(),
                    banana_peel=resource.get_banana_peel(),
                )
            )
        ours = {u for s in systems for u in s.uri_prefixes}
        own = {s.registry_prefix for s in systems}
        other_uri_prefixes = {
            candidate: other.prefix
            for other in converter.records
            if other.prefix not in own
            for candidate in (other.uri_prefix, *other.uri_prefix_synonyms)
            if any(candidate.startswith(u) for u in ours)
        }
        return cls(systems, other_uri_prefixes, version("bioregistry"))

    def to_json(self) -> str:
        """The table as JSON text: sorted keys and lists, two-space indents, a final newline, no timestamp."""
        data = {
            "provenance": PROVENANCE,
            "bioregistry_version": self.bioregistry_version,
            "code_systems": [asdict(s) for s in self.systems],
            "other_uri_prefixes": self.other_uri_prefixes,
        }
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> CodeSystems:
        """The table written by :meth:`to_json`; raise CodeSystemsFileError when it is not one."""
        try:
            data = json.loads(text)
            systems = [
                CodeSystem(
                    prefix=s["prefix"],
                    registry_prefix=s["registry_prefix"],
                    name=s["name"],
                    prefix_synonyms=tuple(s["prefix_synonyms"]),
                    uri_prefix=s["uri_prefix"],
                    uri_prefix_synonyms=tuple(s["uri_prefix_synonyms"]),
                    banana=s["banana"],
                    banana_peel=s["banana_peel"],
                )
                for s in data["code_systems"]
            ]
            return cls(systems, data["other_uri_prefixes"], data["bioregistry_version"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CodeSystemsFileError(f"not a code-systems table: {type(exc).__name__}: {exc}") from exc

    def write(self, path: Path) -> None:
        """Write :meth:`to_json` to ``path``."""
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> CodeSystems:
        """Read a table written by :meth:`write`; raise CodeSystemsFileError naming the file when it is not one."""
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except CodeSystemsFileError as exc:
            raise CodeSystemsFileError(f"{path}: {exc}; rebuild it with `calcinosis-kg build`") from exc


def _unique(pairs: Iterable[tuple[str, CodeSystem]]) -> dict[str, CodeSystem]:
    """``dict(pairs)``; raise CurationError when a key names two code systems."""
    index: dict[str, CodeSystem] = {}
    for key, system in pairs:
        known = index.setdefault(key, system)
        if known.prefix != system.prefix:
            raise CurationError(f"{key!r} names two code systems: {known.prefix} and {system.prefix}")
    return index


def _longest_prefix(text: str, table: Mapping[str, _T]) -> tuple[str, _T] | None:
    """The longest key of ``table`` that ``text`` starts with, and its value; None if there is none."""
    prefix = max((p for p in table if text.startswith(p)), key=len, default=None)
    return None if prefix is None else (prefix, table[prefix])


# ---------------------------------------------------------------------------------------------- defaults
@functools.cache
def bioregistry_code_systems() -> CodeSystems:
    """The table computed from the installed Bioregistry, once per process: what the build uses and writes."""
    return CodeSystems.from_bioregistry()


def load_code_systems(path: Path) -> CodeSystems:
    """The table at ``path``, else (no file, or a table for other prefixes) :func:`bioregistry_code_systems`.

    Falling back logs one INFO line saying why start-up is slower. A file that is not a table raises
    CodeSystemsFileError.
    """
    if not path.is_file():
        log.info(
            "no code-systems table at %s (written by `calcinosis-kg build`): computing it from the Bioregistry, "
            "which takes about 2 s (importing the Bioregistry and building its converter)",
            path,
        )
        return bioregistry_code_systems()
    systems = CodeSystems.load(path)
    if set(systems.prefixes) != set(CHECKERS):
        log.info(
            "the code-systems table at %s is stale (its prefixes %s are not the project's %s): computing it from "
            "the Bioregistry, which takes about 2 s (importing the Bioregistry and building its converter)",
            path,
            ", ".join(systems.prefixes),
            ", ".join(sorted(CHECKERS)),
        )
        return bioregistry_code_systems()
    return systems


@functools.cache
def default_code_systems() -> CodeSystems:
    """The table lookups use unless given one, once per process: :data:`CODE_SYSTEMS_FILE` of the build directory.

    That is the table the built graph was made with (``build/`` or ``$KG_BUILD_DIR``); without it, the table is
    computed from the Bioregistry (see :func:`load_code_systems`).
    """

    return load_code_systems(build_dir() / CODE_SYSTEMS_FILE)
