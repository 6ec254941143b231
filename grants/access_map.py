"""The access map, pure: accounts as nodes, grants as arrows from trusted to trusting account.

In: plain rows (one per account pair, with a count of grants per health) and the
registered accounts; out: nodes and edges with coordinates, ready for the SVG
template. No database access here: `grants.selectors.access_map_data` feeds it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.utils.safestring import SafeString, mark_safe

# Worst first: a pair's arrow takes the colour of its worst grant.
HEALTHS: tuple[str, ...] = ("failing", "unverified", "expiring", "passing")
HEALTH_LABELS = {
    "failing": "failing",
    "unverified": "not verified",
    "expiring": "expiring",
    "passing": "passing",
}
HEALTH_SYMBOLS = {"failing": "✗", "unverified": "?", "expiring": "!", "passing": "✓"}
# Stroke and fill colours, each at least 3:1 against white (WCAG 1.4.11, graphics).
HEALTH_COLOURS = {
    "failing": "#b02a37",
    "unverified": "#6c757d",
    "expiring": "#9a6700",
    "passing": "#146c43",
}
# Healthy arrows recede so that failing ones stand out in a dense map.
HEALTH_OPACITY = {"failing": "1", "unverified": "0.75", "expiring": "0.85", "passing": "0.6"}

NODE_RADIUS = 16.0
NODE_SPACING = 112.0  # px along the circle between neighbouring accounts
MIN_RING_RADIUS = 120.0
LABEL_MARGIN = 150.0  # px around the ring for the account labels
LABEL_CHAR_WIDTH = 7.0  # px per character at the label font size (12 px), an estimate
LABEL_HEIGHT = 15.0
NAME_MAX_CHARS = 18


@dataclass(frozen=True)
class AccountRow:
    """A registered account: the database's primary key, 12-digit ID, name, OU path."""

    pk: int
    account_id: str
    name: str
    ou_path: str = ""


@dataclass(frozen=True)
class PairRow:
    """Live grants from one trusted account to one trusting account, counted per health."""

    trusting_account_pk: int
    trusting_account_id: str
    trusted_account_id: str
    failing: int = 0
    unverified: int = 0
    expiring: int = 0
    passing: int = 0


@dataclass
class MapNode:
    """An account on the ring. `pk` is None for an unregistered trusted account ID."""

    account_id: str
    name: str
    pk: int | None
    ou_path: str
    x: float = 0.0
    y: float = 0.0
    label_x: float = 0.0
    label_y: float = 0.0
    label_anchor: str = "start"
    href: str = ""  # the grant list filtered to this account (unescaped)

    @property
    def registered(self) -> bool:
        return self.pk is not None

    @property
    def short_name(self) -> str:
        """The name cut to NAME_MAX_CHARS characters (the full one is in the node's title)."""
        if len(self.name) <= NAME_MAX_CHARS:
            return self.name
        return self.name[: NAME_MAX_CHARS - 1] + "…"

    @property
    def display(self) -> str:
        return f"{self.name} ({self.account_id})" if self.registered else self.account_id


@dataclass
class MapEdge:
    """All live grants from `trusted` to `trusting`: one arrow, coloured by its worst grant."""

    trusted: MapNode
    trusting: MapNode
    counts: dict[str, int]
    path: str = ""
    label_x: float = 0.0
    label_y: float = 0.0
    width: float = 1.5
    href: str = ""  # the grant list filtered to this pair (unescaped)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def worst(self) -> str:
        return next(h for h in HEALTHS if self.counts.get(h))

    @property
    def colour(self) -> str:
        return HEALTH_COLOURS[self.worst]

    @property
    def opacity(self) -> str:
        return HEALTH_OPACITY[self.worst]

    @property
    def parts(self) -> list[tuple[str, int, str, str, str]]:
        """(health, count, label, symbol, colour) for each health with grants, worst first."""
        return [
            (h, self.counts[h], HEALTH_LABELS[h], HEALTH_SYMBOLS[h], HEALTH_COLOURS[h])
            for h in HEALTHS
            if self.counts.get(h)
        ]

    @property
    def cells(self) -> list[tuple[str, int, str]]:
        """(health, count, href) for every health, worst first, zeros included (the table)."""
        return [(h, self.counts.get(h, 0), f"{self.href}&health={h}") for h in HEALTHS]

    @property
    def summary(self) -> str:
        """In words, e.g. "1 failing, 2 passing"."""
        return ", ".join(f"{n} {label}" for _, n, label, _, _ in self.parts)


