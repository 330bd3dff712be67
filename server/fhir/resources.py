"""The graph as FHIR terminology: a CodeSystem of its entities, ValueSets defined over it, ConceptMaps of its mappings.

The resources are computed from the served graph by SPARQL SELECT queries run through the query pool
(:meth:`~calcinosis_kg.server.workers.pool.QueryPool.run`), so they have the time limit and the result cache
of every other answer; :class:`GraphTerminology` runs them once, on the first FHIR request of a server process
(after granian has forked it), and keeps the resources (a few hundred concepts) in memory.

- **CodeSystem** ``https://w3id.org/calcinosis-kg/id`` (the system URI of the static ConceptMap export): one
  concept per entity with an English ``skos:prefLabel`` (code = the IRI's local name, display = the label,
  definition = ``skos:definition``), designations for its synonyms (``skos:altLabel``, use "Synonym") and for
  nothing else: a source's own wording that is not a synonym (``skos:hiddenLabel``) is never a designation, so that
  no client shows it as a name of the concept, properties ``parent``/``child`` (the *stated* subtype links of
  :data:`~calcinosis_kg.ontology.subtypes.STATED_SUBTYPE_LINKS`, reduced to direct links: a link the knowledge marks
  disputed or suspected, such as calciphylaxis under calcinosis cutis, is no ``is-a``), ``type`` (each ``cco:``
  class, with the superclasses), ``inactive`` (always false: the graph retires nothing) and its mappings
  (``exactMatch``... ``relatedMatch``, each a Coding of the code; see
  :func:`~calcinosis_kg.server.fhir.mapsets.mapping_properties`). ``hierarchyMeaning`` is ``is-a``
  (``cco:subtypeOf`` relates a form of a condition to the broader condition) and ``content`` is ``complete``.
- **ValueSets**: every entity (``?fhir_vs``); one per ``cco:`` class that has members (a ``type = Class``
  filter); one per condition with causes, listing the causes (competency question "what causes X?"); one per
  condition with subtypes (an ``is-a`` filter).
- **Earlier releases**: the CodeSystem of each release snapshot committed under ``releases/`` (``docs/releases.md``),
  built by the same queries run by pyoxigraph over the snapshot in memory, version = its ``owl:versionInfo``, id
  ``calcinosis-kg-{version}``, so that a client can look up or validate a code in the release it was coded with;
  a snapshot that cannot be read is logged and left out.
- **ConceptMaps**: one per target code system of the curated mappings (SNOMED CT, ICD-10-CM, ICD-11, Mondo,
  HPO...), the SKOS predicate as the R4 ``equivalence`` (:data:`~calcinosis_kg.graph.targets.FHIR_EQUIVALENCE`),
  the SSSOM comment, confidence, justification and evidence links in the target's ``comment``.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from calcinosis_kg.graph.release import SNAPSHOT_NAME
from calcinosis_kg.ontology import CCO
from calcinosis_kg.ontology.subtypes import STATED_SUBTYPE_LINKS
from calcinosis_kg.paths import RELEASES_DIR
from calcinosis_kg.server.engines.common import QUERY_PREFIXES
from calcinosis_kg.server.engines.contract import Job
from calcinosis_kg.server.fhir.canonical import BASE, CODE_SYSTEM_URL, VALUE_SET_BASE, Rows, local
from calcinosis_kg.server.fhir.mapsets import (
    closure,
    concept_maps,
    direct_parents,
    mapping_properties,
    mapping_property_definitions,
    value_sets,
)
from calcinosis_kg.server.fhir.model import JSON, Registry
from calcinosis_kg.server.workers.pool import QueryPool

log = logging.getLogger(__name__)

DESIGNATION_USE = "http://snomed.info/sct"
SYNONYM_USE = {"system": DESIGNATION_USE, "code": "900000000000013009", "display": "Synonym"}


QUERIES: dict[str, str] = {
    "entities": """SELECT ?e ?label ?definition WHERE {
  ?e skos:prefLabel ?label . FILTER(STRSTARTS(STR(?e), STR(cc:)))
  FILTER(LANGMATCHES(LANG(?label), "en") || LANG(?label) = "")
  OPTIONAL { ?e skos:definition ?definition } }""",
    "synonyms": "SELECT ?e ?alt WHERE { ?e skos:altLabel ?alt . FILTER(STRSTARTS(STR(?e), STR(cc:))) }",
    "types": """SELECT ?e ?type WHERE {
  ?e a ?type . FILTER(STRSTARTS(STR(?e), STR(cc:))) FILTER(STRSTARTS(STR(?type), STR(cco:))) }""",
    "classes": """SELECT ?class ?super ?label WHERE {
  ?class a owl:Class . FILTER(STRSTARTS(STR(?class), STR(cco:)))
  OPTIONAL { ?class rdfs:subClassOf ?super . FILTER(STRSTARTS(STR(?super), STR(cco:))) }
  OPTIONAL { ?class rdfs:label ?label } }""",
    "subtypes": STATED_SUBTYPE_LINKS,
    "causes": "SELECT ?e ?cause WHERE { ?e cco:hasCause ?cause . FILTER(STRSTARTS(STR(?e), STR(cc:))) }",
    "version": "SELECT ?version WHERE { ?o a owl:Ontology ; owl:versionInfo ?version }",
    "mappings": """SELECT ?e ?predicate ?code ?label ?confidence ?comment ?justification ?date WHERE {
  VALUES ?predicate { skos:exactMatch skos:closeMatch skos:broadMatch skos:narrowMatch skos:relatedMatch }
  ?e ?predicate ?target . FILTER(STRSTARTS(STR(?e), STR(cc:)))
  ?axiom owl:annotatedSource ?e ; owl:annotatedProperty ?predicate ; owl:annotatedTarget ?target ;
         sssom:object_id ?code .
  OPTIONAL { ?axiom sssom:object_label ?label }
  OPTIONAL { ?axiom sssom:confidence ?confidence }
  OPTIONAL { ?axiom sssom:comment ?comment }
  OPTIONAL { ?axiom sssom:mapping_justification ?justification }
  OPTIONAL { ?axiom sssom:mapping_date ?date } }""",
}
"""The SELECT queries the terminology is built from (the engines predeclare the project's prefixes, ``cc:`` and
``cco:`` included: see :data:`~calcinosis_kg.server.engines.common.QUERY_PREFIXES`)."""


def run_select(pool: QueryPool, name: str) -> Rows:
    """The rows of query ``name`` of :data:`QUERIES`, run in ``pool``, as ``{variable: lexical form}``."""
    job = Job(query=QUERIES[name], base=BASE, accept="application/sparql-results+json")
    answer = pool.run(job)
    results = json.loads(answer.body)
    return [{key: cell["value"] for key, cell in row.items()} for row in results["results"]["bindings"]]


def build_resources(select: Callable[[str], Rows]) -> list[JSON]:
    """The graph's CodeSystem, ValueSets and ConceptMaps, from the answers of ``select`` (a query name -> rows)."""
    versions = [row["version"] for row in select("version")]
    version = versions[0] if versions else "0"
    entities = {local(r["e"]): r for r in select("entities")}
    synonyms: dict[str, list[str]] = defaultdict(list)
    for row in select("synonyms"):
        synonyms[local(row["e"])].append(row["alt"])
    superclasses: dict[str, set[str]] = defaultdict(set)
    class_labels: dict[str, str] = {}
    for row in select("classes"):
        name = local(row["class"], str(CCO))
        class_labels.setdefault(name, row.get("label") or name)
        if row.get("super"):
            superclasses[name].add(local(row["super"], str(CCO)))
    types: dict[str, set[str]] = defaultdict(set)
    for row in select("types"):
        name = local(row["type"], str(CCO))
        types[local(row["e"])] |= {name, *closure(name, superclasses)}
    parents: dict[str, set[str]] = defaultdict(set)
    for row in select("subtypes"):
        child, parent = local(row["child"]), local(row["parent"])
        if child in entities and parent in entities and child != parent:
            parents[child].add(parent)
    parents = direct_parents(parents)
    children: dict[str, list[str]] = defaultdict(list)
    for child, ups in parents.items():
        for parent in ups:
            children[parent].append(child)
    causes: dict[str, list[str]] = defaultdict(list)
    for row in select("causes"):
        if local(row["cause"]) in entities:
            causes[local(row["e"])].append(local(row["cause"]))
    mappings = select("mappings")
    mapped = mapping_properties(mappings)

    concepts = []
    for code in sorted(entities):
        row = entities[code]
        concept: JSON = {"code": code, "display": row["label"]}
        if row.get("definition"):
            concept["definition"] = row["definition"]
        designations = []
        for alt in sorted(set(synonyms.get(code, []))):
            designations.append({"language": "en", "use": dict(SYNONYM_USE), "value": alt})
        if designations:
            concept["designation"] = designations
        properties: list[JSON] = [{"code": "parent", "valueCode": p} for p in sorted(parents.get(code, ()))]
        properties += [{"code": "child", "valueCode": c} for c in sorted(children.get(code, ()))]
        properties += [{"code": "type", "valueCode": t} for t in sorted(types.get(code, ()))]
        properties.append({"code": "inactive", "valueBoolean": False})
        properties += mapped.get(code, [])
        concept["property"] = properties
        concepts.append(concept)
    code_system: JSON = {
        "resourceType": "CodeSystem",
        "id": "calcinosis-kg",
        "url": CODE_SYSTEM_URL,
        "version": version,
        "name": "CalcinosisKG",
        "title": "Calcinosis cutis knowledge graph entities",
        "status": "active",
        "experimental": False,
        "publisher": "Calcinosis KG team",
        "description": (
            "The entities of the calcinosis cutis knowledge graph: conditions, subtypes, causes, symptoms, body "
            "sites, tests and treatments. Code = the local name of the entity's IRI (https://w3id.org/"
            "calcinosis-kg/id/{code}); display = its preferred label; designations = its synonyms."
        ),
        "caseSensitive": True,
        "valueSet": f"{VALUE_SET_BASE}/all",
        "hierarchyMeaning": "is-a",
        "compositional": False,
        "versionNeeded": False,
        "content": "complete",
        "count": len(concepts),
        "property": [
            {
                "code": "parent",
                "uri": "http://hl7.org/fhir/concept-properties#parent",
                "type": "code",
                "description": "A broader condition this one is a form of (cco:subtypeOf), stated as fact",
            },
            {
                "code": "child",
                "uri": "http://hl7.org/fhir/concept-properties#child",
                "type": "code",
                "description": "A form of this condition (cco:hasSubtype), stated as fact",
            },
            {
                "code": "type",
                "uri": f"{CCO}",
                "type": "code",
                "description": "A class of the ontology the entity belongs to (cco: local name), superclasses included",
            },
            {
                "code": "inactive",
                "uri": "http://hl7.org/fhir/concept-properties#inactive",
                "type": "boolean",
                "description": "Whether the concept is inactive (the graph retires no entity)",
            },
            *mapping_property_definitions(),
        ],
        "concept": concepts,
    }
    sets = value_sets(version, entities, types, class_labels, causes, children)
    maps = concept_maps(version, entities, mappings)
    return [code_system, *sets, *maps]


