"""A resource's neighbourhood: the resources it links to and those linking to it, by relation.

Drawn twice from the same description: as an SVG on the server (incoming relations on the left, outgoing on
the right, each relation a labelled group; every box opens its page), which is the picture without
JavaScript, and as Cytoscape.js elements (``neighbourhood.js``) for the interactive graph that replaces it.

A neighbour whose statement is a source's claim rather than a fact (a ``certainty`` qualifier: disputed,
suspected, such as calciphylaxis as a subtype of calcinosis cutis) is marked in both: its certainty after its name
and as a CSS class, as every link people read is (:mod:`calcinosis_kg.ontology.subtypes`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from calcinosis_kg.server.views.pages.picture import Box, Picture

if TYPE_CHECKING:
    from calcinosis_kg.server.views.pages.model import Relation, ResourceView, Statement
from calcinosis_kg.server.views.pages.terms import TermView

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
        label = ("← " if group.incoming else "") + group.predicate.text
        headings.append(picture.box(x, y, 2 * BOX + GAP, label, "relation"))
        y += ROW
        shown = group.members[:SHOWN_PER_RELATION]
        for index, member in enumerate(shown):
            column, row = index % 2, index // 2
            kind = f"neighbour {group.certainty[index]}".strip()
            picture.box(x + column * (BOX + GAP), y + row * ROW, BOX, group.label(index), kind, member.href)
        if len(group.members) > len(shown):
            more_label = f"+ {len(group.members) - len(shown)} more"
            picture.box(x, y + math.ceil(len(shown) / 2) * ROW, BOX, more_label, "more", more)
        y += _rows(group) * ROW + 8
    return headings


def draw_neighbourhood(page: ResourceView) -> Picture | None:
    """The SVG picture, or None when the resource links to no other resource of the graph."""
    groups = groups_of(page)
    if not groups:
        return None
    picture = Picture(title=f"The neighbourhood of {page.label}")
    incoming = [group for group in groups if group.incoming]
    outgoing = [group for group in groups if not group.incoming]
    centre_x = (2 * BOX + GAP + SIDE_GAP) if incoming else 0.0
    height = max(_height(incoming), _height(outgoing), float(ROW))
    centre = picture.box(centre_x, height / 2 - ROW / 2, BOX, page.label, "centre")
    headings = _side(picture, incoming, 0.0, "#incoming")
    headings += _side(picture, outgoing, centre_x + BOX + SIDE_GAP, "#statements")
    for heading in headings:
        picture.connect(centre, heading)
    return picture


def elements(page: ResourceView) -> list[dict[str, Any]]:
    """The neighbourhood as Cytoscape.js elements: the resource, one compound node per relation holding the
    neighbours by that relation, and one edge from the resource to each relation (or back, for incoming)."""
    found: list[dict[str, Any]] = [{"data": {"id": "resource", "label": page.label, "kind": "centre"}}]
    edges: list[dict[str, Any]] = []
    count = 0
    for index, group in enumerate(groups_of(page)):
        group_id = f"relation-{index}"
        kind = "incoming" if group.incoming else "outgoing"
        label = ("← " if group.incoming else "") + group.predicate.text
        found.append({"data": {"id": group_id, "label": label, "kind": "relation", "href": group.predicate.href}})
        for position, member in enumerate(group.members):
            count += 1
            if count > MAX_ELEMENTS:
                break
            label = group.label(position)
            data = {"id": f"{group_id}-{member.iri}", "parent": group_id, "label": label, "href": member.href}
            found.append({"data": {**data, "kind": kind}})
        source, target = (group_id, "resource") if group.incoming else ("resource", group_id)
        edge = {"id": f"edge-{index}", "source": source, "target": target, "label": group.predicate.text}
        edges.append({"data": edge})
    return [*found, *edges]
