"""Subtype links: the one rule for which ``cco:hasSubtype`` / ``cco:subtypeOf`` links a hierarchy carries.

A *subtype link* is a ``?parent cco:hasSubtype ?child`` or a ``?child cco:subtypeOf ?parent`` triple (the
knowledge writes either; the graph does not materialise the inverse). It is *stated* when its ``owl:Axiom`` has no
``cco:certainty``, and *qualified* when it has one: ``suspected`` (the source hedges) or ``disputed`` (specialist
references disagree, the disagreement in the axiom's editorial note). A qualified link is a source's claim, not a
fact of the graph: calciphylaxis is a type of calcinosis cutis for StatPearls and a distinct vasculopathy for other
references.

The rule, applied by every consumer of the hierarchy:

- **Terminology hierarchies carry stated links only** (:data:`STATED_SUBTYPE_LINKS`): the FHIR CodeSystem's
  ``parent``/``child`` properties, its ``is-a``/``descendent-of`` filters and the per-condition subtype ValueSets,
  and the OBO Graphs export's subtype edges. A hierarchy cannot say "disputed", and its clients infer *is-a* (a
  FHIR client would code a calciphylaxis patient as having calcinosis cutis).
- **What people read shows every link, a qualified one marked with its certainty**: the resource pages (the
  qualifier and its note beside the statement), the home page's overview (:func:`qualified_link`) and the canned
  queries that walk the hierarchy, which return the certainty of the walked node's placement in a column
  (:func:`placement_certainty`; ``tests/test_competency_queries.py`` checks that every such query uses it).

The patterns use the prefixes ``cco:``, ``cc:`` and ``owl:`` (every engine and canned query declares them).
"""

from __future__ import annotations

from textwrap import indent

from calcinosis_kg.ontology import PREFIXES

ROOT_CURIE = "cc:calcinosis-cutis"
"""The root the canned queries walk the hierarchy from."""


def subtype_link(parent: str = "parent", child: str = "child") -> str:
    """A group pattern matching a subtype link ``?{parent}`` -> ``?{child}``, whichever of the two inverse
    properties the knowledge wrote."""
    return f"{{ ?{parent} cco:hasSubtype ?{child} }} UNION {{ ?{child} cco:subtypeOf ?{parent} }}"


def qualified_link(
    parent: str = "parent", child: str = "child", certainty: str = "certainty", link: str = "link"
) -> str:
    """A group pattern matching the axiom ``?{link}`` of the subtype link ``?{parent}`` -> ``?{child}`` when it
    carries a certainty qualifier, binding it to ``?{certainty}``."""
    return (
        f"{{ ?{link} owl:annotatedSource ?{parent} ; owl:annotatedProperty cco:hasSubtype ;\n"
        f"  owl:annotatedTarget ?{child} }}\n"
        f"UNION {{ ?{link} owl:annotatedSource ?{child} ; owl:annotatedProperty cco:subtypeOf ;\n"
        f"  owl:annotatedTarget ?{parent} }}\n"
        f"?{link} cco:certainty ?{certainty} ."
    )


_PROLOGUE = "".join(f"PREFIX {prefix}: <{namespace}>\n" for prefix, namespace in PREFIXES.items())

STATED_SUBTYPE_LINKS = (
    _PROLOGUE
    + f"""SELECT DISTINCT ?parent ?child WHERE {{
  {subtype_link()}
  FILTER NOT EXISTS {{
{indent(qualified_link(), "    ")}
  }}
}}"""
)
"""Every stated subtype link (``?parent``, ``?child``): the links a terminology hierarchy carries."""


def placement_certainty(node: str, certainty: str) -> str:
    """An ``OPTIONAL`` group binding ``?{certainty}`` to the certainty of a qualified subtype link on the way from
    calcinosis cutis down to ``?{node}`` (unbound when every link on the way is stated).

    The canned queries walk ``(cco:hasSubtype|^cco:subtypeOf)*`` from the root, which reaches a node below a
    disputed link as if it were stated: this group is the marker they add as a column. Its own variables start
    with ``placement`` so as not to meet the query's.
    """
    qualified = indent(qualified_link("placementParent", "placementChild", certainty, link="placementLink"), "  ")
    return (
        "OPTIONAL {\n"
        f"  {ROOT_CURIE} (cco:hasSubtype|^cco:subtypeOf)* ?placementParent .\n"
        f"{qualified}\n"
        f"  ?placementChild (cco:hasSubtype|^cco:subtypeOf)* ?{node} .\n"
        "}"
    )