# ------------------------------------------------------------------ the CodeSystem of each earlier release
PROLOGUE = "".join(f"PREFIX {prefix}: <{namespace}>\n" for prefix, namespace in QUERY_PREFIXES.items())
"""The prefixes the served graph's queries may use undeclared, declared for pyoxigraph."""


def _select(store: ox.Store, name: str) -> Rows:
    """The rows of query ``name`` of :data:`QUERIES` over ``store``, as ``{variable: lexical form}`` (bound ones)."""
    solutions = store.query(PROLOGUE + QUERIES[name])
    if not isinstance(solutions, ox.QuerySolutions):
        raise ValueError(f"query {name} is not a SELECT")
    names = [variable.value for variable in solutions.variables]
    rows: Rows = []
    for solution in solutions:
        row = {}
        for variable in names:
            term = solution[variable]
            if term is not None:
                row[variable] = str(term.value)
        rows.append(row)
    return rows


def snapshot_code_system(path: Path) -> JSON:
    """The graph's CodeSystem as the release snapshot at ``path`` has it."""
    store = ox.Store()
    with gzip.open(path, "rb") as handle:
        store.load(handle.read(), format=ox.RdfFormat.N_TRIPLES)
    code_system = next(
        r for r in build_resources(lambda name: _select(store, name)) if r["resourceType"] == "CodeSystem"
    )
    code_system["id"] = f"{code_system['id']}-{code_system['version']}"
    return code_system