@dataclass
class AccessMap:
    """What the SVG template draws: size, nodes, edges (worst drawn last, on top)."""

    width: float
    height: float
    nodes: list[MapNode] = field(default_factory=list)
    edges: list[MapEdge] = field(default_factory=list)
    list_url: str = "/grants/"

    @property
    def svg(self) -> SafeString:
        """The map as inline SVG markup (see render_svg), safe to insert in a template."""
        return mark_safe(render_svg(self))  # every record's text is escaped by render_svg

    @property
    def table_rows(self) -> SafeString:
        """The table alternative's rows (see render_table_rows), safe to insert."""
        return mark_safe(render_table_rows(self))  # every record's text is escaped there

    @property
    def grant_count(self) -> int:
        return sum(edge.total for edge in self.edges)

    @property
    def totals(self) -> dict[str, int]:
        return {h: sum(edge.counts.get(h, 0) for edge in self.edges) for h in HEALTHS}

    @property
    def legend(self) -> list[tuple[str, str, str, str, int]]:
        """(health, label, symbol, colour, grants) for the legend, worst first."""
        totals = self.totals
        return [
            (h, HEALTH_LABELS[h], HEALTH_SYMBOLS[h], HEALTH_COLOURS[h], totals[h]) for h in HEALTHS
        ]


def _node_order(node: MapNode) -> tuple[int, str, str, str]:
    # Registered accounts first, grouped by OU path (accounts without one after the
    # OUs), then by name; unregistered account IDs last, by ID.
    if not node.registered:
        return (2, "", "", node.account_id)
    return (0 if node.ou_path else 1, node.ou_path.lower(), node.name.lower(), node.account_id)


def build_access_map(
    *, accounts: Iterable[AccountRow], pairs: Iterable[PairRow], list_url: str = "/grants/"
) -> AccessMap:
    """Lay out the map: a ring of accounts (deterministic), one curved arrow per pair.

    In: every registered account and the live-grant counts per (trusting, trusted)
    pair, and the grant list's URL path the arrows and accounts link to. Out: an
    AccessMap in SVG user units (px). Pairs whose trusting and trusted
    account are the same are left out (a role trusting its own account is not
    cross-account access); pairs with no grant are left out. Raises nothing.
    """
    nodes: dict[str, MapNode] = {
        a.account_id: MapNode(account_id=a.account_id, name=a.name, pk=a.pk, ou_path=a.ou_path)
        for a in accounts
    }
    kept: list[PairRow] = []
    for pair in pairs:
        if pair.trusting_account_id == pair.trusted_account_id:
            continue
        if not any(getattr(pair, h) for h in HEALTHS):
            continue
        kept.append(pair)
        for account_id, pk in (
            (pair.trusting_account_id, pair.trusting_account_pk),
            (pair.trusted_account_id, None),
        ):
            if account_id not in nodes:
                nodes[account_id] = MapNode(
                    account_id=account_id, name=account_id, pk=pk, ou_path=""
                )
    ordered = sorted(nodes.values(), key=_node_order)
    ring = max(MIN_RING_RADIUS, len(ordered) * NODE_SPACING / (2 * math.pi))
    centre = ring + LABEL_MARGIN
    _place_nodes(ordered, centre=centre, ring=ring)
    edges = [
        MapEdge(
            trusted=nodes[p.trusted_account_id],
            trusting=nodes[p.trusting_account_id],
            counts={h: getattr(p, h) for h in HEALTHS},
        )
        for p in kept
    ]
    # Deterministic, with the worst arrows drawn last so they sit on top.
    edges.sort(key=lambda e: (-HEALTHS.index(e.worst), e.trusted.account_id, e.trusting.account_id))
    placed: list[tuple[float, float, float, float]] = []
    for edge in edges:
        _route_edge(edge, placed)
        edge.href = f"{list_url}?trusting={edge.trusting.pk}&trusted={edge.trusted.account_id}"
    for node in ordered:
        node.href = (
            f"{list_url}?account={node.pk}"
            if node.registered
            else f"{list_url}?trusted={node.account_id}"
        )
    return AccessMap(
        width=2 * centre, height=2 * centre, nodes=ordered, edges=edges, list_url=list_url
    )


