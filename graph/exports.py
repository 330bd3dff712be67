"""Release exports of the graph's code mappings: an SSSOM TSV mapping set and a FHIR R4 ConceptMap to SNOMED CT.

Both are generated from the built graph (the SKOS mapping triples and the SSSOM slots of their ``owl:Axiom``
annotations, read by :func:`calcinosis_kg.graph.lookup.graph_mappings`), not copied from the curated file, so that
they publish exactly what the graph asserts. Code systems and their IRI prefixes are those the build computes from
the Bioregistry (:func:`calcinosis_kg.graph.codesystems.bioregistry_code_systems`). Both functions are pure and
deterministic: rows and elements are sorted, and the only dates are dates stored in the graph (mapping dates, the
ontology's dcterms:modified).
"""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import yaml
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, OWL, SKOS

from calcinosis_kg.errors import CurationError
from calcinosis_kg.graph.codesystems import bioregistry_code_systems
from calcinosis_kg.graph.lookup import GraphMapping, graph_mappings, label_of
from calcinosis_kg.graph.mappings import SSSOM_COLUMNS
from calcinosis_kg.graph.targets import FHIR_EQUIVALENCE, TARGET_SYSTEMS
from calcinosis_kg.ontology import BASE, CC, ONTOLOGY_IRI, SEMAPV, SOURCE_SYSTEM

if TYPE_CHECKING:
    import curies

__all__ = [
    "SSSOM_COLUMNS",
    "fhir_conceptmap",
    "sssom_tsv",
]

# ---------------------------------------------------------------------------------------------- SSSOM
MAPPING_SET_ID = "https://w3id.org/calcinosis-kg/mappings/calcinosis-kg.sssom.tsv"
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
KG_PREFIX = "calcinosiskg"
"""CURIE prefix of the knowledge graph's base IRI, used for ``subject_source`` (an SSSOM entity reference)."""

_EXTRA_PREFIXES: dict[str, str] = {
    "cc": str(CC),
    KG_PREFIX: BASE,
    "orcid": "https://orcid.org/",
    "semapv": str(SEMAPV),
    "skos": str(SKOS),
}
"""Prefixes besides the code systems' that SSSOM entity references may use (only those used are written)."""


def _ontology_value(graph: Graph, prop: URIRef) -> str | None:
    value = graph.value(URIRef(ONTOLOGY_IRI), prop)
    return None if value is None else str(value)


def _version(graph: Graph) -> str:
    version = _ontology_value(graph, OWL.versionInfo)
    if version is None:
        raise CurationError(f"the graph has no owl:versionInfo for <{ONTOLOGY_IRI}>: cannot version the exports")
    return version


def _converter() -> curies.Converter:
    import curies  # imported here: it costs ~80 ms (pydantic), and the server imports this module via graph.build

    prefixes = [*bioregistry_code_systems().prefix_map.items(), *_EXTRA_PREFIXES.items()]
    return curies.Converter(curies.Record(prefix=p, uri_prefix=u) for p, u in prefixes)


def _cell(text: str) -> str:
    """A TSV cell: runs of whitespace (tabs, newlines) collapsed to one space."""
    return re.sub(r"\s+", " ", text).strip()


def _confidence(value: float | None) -> str:
    return "" if value is None else format(value, "g")


