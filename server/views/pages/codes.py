"""A resource page's codes: its mappings grouped by code system, with links to each code's page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS
from rdflib.term import Node

from calcinosis_kg.graph.targets import TARGET_SYSTEMS
from calcinosis_kg.ontology import MAPPING_PREDICATES, SSSOM
from calcinosis_kg.server.views.pages.terms import Axioms, TermView, curie, sorted_terms, web_link


@dataclass(frozen=True)
class MappingView:
    """One mapping of the resource to a code, with its SSSOM annotation."""

    predicate: TermView
    code: str
    code_href: str | None
    code_label: str | None
    confidence: str | None
    comment: str | None
    see_also: tuple[TermView, ...]
    sources: tuple[TermView, ...]


@dataclass(frozen=True)
class CodeSystemGroup:
    """The mappings to one code system."""

    prefix: str
    name: str
    homepage: str | None
    mappings: tuple[MappingView, ...]


def mapping_groups(
    graph: Graph, iri: URIRef, axioms: Axioms, view: Callable[[Node], TermView]
) -> list[CodeSystemGroup]:
    groups: dict[str, list[MappingView]] = {}
    for predicate in MAPPING_PREDICATES:
        for target in graph.objects(iri, predicate):
            annotations = axioms.of(iri, predicate, target)

            def slot(name: str, annotations: Sequence[Node] = annotations) -> list[str]:
                return sorted({str(v) for axiom in annotations for v in graph.objects(axiom, SSSOM[name])})

            object_ids = slot("object_id")
            code = object_ids[0] if object_ids else curie(str(target))
            prefix, _, local = code.partition(":") if code else ("other", "", "")
            system = TARGET_SYSTEMS.get(prefix)
            if system is not None and system.code_url is not None and local:
                code_href: str | None = system.code_url.format(id=quote(local, safe=""))
            else:
                code_href = web_link(str(target))
            labels, confidences, comments = slot("object_label"), slot("confidence"), slot("comment")
            sources = {v for axiom in annotations for v in graph.objects(axiom, DCTERMS.source)}
            groups.setdefault(prefix, []).append(
                MappingView(
                    predicate=view(predicate),
                    code=code or str(target),
                    code_href=code_href,
                    code_label=labels[0] if labels else None,
                    confidence=confidences[0] if confidences else None,
                    comment=" ".join(comments) or None,
                    see_also=tuple(view(Literal(value)) for value in slot("see_also")),
                    sources=tuple(sorted_terms(map(view, sources))),
                )
            )
    result = []
    for prefix, mappings in groups.items():
        system = TARGET_SYSTEMS.get(prefix)
        result.append(
            CodeSystemGroup(
                prefix=prefix,
                name=system.name if system else prefix,
                homepage=system.homepage if system else None,
                mappings=tuple(sorted(mappings, key=lambda m: (m.code, m.predicate.text))),
            )
        )
    return sorted(result, key=lambda group: group.name.lower())
