"""``results/<run>/report.html``: one self-contained page a practitioner can attach to a decision.

Everything is inside the file: images as base64 data URIs, the styles, and a few lines of script that
sort tables when a header is clicked. It loads nothing from the network.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from enso_ng.formats import RunRecord
from enso_ng.workspace import atomic_path


@dataclass
class Table:
    title: str
    header: Sequence[str]
    rows: list[Sequence[object]]
    note: str = ""


@dataclass
class Report:
    run: str
    config: RunRecord
    figures: list[tuple[str, bytes]] = field(default_factory=list)  # (caption, PNG bytes)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px;
       color: #1b1b1b; padding: 0 1em; }
h1 { margin-bottom: 0.1em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #666; } figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.9em; } table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; } th { background: #f4f4f4; cursor: pointer; user-select: none; }
th.sorted-asc::after { content: " \\25B2"; } th.sorted-desc::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } pre { background: #f7f7f7; padding: 1em; overflow: auto; }
"""

# Sorts a table by the clicked column: numbers numerically (a leading "> " or "[" is ignored), text alphabetically.
_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var ascending = !th.classList.contains("sorted-asc");
      table.querySelectorAll("th").forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
      th.classList.add(ascending ? "sorted-asc" : "sorted-desc");
      function key(row) {
        var text = row.cells[column].textContent.trim(), number = parseFloat(text.replace(/^[>\\[ ]+/, "").replace(/,/g, ""));
        return isNaN(number) ? text.toLowerCase() : number;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var order = (typeof x === typeof y) ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
document.body.setAttribute("data-report-ready", "yes");
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (img) { return img.complete && img.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images", loaded + "/" + images.length);
});
"""


def _cell(value: object) -> str:
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    text = f"{value:.4f}" if isinstance(value, float) else str(value)
    return f'<td class="num">{html.escape(text)}</td>' if numeric else f"<td>{html.escape(text)}</td>"


def render(report: Report) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>enso_ng report: {html.escape(report.run)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>enso_ng report: {html.escape(report.run)}</h1>",
        f'<p class="meta">written {datetime.now(UTC).isoformat(timespec="seconds")}; click a table header to sort.</p>',
    ]
    for note in report.notes:
        parts.append(f"<p>{html.escape(note)}</p>")
    parts.append("<h2>Figures</h2>")
    for caption, png in report.figures:
        data = base64.b64encode(png).decode("ascii")
        parts.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    for table in report.tables:
        parts.append(f"<h2>{html.escape(table.title)}</h2>")
        if table.note:
            parts.append(f"<p>{html.escape(table.note)}</p>")
        parts.append(
            '<table class="sortable"><thead><tr>'
            + "".join(f"<th>{html.escape(str(h))}</th>" for h in table.header)
            + "</tr></thead><tbody>"
        )
        for row in table.rows:
            parts.append("<tr>" + "".join(_cell(v) for v in row) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("<h2>Configuration</h2>")
    parts.append(
        f"<pre>{html.escape(json.dumps(dataclasses.asdict(report.config), indent=2, sort_keys=True, default=str))}</pre>"
    )
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts)


def write_report(report: Report, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(render(report), encoding="utf-8")
    return path
