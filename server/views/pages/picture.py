"""Pictures drawn on the server as SVG (no script, no external resource): boxes that link to resource pages and
the lines between them. The home page's picture of the knowledge and each resource page's neighbourhood are
laid out here; the templates only write the elements (``picture.html``), with autoescaping."""

from __future__ import annotations

from dataclasses import dataclass, field

CHAR_WIDTH = 6.7
"""Average advance of a 12 px system sans-serif character, for fitting labels in boxes."""
BOX_HEIGHT = 22
PADDING = 6


@dataclass(frozen=True)
class Box:
    """A labelled box; ``href`` is a path on this server (or None)."""

    x: float
    y: float
    width: float
    label: str
    text: str
    """``label``, shortened to fit the box."""
    kind: str
    """CSS classes: ``centre``, ``subtype`` (with ``disputed`` or ``suspected`` for a subtype link that is a source's
    claim), ``cause``, ``test``, ``treatment``, ``neighbour``, ``heading``."""
    href: str | None = None
    height: float = BOX_HEIGHT

    @property
    def middle_y(self) -> float:
        return self.y + self.height / 2

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def text_x(self) -> float:
        return self.x + PADDING

    @property
    def text_y(self) -> float:
        return self.y + self.height / 2 + 4


@dataclass(frozen=True)
class Line:
    """A curve from one point to another, optionally labelled at its middle."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str | None = None
    kind: str = "edge"

    @property
    def path(self) -> str:
        """An SVG path: a horizontal S-curve when the ends are side by side, else a straight line."""
        if abs(self.x2 - self.x1) > 20:
            mid = (self.x1 + self.x2) / 2
            start, end = f"{self.x1:.1f},{self.y1:.1f}", f"{self.x2:.1f},{self.y2:.1f}"
            return f"M{start} C{mid:.1f},{self.y1:.1f} {mid:.1f},{self.y2:.1f} {end}"
        return f"M{self.x1:.1f},{self.y1:.1f} L{self.x2:.1f},{self.y2:.1f}"

    @property
    def label_x(self) -> float:
        return (self.x1 + self.x2) / 2

    @property
    def label_y(self) -> float:
        return (self.y1 + self.y2) / 2 - 3


@dataclass
class Picture:
    """An SVG picture: its size, title, boxes and lines (lines are drawn first, under the boxes)."""

    title: str
    width: float = 0
    height: float = 0
    boxes: list[Box] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)

    def box(self, x: float, y: float, width: float, label: str, kind: str, href: str | None = None) -> Box:
        made = Box(x, y, width, label, fit(label, width), kind, href)
        self.boxes.append(made)
        self.width = max(self.width, made.right + 2)
        self.height = max(self.height, made.y + made.height + 2)
        return made

    def connect(self, start: Box, end: Box, label: str | None = None, kind: str = "edge") -> None:
        """A line from ``start``'s right side to ``end``'s left side (or the reverse when ``end`` is left of it);
        ``kind`` is its CSS class (``edge``, ``edge disputed`` for a link a source's claim only)."""
        if end.x >= start.right:
            self.lines.append(Line(start.right, start.middle_y, end.x, end.middle_y, label, kind))
        elif end.right <= start.x:
            self.lines.append(Line(start.x, start.middle_y, end.right, end.middle_y, label, kind))
        else:
            centre, target = start.x + start.width / 2, end.x + end.width / 2
            self.lines.append(Line(centre, start.y + start.height, target, end.y, label, kind))


def fit(label: str, width: float) -> str:
    """``label`` cut to fit ``width`` pixels (with an ellipsis when cut)."""
    room = max(3, int((width - 2 * PADDING) / CHAR_WIDTH))
    return label if len(label) <= room else label[: room - 1].rstrip() + "…"