def _place_nodes(nodes: Sequence[MapNode], *, centre: float, ring: float) -> None:
    """Nodes clockwise from 12 o'clock; labels outside the ring, anchored away from it."""
    count = len(nodes)
    for index, node in enumerate(nodes):
        angle = -math.pi / 2 + 2 * math.pi * index / max(count, 1)
        cos, sin = math.cos(angle), math.sin(angle)
        node.x, node.y = centre + ring * cos, centre + ring * sin
        reach = ring + NODE_RADIUS + 8
        node.label_x = round(centre + reach * cos, 1)
        node.label_y = round(centre + reach * sin + (4 if abs(sin) < 0.5 else 12 * sin), 1)
        node.label_anchor = "middle" if abs(cos) < 0.3 else ("start" if cos > 0 else "end")
        node.x, node.y = round(node.x, 1), round(node.y, 1)


def _route_edge(edge: MapEdge, placed: list[tuple[float, float, float, float]]) -> None:
    """A quadratic curve bowed to the right of its direction, so A→B and B→A never
    share a line; the label goes where it overlaps no label placed before it."""
    (x1, y1), (x2, y2) = (edge.trusted.x, edge.trusted.y), (edge.trusting.x, edge.trusting.y)
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy) or 1.0
    # Right-hand normal of the direction trusted → trusting (SVG's y axis points down).
    nx, ny = -dy / length, dx / length
    bow = 18 + 0.12 * length
    cx, cy = (x1 + x2) / 2 + nx * bow, (y1 + y2) / 2 + ny * bow
    # Start and end on the node circles, not at their centres (the arrowhead stays visible).
    sx, sy = _towards(x1, y1, cx, cy, NODE_RADIUS + 2)
    ex, ey = _towards(x2, y2, cx, cy, NODE_RADIUS + 4)
    edge.path = f"M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}"
    edge.width = round(1.5 + min(4.5, math.log2(edge.total) * 1.2), 1)
    text = " ".join(f"{symbol}{n}" for _, n, _, symbol, _ in edge.parts)
    half_width, half_height = len(text) * LABEL_CHAR_WIDTH / 2 + 2, LABEL_HEIGHT / 2
    best: tuple[float, float] | None = None
    for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78):
        px = (1 - t) ** 2 * sx + 2 * (1 - t) * t * cx + t**2 * ex
        py = (1 - t) ** 2 * sy + 2 * (1 - t) * t * cy + t**2 * ey
        box = (px - half_width, py - half_height, px + half_width, py + half_height)
        if best is None:
            best = (px, py)
        if not any(_overlap(box, other) for other in placed):
            best = (px, py)
            break
    assert best is not None
    edge.label_x, edge.label_y = round(best[0], 1), round(best[1], 1)
    placed.append(
        (
            edge.label_x - half_width,
            edge.label_y - half_height,
            edge.label_x + half_width,
            edge.label_y + half_height,
        )
    )


def _towards(x: float, y: float, tx: float, ty: float, distance: float) -> tuple[float, float]:
    dx, dy = tx - x, ty - y
    length = math.hypot(dx, dy) or 1.0
    return x + dx / length * distance, y + dy / length * distance


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# --- SVG ------------------------------------------------------------------------------
# Written here rather than in a template: 200 grants make a few hundred elements, and
# string building is about ten times faster than the template engine for them. Every
# text that comes from a record goes through _e (HTML/XML escaping, quotes included).
# Colours and sizes are presentation attributes, not style attributes (the CSP allows
# no inline style).

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _n(value: float) -> str:
    """A coordinate as SVG wants it, whatever the locale: 12.5, 300."""
    return f"{value:.1f}".removesuffix(".0")


