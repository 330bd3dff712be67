"""A resource's neighbourhood: the resources it links to and those linking to it, by relation.

Drawn twice from the same description: as an SVG on the server (incoming relations on the left, outgoing on
the right, each relation a labelled group; every box opens its page), which is the picture without
JavaScript, and as Cytoscape.js elements (``neighbourhood.js``) for the interactive graph that replaces it.

A neighbour whose statement is a source's claim rather than a fact (a ``certainty`` qualifier: disputed,
suspected, such as calciphylaxis as a subtype of calcinosis cutis) is marked in both: its certainty after its name
and as a CSS class, as every link people read is (:mod:`calcinosis_kg.ontology.subtypes`).

A page with a genetic differential (:mod:`.genetics`) adds its HPO part (:func:`hpo_groups`): the diseases that
present with the HPO terms the resource is mapped to (``← has phenotype``, RO:0002200) and the genes HPO links to
them (``associated gene``, drawn from those diseases, not from the resource). Both come from the HPO named graph and
say so: "(HPO)" after the relation's name, the CSS class ``hpo`` on their boxes, and ``graph`` (the named graph's
IRI) on their Cytoscape.js elements.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from calcinosis_kg.ontology import CCO, OBO
from calcinosis_kg.server.views.pages.genetics import HPO_GRAPH, DifferentialRow
from calcinosis_kg.server.views.pages.picture import Box, Picture
from calcinosis_kg.server.views.pages.terms import Labeler, TermView, term_view

if TYPE_CHECKING:
    from calcinosis_kg.server.views.pages.model import Relation, ResourceView, Statement

SHOWN_PER_RELATION = 8
"""Boxes per relation in the SVG (a "+ n more" box links to the statements)."""
MAX_ELEMENTS = 160
"""Neighbours in the interactive graph, at most."""
BOX = 170
GAP = 8
ROW = 26
SIDE_GAP = 70


@dataclass(frozen=True)
class Group:
    predicate: TermView
    incoming: bool
    members: tuple[TermView, ...]
    certainty: tuple[str, ...] = ()
    """Per member, the certainty qualifier of its statement ("disputed", "suspected"), or "" when stated."""
    graph: str = ""
    """The named graph the statements come from when it is not the article's (:data:`HPO_GRAPH`), else ""."""
    linked_from: tuple[tuple[str, ...], ...] = ()
    """Per member, the IRIs of the other neighbours it is linked from (a gene: its diseases), when the group's
    relation is theirs rather than the resource's; empty when the resource itself is linked to the members."""

    @property
    def heading(self) -> str:
        """The relation's name as drawn: "← " before an incoming one, its source after one from the HPO graph."""
        return ("← " if self.incoming else "") + self.predicate.text + (" (HPO)" if self.graph else "")

    @property
    def kind(self) -> str:
        """The CSS class of the group's boxes: ``neighbour``, and ``hpo`` for the HPO graph's."""
        return "neighbour hpo" if self.graph == HPO_GRAPH else "neighbour"

    def label(self, index: int) -> str:
        """Member ``index``'s name, followed by its certainty in brackets when its statement is qualified."""
        mark = self.certainty[index] if index < len(self.certainty) else ""
        return f"{self.members[index].text} ({mark})" if mark else self.members[index].text


def _certainty(statement: Statement) -> str:
    return next((value.text for name, value in statement.qualifiers if name == "certainty"), "")


def _groups(relations: Sequence[Relation], incoming: bool) -> list[Group]:
    groups = []
    for relation in relations:
        members = {s.value.iri: (s.value, _certainty(s)) for s in relation.statements if s.value.iri and s.value.local}
        if members:
            terms, marks = zip(*members.values(), strict=True)
            groups.append(Group(relation.predicate, incoming, terms, marks))
    return groups


def groups_of(page: ResourceView) -> list[Group]:
    """The page's relations to other resources of the graph (literals and outside IRIs left out)."""
    return _groups(page.incoming, True) + _groups(page.statements, False)


def hpo_groups(rows: Sequence[DifferentialRow], labeler: Labeler) -> list[Group]:
    """The genetic differential's part of the neighbourhood: its diseases (incoming RO:0002200 *has phenotype*, on
    an HPO term the resource is mapped to) and, linked from them, their genes (``cco:associatedGene``)."""
    diseases = {row.disease.iri: row.disease for row in rows if row.disease.iri}
    genes: dict[str, tuple[TermView, set[str]]] = {}
    for row in rows:
        for gene in row.genes:
            if gene.iri and row.disease.iri:
                genes.setdefault(gene.iri, (gene, set()))[1].add(row.disease.iri)
    if not diseases:
        return []
    by_name = sorted(diseases.values(), key=lambda term: term.text.lower())
    found = [Group(term_view(OBO.RO_0002200, labeler), True, tuple(by_name), graph=HPO_GRAPH)]
    if genes:
        symbols = sorted(genes.values(), key=lambda gene: gene[0].text)
        found.append(
            Group(
                term_view(CCO.associatedGene, labeler),
                False,
                tuple(gene for gene, _ in symbols),
                graph=HPO_GRAPH,
                linked_from=tuple(tuple(sorted(linked)) for _, linked in symbols),
            )
        )
    return found


