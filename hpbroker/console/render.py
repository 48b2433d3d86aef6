"""HTML and SVG for the console: a page frame, tables, line plots, and record bytes shown safely.

Every value that comes from the cluster (names, configs, keys, values, headers) goes through
``html.escape`` here; record bytes are shown as text only when they are valid UTF-8 without
control characters, else as hex, and long ones are cut (``show_bytes``).
"""

from __future__ import annotations

import html
import time
from urllib.parse import quote

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:baseline}
header a{color:#cfe3ff;text-decoration:none;font-weight:600}
header .brand{font-size:18px;font-weight:700;color:#fff}
main{padding:16px 24px}
h1{font-size:22px;margin:8px 0 16px}
h2{font-size:17px;margin:20px 0 8px}
table{border-collapse:collapse;background:#fff;margin-bottom:12px;font-size:14px}
th,td{border:1px solid #d6dae0;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#eef1f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,.bytes{font-family:ui-monospace,monospace;font-size:13px;word-break:break-all}
.bytes.hex{color:#6b4e00}
.muted{color:#6b7480}
.error{color:#a00;font-weight:600}
svg{background:#fff;border:1px solid #d6dae0}
"""

SHOW_BYTES = 512


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def link(path: str, text) -> str:
    return f'<a href="{esc(path)}">{esc(text)}</a>'


def path_part(name: str) -> str:
    return quote(name, safe="")


def page(title: str, body: str) -> bytes:
    nav = " ".join(
        link(p, t)
        for p, t in (("/", "Overview"), ("/brokers", "Brokers"), ("/topics", "Topics"), ("/groups", "Consumer groups"))
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{esc(title)} - hpbroker console</title><style>{STYLE}</style></head><body>"
        f"<header><span class='brand'>hpbroker console</span>{nav}</header>"
        f"<main><h1>{esc(title)}</h1>{body}</main></body></html>"
    ).encode()


def table(headers: list[str], rows: list[list[str]], numeric: tuple[int, ...] = ()) -> str:
    """``rows`` hold HTML already escaped (use ``esc``); columns in ``numeric`` align right."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td class='num'>{c}</td>" if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    if not rows:
        body = f"<tr><td colspan='{len(headers)}' class='muted'>none</td></tr>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def show_bytes(data: bytes | None) -> str:
    """Record bytes as safe HTML: null, UTF-8 text, or hex; at most SHOW_BYTES shown."""
    if data is None:
        return "<span class='muted'>null</span>"
    cut = data[:SHOW_BYTES]
    more = f" <span class='muted'>(+{len(data) - SHOW_BYTES} bytes)</span>" if len(data) > SHOW_BYTES else ""
    try:
        text = cut.decode("utf-8")
        if all(c.isprintable() or c in "\t\n" for c in text):
            return f"<span class='bytes'>{esc(text)}</span>{more}"
    except UnicodeDecodeError:
        pass
    return f"<span class='bytes hex' title='not text: hex'>{cut.hex(' ')}</span>{more}"


def when(ms: int) -> str:
    if ms < 0:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def size(n: int | None) -> str:
    if n is None or n < 0:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


COLORS = ("#1f6feb", "#d9480f", "#2b8a3e", "#862e9c", "#e8590c", "#0b7285", "#5c940d", "#c2255c")


def plot(series: dict[str, list[tuple[float, float]]], unit: str, width: int = 720, height: int = 220) -> str:
    """An inline SVG line plot of ``series`` (name -> [(unix time, value)]), with a legend."""
    points = [p for s in series.values() for p in s]
    if not points:
        return "<p class='muted'>No samples yet: the plot fills in as the console samples the cluster (every few seconds).</p>"
    left, right, top, bottom = 60, 160, 12, 28
    w, h = width - left - right, height - top - bottom
    t0, t1 = min(t for t, _ in points), max(t for t, _ in points)
    vmax = max(v for _, v in points) or 1.0
    span = (t1 - t0) or 1.0

    def x(t):
        return left + (t - t0) / span * w

    def y(v):
        return top + h - v / vmax * h

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>"]
    for i in range(5):
        v = vmax * i / 4
        parts.append(f"<line x1='{left}' x2='{left + w}' y1='{y(v):.1f}' y2='{y(v):.1f}' stroke='#e3e6ea'/>")
        parts.append(f"<text x='{left - 6}' y='{y(v) + 4:.1f}' font-size='11' text-anchor='end'>{v:.4g}</text>")
    for t, anchor in ((t0, "start"), (t1, "end")) if t1 > t0 else ((t0, "start"),):
        parts.append(
            f"<text x='{x(t):.1f}' y='{height - 8}' font-size='11' text-anchor='{anchor}'>{esc(time.strftime('%H:%M:%S', time.gmtime(t)))}Z</text>"
        )
    parts.append(f"<text x='{left}' y='{top - 2}' font-size='11' fill='#6b7480'>{esc(unit)}</text>")
    for i, (name, pts) in enumerate(sorted(series.items())):
        color = COLORS[i % len(COLORS)]
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
        parts.append(f"<polyline fill='none' stroke='{color}' stroke-width='2' points='{coords}'/>")
        last_t, last_v = pts[-1]  # the latest sample stands out (and a lone one is seen at all)
        parts.append(f"<circle cx='{x(last_t):.1f}' cy='{y(last_v):.1f}' r='3' fill='{color}'/>")
        ly = top + 14 * i + 10
        parts.append(f"<rect x='{left + w + 10}' y='{ly - 8}' width='10' height='10' fill='{color}'/>")
        label = name if len(name) <= 20 else name[:19] + "…"
        parts.append(f"<text x='{left + w + 24}' y='{ly + 1}' font-size='11'>{esc(label)}</text>")
    parts.append("</svg>")
    return "".join(parts)
