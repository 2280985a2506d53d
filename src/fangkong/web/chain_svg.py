"""A transmission-chain drawing as inline SVG, drawn here (no JavaScript library): one column
per generation, cases of a cluster kept together, arrows from infector to infectee."""

from __future__ import annotations

from xml.sax.saxutils import escape

from fangkong.chain.service import Graph

W, H, GAP_X, GAP_Y = 150, 34, 60, 14
COLOURS = {"confirmed": "#dc3545", "asymptomatic": "#fd7e14", "suspected": "#6c757d"}


def svg(g: Graph, max_nodes: int = 400) -> str:
    nodes = sorted(g.nodes, key=lambda n: (n["cluster"] or 10**9, n["generation"], n["id"]))[:max_nodes]
    if not nodes:
        return ""
    rows: dict[int, int] = {}
    pos: dict[int, tuple[int, int]] = {}
    for n in nodes:
        col = n["generation"] - 1
        row = rows.get(col, 0)
        rows[col] = row + 1
        pos[n["id"]] = (20 + col * (W + GAP_X), 20 + row * (H + GAP_Y))
    width = 40 + (max(rows) + 1) * (W + GAP_X)
    height = 40 + max(rows.values()) * (H + GAP_Y)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" id="chain-svg" '
        'font-family="Noto Sans CJK SC, sans-serif" font-size="12">',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>',
    ]
    for e in g.edges:
        if e["source"] in pos and e["target"] in pos:
            (x1, y1), (x2, y2) = pos[e["source"]], pos[e["target"]]
            parts.append(
                f'<line x1="{x1 + W}" y1="{y1 + H // 2}" x2="{x2}" y2="{y2 + H // 2}" stroke="#555" '
                'marker-end="url(#arrow)"/>'
            )
    for n in nodes:
        x, y = pos[n["id"]]
        colour = COLOURS.get(n["classification"], "#6c757d")
        label = escape(f"{n['case_no']}" + (f" · 簇{n['cluster']}" if n["cluster"] else ""))
        parts.append(
            f'<a href="/cases/{n["id"]}"><rect x="{x}" y="{y}" width="{W}" height="{H}" rx="6" '
            f'fill="white" stroke="{colour}" stroke-width="2"/>'
            f'<text x="{x + 8}" y="{y + 21}">{label}</text></a>'
        )
    parts.append("</svg>")
    return "".join(parts)