def release_code_systems(current: str | None, releases_dir: Path = RELEASES_DIR) -> list[JSON]:
    """The graph's CodeSystem in each release snapshot under ``releases_dir`` whose version is not ``current``."""
    found: list[JSON] = []
    for path in sorted(releases_dir.glob(f"*/{SNAPSHOT_NAME}")):
        try:
            code_system = snapshot_code_system(path)
        except (OSError, ValueError, SyntaxError, StopIteration) as error:
            log.warning("FHIR terminology: release snapshot %s left out: %s", path, error)
            continue
        if code_system.get("version") != current:
            found.append(code_system)
    return found


class GraphTerminology:
    """The graph's terminology resources, computed through the pool on first use and kept."""

    def __init__(self, pool: QueryPool) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._registry: Registry | None = None

    def registry(self) -> Registry:
        """The registry of the graph's resources (built by the first call, in this process)."""
        if self._registry is None:
            with self._lock:
                if self._registry is None:
                    resources = build_resources(lambda name: run_select(self._pool, name))
                    version = next(r.get("version") for r in resources if r["resourceType"] == "CodeSystem")
                    resources += release_code_systems(version)
                    self._registry = Registry.of(resources)
                    log.info("FHIR terminology: %d resources from the graph", len(resources))
        return self._registry

    @property
    def time_limit(self) -> float:
        """Seconds an operation may take: the pool's query time limit (``KG_QUERY_TIMEOUT``)."""
        return self._pool.timeout

    def resources(self, kind: str) -> list[JSON]:
        """The graph's resources of type ``kind``."""
        return self.registry().resources(kind)


def describe(resource: JSON) -> dict[str, Any]:
    """A resource's identifying elements (for logs and listings)."""
    return {key: resource.get(key) for key in ("resourceType", "id", "url", "version")}