def _rows(group: Group) -> int:
    shown = min(len(group.members), SHOWN_PER_RELATION)
    return math.ceil(shown / 2) + (len(group.members) > shown)


def _height(groups: list[Group]) -> float:
    return sum(ROW + _rows(group) * ROW + 8 for group in groups)


def _side(picture: Picture, groups: list[Group], x: float, more: str) -> list[Box]:
    """Lay out ``groups`` in a two-box-wide column at ``x``; returns each group's heading."""
    y = 0.0
    headings = []
    for group in groups:
        headings.append(picture.box(x, y, 2 * BOX + GAP, group.heading, "relation"))
        y += ROW
        shown = group.members[:SHOWN_PER_RELATION]
        for index, member in enumerate(shown):
            column, row = index % 2, index // 2
            kind = f"{group.kind} {group.certainty[index] if index < len(group.certainty) else ''}".strip()
            picture.box(x + column * (BOX + GAP), y + row * ROW, BOX, group.label(index), kind, member.href)
        if len(group.members) > len(shown):
            more_label = f"+ {len(group.members) - len(shown)} more"
            target = "#genetic-differential" if group.graph else more
            picture.box(x, y + math.ceil(len(shown) / 2) * ROW, BOX, more_label, "more", target)
        y += _rows(group) * ROW + 8
    return headings


def draw_neighbourhood(page: ResourceView, extra: Sequence[Group] = ()) -> Picture | None:
    """The SVG picture, or None when the resource links to no other resource of the graph. ``extra`` groups
    (:func:`hpo_groups`) follow the page's own; a group linked from other neighbours (genes) hangs from the
    heading of theirs (the diseases) rather than from the resource."""
    groups = groups_of(page) + list(extra)
    if not groups:
        return None
    picture = Picture(title=f"The neighbourhood of {page.label}")
    # a group linked from other neighbours goes on their side, under them
    left = {id(group) for group in groups if group.incoming}
    left |= {id(g) for g in groups if any(id(o) in left and _links(o, g) for o in groups)}
    incoming = [group for group in groups if id(group) in left]
    outgoing = [group for group in groups if id(group) not in left]
    centre_x = (2 * BOX + GAP + SIDE_GAP) if incoming else 0.0
    height = max(_height(incoming), _height(outgoing), float(ROW))
    centre = picture.box(centre_x, height / 2 - ROW / 2, BOX, page.label, "centre")
    headings = _side(picture, incoming, 0.0, "#incoming")
    headings += _side(picture, outgoing, centre_x + BOX + SIDE_GAP, "#statements")
    drawn = list(zip(incoming + outgoing, headings, strict=True))
    for group, heading in drawn:
        starts = [start for other, start in drawn if _links(other, group)] or [centre]
        for start in starts:
            picture.connect(start, heading, kind="edge hpo" if group.graph else "edge")
    return picture


def _links(source: Group, target: Group) -> bool:
    """Whether ``target``'s members are linked from members of ``source`` (a group of the same named graph)."""
    members = {member.iri for member in source.members}
    linked = {iri for iris in target.linked_from for iri in iris}
    return source is not target and source.graph == target.graph and bool(members & linked)


def elements(page: ResourceView, extra: Sequence[Group] = ()) -> list[dict[str, Any]]:
    """The neighbourhood as Cytoscape.js elements: the resource, one compound node per relation holding the
    neighbours by that relation, and one edge from the resource to each relation (or back, for incoming). A group
    linked from other neighbours (:attr:`Group.linked_from`: genes) gets one edge from each of those neighbours'
    nodes to each member instead. Elements from a named graph other than the article's carry ``graph``."""
    found: list[dict[str, Any]] = [{"data": {"id": "resource", "label": page.label, "kind": "centre"}}]
    edges: list[dict[str, Any]] = []
    nodes: dict[str, str] = {}
    """The node id of each neighbour shown, by IRI (the first group's, when it is in several)."""
    count = 0
    for index, group in enumerate([*groups_of(page), *extra]):
        group_id = f"relation-{index}"
        kind = "incoming" if group.incoming else "outgoing"
        source_graph = {"graph": group.graph} if group.graph else {}
        relation = {"id": group_id, "label": group.heading, "kind": "relation", "href": group.predicate.href}
        found.append({"data": {**relation, **source_graph}})
        for position, member in enumerate(group.members):
            count += 1
            if count > MAX_ELEMENTS:
                break
            node = f"{group_id}-{member.iri}"
            data = {"id": node, "parent": group_id, "label": group.label(position), "href": member.href}
            found.append({"data": {**data, "kind": kind, **source_graph}})
            nodes.setdefault(member.iri or node, node)
            linked = group.linked_from[position] if position < len(group.linked_from) else ()
            for number, start in enumerate(start for iri in linked if (start := nodes.get(iri))):
                edge = {"id": f"{node}-link-{number}", "source": start, "target": node, "label": group.predicate.text}
                edges.append({"data": {**edge, **source_graph}})
        if group.linked_from:
            continue
        source, target = (group_id, "resource") if group.incoming else ("resource", group_id)
        edge = {"id": f"edge-{index}", "source": source, "target": target, "label": group.predicate.text}
        edges.append({"data": {**edge, **source_graph}})
    return [*found, *edges]