def render_svg(built: AccessMap) -> str:
    """The map as one <svg> element (inline in HTML, or a standalone SVG document).

    In: a built AccessMap. Out: SVG markup with a
    <title> and <desc>, one link per arrow and per account (keyboard-focusable,
    each with an accessible name), arrowheads per health. Raises nothing.
    """
    nodes, edges = built.nodes, built.edges
    legend = ", ".join(f"{s} {label} {n}" for _, label, s, _, n in built.legend)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="xmap" '
        f'viewBox="0 0 {built.width:.0f} {built.height:.0f}" width="{built.width:.0f}" '
        f'height="{built.height:.0f}" role="group" aria-labelledby="xmap-title xmap-desc" '
        f'data-testid="access-map-svg" font-family="{_e(FONT)}" font-size="12">',
        f'<title id="xmap-title">Access map: {len(nodes)} account{"" if len(nodes) == 1 else "s"}'
        f", {built.grant_count} live grant{'' if built.grant_count == 1 else 's'}</title>",
        '<desc id="xmap-desc">Each arrow points from the trusted account to the trusting '
        "account and stands for all live grants between them, coloured by the worst: "
        f"{_e(legend)}. Each arrow and account links to its grants.</desc>",
        "<defs>",
    ]
    for health in HEALTHS:
        out.append(
            f'<marker id="xmap-arrow-{health}" viewBox="0 0 10 10" refX="9" refY="5" '
            'markerWidth="5" markerHeight="5" markerUnits="strokeWidth" '
            f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{HEALTH_COLOURS[health]}"/></marker>'
        )
    out.append('</defs>\n<g class="xmap-edges">')
    for edge in edges:
        href = _e(edge.href)
        name = f"{edge.trusted.display} to {edge.trusting.display}: {edge.summary}"
        out.append(
            f'<a href="{href}" class="xmap-edge" data-health="{edge.worst}" '
            f'data-trusted="{_e(edge.trusted.account_id)}" '
            f'data-trusting="{_e(edge.trusting.account_id)}" '
            f'aria-label="{_e(name)}"><title>{_e(name.replace(" to ", " → ", 1))}</title>'
            f'<path d="{edge.path}" fill="none" stroke="{edge.colour}" '
            f'stroke-opacity="{edge.opacity}" stroke-width="{_n(edge.width)}" '
            f'marker-end="url(#xmap-arrow-{edge.worst})"/>'
            f'<path d="{edge.path}" fill="none" stroke="transparent" stroke-width="12" '
            'class="xmap-hit"/></a>'
        )
    out.append('</g>\n<g class="xmap-labels">')
    for edge in edges:
        counts = "".join(
            f'<tspan fill="{colour}">{" " if i else ""}{symbol}{n}</tspan>'
            for i, (_, n, _, symbol, colour) in enumerate(edge.parts)
        )
        out.append(
            f'<a href="{_e(edge.href)}" tabindex="-1" aria-hidden="true">'
            f'<text x="{_n(edge.label_x)}" y="{_n(edge.label_y)}" text-anchor="middle" '
            'dominant-baseline="middle" font-size="11" font-weight="600" stroke="#fff" '
            f'stroke-width="3" paint-order="stroke" class="xmap-count">{counts}</text></a>'
        )
    out.append('</g>\n<g class="xmap-nodes">')
    for node in nodes:
        ou = f" (OU {node.ou_path})" if node.ou_path else ""
        if node.registered:
            name = f"{node.short_name} {node.account_id}: its grants{ou}"
            title = f"{node.display}{' · ' + node.ou_path if node.ou_path else ''}"
            fill, dash = "#e7f1ff", ""
            second = (
                f' <tspan x="{_n(node.label_x)}" dy="13" font-size="10" '
                f'fill="#495057">{_e(node.account_id)}</tspan>'
            )
        else:
            name = f"{node.short_name} (not registered): its grants"
            title = f"{node.display} (not registered)"
            fill, dash, second = "#ffffff", ' stroke-dasharray="4 3"', ""
        out.append(
            f'<a href="{_e(node.href)}" class="xmap-node" '
            f'data-account="{_e(node.account_id)}" aria-label="{_e(name)}">'
            f"<title>{_e(title)}</title>"
            f'<circle cx="{_n(node.x)}" cy="{_n(node.y)}" r="{_n(NODE_RADIUS)}" fill="{fill}" '
            f'stroke="#0a58ca" stroke-width="2"{dash}/>'
            f'<text x="{_n(node.label_x)}" y="{_n(node.label_y)}" '
            f'text-anchor="{node.label_anchor}" fill="#212529">{_e(node.short_name)}{second}'
            "</text></a>"
        )
    out.append("</g>\n</svg>")
    return "\n".join(out)


def render_table_rows(built: AccessMap) -> str:
    """The text alternative's <tbody> rows: one per arrow, trusted and trusting account,
    a count per health (each linking to those grants) and the total. Escaped markup."""
    rows = []
    for edge in built.edges:
        cells = "".join(
            f'<td class="text-end"><a href="{_e(href)}">{count}</a></td>'
            if count
            else '<td class="text-end">0</td>'
            for _, count, href in edge.cells
        )
        rows.append(
            f"<tr><td>{_e(edge.trusted.display)}</td><td>{_e(edge.trusting.display)}</td>"
            f'{cells}<td class="text-end"><a href="{_e(edge.href)}">{edge.total}</a></td></tr>'
        )
    return "\n".join(rows)