def sssom_tsv(graph: Graph) -> str:
    """The graph's mappings as an SSSOM TSV mapping set (YAML metadata block, then one row per mapping).

    Columns :data:`SSSOM_COLUMNS`, rows sorted by subject, object and predicate. Entity references are CURIEs
    whose prefixes are all declared in ``curie_map`` (exactly those used: the code systems' with their
    Bioregistry IRI prefixes, ``cc``, ``skos``, ``semapv``, ``orcid`` if an author is an ORCID, and
    ``calcinosiskg`` for ``subject_source``). ``see_also`` is multivalued, ``|``-separated (a ``|`` inside a URL
    is percent-encoded); whitespace runs in text cells are collapsed. ``mapping_set_version`` is the ontology's
    ``owl:versionInfo`` and ``publication_date`` its ``dcterms:modified``. There is no set-level ``mapping_date``:
    it is a propagatable slot, and every row has its own (sssom-py refuses to propagate over row values and
    warns). Raises CurationError when the graph has no version or an entity reference has no known prefix.
    """
    converter = _converter()
    used: set[str] = set()

    def curie(iri: str) -> str:
        compressed = converter.compress(iri, strict=False, passthrough=False)
        if compressed is None:
            raise CurationError(f"<{iri}> has no known CURIE prefix: cannot write it to the SSSOM mapping set")
        used.add(compressed.split(":", 1)[0])
        return compressed

    mappings = graph_mappings(graph, systems=bioregistry_code_systems())
    rows = []
    for m in mappings:
        used.add(m.system)
        rows.append(
            {
                "subject_id": curie(str(m.subject)),
                "subject_label": _cell(m.subject_label),
                "predicate_id": curie(str(SKOS) + m.predicate.removeprefix("skos:")),
                "object_id": m.object_id,
                "object_label": _cell(m.object_label),
                "mapping_justification": curie(str(m.justification)),
                "author_id": "|".join(curie(str(a)) for a in m.authors),
                "mapping_date": m.mapping_date,
                "confidence": _confidence(m.confidence),
                "see_also": "|".join(_cell(s).replace("|", "%7C") for s in m.see_also),
                "comment": _cell(m.comment),
            }
        )
    rows.sort(key=lambda r: (r["subject_id"], r["object_id"], r["predicate_id"]))
    creators = sorted({curie(str(a)) for m in mappings for a in m.authors})
    subject_source = curie(ONTOLOGY_IRI)
    all_prefixes = {r.prefix: r.uri_prefix for r in converter.records}
    metadata: dict[str, Any] = {
        "curie_map": {p: all_prefixes[p] for p in sorted(used)},
        "mapping_set_id": MAPPING_SET_ID,
        "mapping_set_version": _version(graph),
        "mapping_set_title": "Calcinosis cutis knowledge graph - mappings to standard code systems",
        "mapping_set_description": (
            "Mappings from the clinical entities of the calcinosis cutis knowledge graph (cc:) to standard code "
            "systems, generated from the graph's SKOS mapping triples and the SSSOM slots of their owl:Axiom "
            "annotations. see_also names the public material in which each code was seen with its term."
        ),
        "license": LICENSE,
        "creator_id": creators,
        "publication_date": _ontology_value(graph, DCTERMS.modified),
        "subject_type": "owl named individual",
        "subject_source": subject_source,
        "subject_source_version": _version(graph),
        "comment": (
            "Codes of SNOMED CT, UMLS, LOINC, RxNorm and ATC are identifiers only; their content is licensed by "
            "their owners (SNOMED International, NLM, Regenstrief Institute, WHO Collaborating Centre for Drug "
            "Statistics Methodology)."
        ),
    }
    if metadata["publication_date"] is None:
        del metadata["publication_date"]
    header = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True, width=1000)
    out = io.StringIO()
    out.writelines(f"# {line}\n" for line in header.splitlines())
    out.write("\t".join(SSSOM_COLUMNS) + "\n")
    out.writelines("\t".join(row[c] for c in SSSOM_COLUMNS) + "\n" for row in rows)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------- FHIR
CONCEPTMAP_ID = "calcinosis-kg-to-snomedct"
CONCEPTMAP_URL = f"https://w3id.org/calcinosis-kg/fhir/ConceptMap/{CONCEPTMAP_ID}"
SNOMED_SYSTEM = TARGET_SYSTEMS["SCTID"].fhir_system
SNOMED_ALL_CONCEPTS = f"{SNOMED_SYSTEM}?fhir_vs"
"""The implicit value set of every SNOMED CT concept (FHIR: Using SNOMED CT with FHIR, implicit value sets)."""

_EQUIVALENCE_SENSE: dict[str, str] = {
    "inexact": "the SNOMED CT concept overlaps {label!r} but their boundaries differ (skos:closeMatch).",
    "wider": "the SNOMED CT concept is broader in meaning than {label!r} (skos:broadMatch).",
    "narrower": "the SNOMED CT concept is narrower in meaning than {label!r}: it covers only part of it "
    "(skos:narrowMatch).",
    "relatedto": "the SNOMED CT concept is associated with {label!r} but neither equivalent nor broader or "
    "narrower (skos:relatedMatch).",
}


def _target(m: GraphMapping) -> dict[str, str]:
    equivalence = FHIR_EQUIVALENCE[m.predicate]
    target = {"code": m.local_id}
    if m.object_label:
        target["display"] = m.object_label
    target["equivalence"] = equivalence
    if equivalence != "equivalent":
        sense = _EQUIVALENCE_SENSE[equivalence].format(label=m.subject_label)
        target["comment"] = _cell(f"{equivalence.capitalize()}: {sense} {m.comment}")
    return target


def fhir_conceptmap(graph: Graph) -> str:
    """A FHIR R4 ConceptMap (JSON text) from the graph's entities to SNOMED CT, generated from its mappings.

    One group (source system ``https://w3id.org/calcinosis-kg/id``, target ``http://snomed.info/sct``), one
    element per entity with at least one SNOMED CT mapping (code = local id, display = ``skos:prefLabel``),
    one target per mapping (code = SCTID, display = the SSSOM ``object_label``, equivalence per
    :data:`FHIR_EQUIVALENCE`, and a comment stating the sense of every non-equivalent map followed by the
    curator's comment). ``sourceUri`` is the value set of all graph entities and ``targetUri`` the implicit
    value set of all SNOMED CT concepts (R4 ``source[x]``/``target[x]`` name value sets; the code systems are
    in the group). Version = ontology ``owl:versionInfo``, date = latest SNOMED CT mapping date. Elements and
    targets are sorted; the text ends with a newline.
    """
    version = _version(graph)
    snomed = [m for m in graph_mappings(graph, systems=bioregistry_code_systems()) if m.system == "SCTID"]
    by_entity: dict[URIRef, list[GraphMapping]] = defaultdict(list)
    for m in snomed:
        by_entity[m.subject].append(m)
    elements = []
    for subject in sorted(by_entity, key=lambda s: s.removeprefix(str(CC))):
        targets = sorted((_target(m) for m in by_entity[subject]), key=lambda t: (t["code"], t["equivalence"]))
        element: dict[str, Any] = {"code": subject.removeprefix(str(CC))}
        label = label_of(graph, subject)
        if label:
            element["display"] = label
        element["target"] = targets
        elements.append(element)
    resource: dict[str, Any] = {
        "resourceType": "ConceptMap",
        "id": CONCEPTMAP_ID,
        "url": CONCEPTMAP_URL,
        "version": version,
        "name": "CalcinosisKGToSNOMEDCT",
        "title": "Calcinosis cutis knowledge graph entities to SNOMED CT",
        "status": "active",
        "experimental": False,
    }
    dates = sorted(m.mapping_date for m in snomed if m.mapping_date)
    if dates:
        resource["date"] = dates[-1]
    publisher = _ontology_value(graph, DCTERMS.creator)
    if publisher:
        resource["publisher"] = publisher
    resource.update(
        {
            "description": (
                "Maps the entities of the calcinosis cutis knowledge graph to SNOMED CT concepts. Generated from "
                "the graph's SKOS mappings (skos:exactMatch, closeMatch, broadMatch, narrowMatch, relatedMatch) "
                "and their SSSOM evidence; equivalence is read from the graph entity to the SNOMED CT concept."
            ),
            "copyright": (
                f"This map: CC BY 4.0 ({LICENSE}). SNOMED CT identifiers and terms are the property of SNOMED "
                "International; their use requires a SNOMED CT licence (an IHTSDO Affiliate licence or a Member "
                "country's national licence)."
            ),
            "sourceUri": f"{SOURCE_SYSTEM}?fhir_vs",
            "targetUri": SNOMED_ALL_CONCEPTS,
            "group": [
                {
                    "source": SOURCE_SYSTEM,
                    "sourceVersion": version,
                    "target": SNOMED_SYSTEM,
                    "element": elements,
                }
            ],
        }
    )
    if not elements:
        del resource["group"]
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"
