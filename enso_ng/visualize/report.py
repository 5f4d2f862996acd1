"""``results/<run>/report.html``: one self-contained page a practitioner can attach to a decision.

Everything is inside the file: images as base64 data URIs, the styles, and a few lines of script that
sort tables when a header is clicked. It loads nothing from the network.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from enso_ng.formats import RunRecord
from enso_ng.visualize.ranking import ALPHA
from enso_ng.visualize.verdicts import Verdicts, overall_sentence
from enso_ng.workspace import atomic_path


@dataclass
class Table:
    title: str
    header: Sequence[str]
    rows: list[Sequence[object]]
    note: str = ""


@dataclass
class Figure:
    """A PNG image, or inline SVG markup whose hover targets ``points`` describe (see ``interactive``)."""

    caption: str
    png: bytes = b""
    svg: str = ""
    points: list[dict] = field(default_factory=list)


@dataclass
class Report:
    run: str
    #: the run's record; a comparison page shows both runs'
    config: RunRecord | list[RunRecord]
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the answers, shown first; None on pages that only compare (``enso visualize --run A --run B``)
    verdicts: Verdicts | None = None
    #: "featurizer + model" -> CSS colour, the figures' palette, for the swatches beside names in the text
    colours: dict[str, str] = field(default_factory=dict)
    title: str = ""
    #: "which labels?": one sentence per dataset, featurizer + model and selection sampler (runs of several)
    which_labels: list[str] = field(default_factory=list)


_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto 2em; max-width: 1200px;
       color: #1b1b1b; padding: 0 1em; }
h1 { margin-bottom: 0.1em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #555; } figure { margin: 1.5em 0; } figure img, figure svg { max-width: 100%; height: auto; }
figure img { border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.9em; } table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; } th { background: #f4f4f4; cursor: pointer; user-select: none; }
th.sorted-asc::after { content: " \\25B2"; } th.sorted-desc::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } pre { background: #f7f7f7; padding: 1em; overflow: auto; }
.bar { position: sticky; top: 0; background: #fff; padding: 0.6em 0; border-bottom: 1px solid #ddd; z-index: 2; }
.verdict { border-left: 4px solid #3a6ea5; padding: 0.2em 1em; margin: 1em 0; background: #f7f9fc; }
.verdict h3 { margin: 0.4em 0; } .verdict dt { font-weight: 600; margin-top: 0.5em; } .verdict dd { margin: 0.2em 0 0.2em 1.2em; }
.verdict ul { margin: 0.3em 0; padding-left: 1.2em; } .swatch { display: inline-block; width: 0.8em; height: 0.8em;
       border-radius: 2px; margin-right: 0.25em; vertical-align: baseline; }
#tip { position: fixed; display: none; background: #fff; border: 1px solid #888; border-radius: 4px; padding: 0.4em 0.6em;
       font-size: 0.8em; pointer-events: none; box-shadow: 0 2px 6px rgba(0,0,0,0.2); z-index: 3; white-space: pre; }
"""

# Sorts a table by the clicked column: numbers numerically (a leading "> " or "[" is ignored), text alphabetically;
# filters tables and verdicts by dataset; shows a learning-curve point's numbers while the pointer is over it.
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
var filter = document.getElementById("dataset-filter");
function applyFilter() {
  var want = filter.value;
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var column = -1;
    table.querySelectorAll("th").forEach(function (th, i) { if (th.textContent.trim() === "dataset") { column = i; } });
    if (column < 0) { return; }
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      row.hidden = want !== "" && row.cells[column].textContent.trim() !== want;
    });
  });
  document.querySelectorAll("[data-dataset]").forEach(function (el) {
    el.hidden = want !== "" && el.getAttribute("data-dataset") !== want;
  });
}
if (filter) { filter.addEventListener("change", applyFilter); }
var tip = document.getElementById("tip"), points = {};
document.querySelectorAll("script.points").forEach(function (node) {
  JSON.parse(node.textContent).forEach(function (p) { points[p.id] = p; });
});
function describe(p) {
  var lines = [p.dataset + (p.run ? "  (run " + p.run + ")" : ""), p.pair, p.size.toLocaleString("en") + " labels",
               p.metric + " " + p.mean.toFixed(3) + (p.ci ? "  95% CI [" + p.ci[0].toFixed(3) + ", " + p.ci[1].toFixed(3) + "]"
               : "  (1 split: no interval)"), "per split:"];
  Object.keys(p.splits).forEach(function (seed) { lines.push("  seed " + seed + ": " + p.splits[seed].toFixed(3)); });
  return lines.join("\\n");
}
document.querySelectorAll("figure svg g[id^='pt-']").forEach(function (g) {
  var p = points[g.id];
  if (!p) { return; }
  g.style.cursor = "crosshair";
  g.addEventListener("mouseenter", function () { tip.textContent = describe(p); tip.style.display = "block"; });
  g.addEventListener("mousemove", function (e) {
    var x = e.clientX + 14, y = e.clientY + 14;
    if (x + tip.offsetWidth > window.innerWidth) { x = e.clientX - tip.offsetWidth - 14; }
    if (y + tip.offsetHeight > window.innerHeight) { y = e.clientY - tip.offsetHeight - 14; }
    tip.style.left = x + "px"; tip.style.top = y + "px";
  });
  g.addEventListener("mouseleave", function () { tip.style.display = "none"; });
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


def _named(text: str, colours: dict[str, str]) -> str:
    """Escaped ``text`` with a swatch of the figures' colour before each featurizer + model it names."""
    out = html.escape(text)
    names = sorted(colours, key=len, reverse=True)
    if not names:
        return out
    pattern = re.compile("|".join(rf"(?<![\w+]){re.escape(html.escape(n))}(?![\w])" for n in names))
    index = {html.escape(n): n for n in names}
    return pattern.sub(
        lambda m: f'<span class="swatch" style="background:{colours[index[m.group(0)]]}"></span>{m.group(0)}', out
    )


def _verdicts(v: Verdicts, colours: dict[str, str]) -> list[str]:
    parts = [
        '<section id="verdicts">',
        f"<h2>Verdicts: the three questions answered ({html.escape(v.metric)})</h2>",
        f'<p class="meta">Comparisons are two-sided paired t-tests across split seeds (alpha {ALPHA}): every '
        "featurizer and model is scored on the same test set and the same training subsets of each seed. "
        "Intervals are 95% t-intervals of the paired differences.</p>",
    ]
    for d in v.datasets:
        parts += [
            f'<div class="verdict" data-dataset="{html.escape(d.dataset)}"><h3>{html.escape(d.dataset)}</h3><dl>',
            f"<dt>Which representation and model?</dt><dd>{_named(d.which, colours)}</dd>",
            f"<dt>Is a light model enough?</dt><dd>{_named(d.light, colours)}</dd>",
            f"<dt>How many labels?</dt><dd>{_named(d.labels[0], colours)}<ul>"
            + "".join(f"<li>{_named(line, colours)}</li>" for line in d.labels[1:])
            + "</ul></dd></dl></div>",
        ]
    parts += [
        '<div class="verdict"><h3>Across datasets</h3>',
        f"<p>{_named(overall_sentence(v.overall, len(v.datasets)), colours)}</p>",
        '<table class="sortable"><thead><tr><th>rank</th><th>featurizer + model</th><th>mean rank</th>'
        "<th>datasets won</th><th>datasets</th></tr></thead><tbody>",
        *(
            f'<tr><td class="num">{i}</td><td>{_named(" + ".join(r.series), colours)}</td>'
            f'<td class="num">{r.mean_rank:.2f}</td><td class="num">{r.wins}</td><td class="num">{r.datasets}</td></tr>'
            for i, r in enumerate(v.overall, 1)
        ),
        "</tbody></table></div></section>",
    ]
    return parts


def _figure(figure: Figure) -> str:
    caption = f"<figcaption>{html.escape(figure.caption)}</figcaption>"
    if figure.svg:
        points = json.dumps(figure.points).replace("</", "<\\/")
        return (
            f'<figure class="interactive">{figure.svg}{caption}'
            f'<script type="application/json" class="points">{points}</script></figure>'
        )
    data = base64.b64encode(figure.png).decode("ascii")
    return f'<figure><img alt="{html.escape(figure.caption)}" src="data:image/png;base64,{data}">{caption}</figure>'


def _datasets(report: Report) -> list[str]:
    names = {row[0] for t in report.tables if t.header and t.header[0] == "dataset" for row in t.rows}
    if report.verdicts is not None:
        names |= {d.dataset for d in report.verdicts.datasets}
    return sorted(str(n) for n in names)


def render(report: Report) -> str:
    title = report.title or f"enso_ng report: {report.run}"
    datasets = _datasets(report)
    options = "".join(f'<option value="{html.escape(d)}">{html.escape(d)}</option>' for d in datasets)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<div class="bar"><label>Show dataset: <select id="dataset-filter"><option value="">all</option>{options}'
        f'</select></label> <span class="meta">written {datetime.now(UTC).isoformat(timespec="seconds")}; '
        "click a table header to sort; point at a learning-curve point for its numbers.</span></div>",
    ]
    if report.verdicts is not None:
        parts += _verdicts(report.verdicts, report.colours)
    if report.which_labels:
        parts += [
            '<section id="which-labels"><h2>Which labels? Each sampler against the baseline</h2>',
            '<p class="meta">Labels each sampler needs to reach what the baseline reaches at its largest size; the '
            f"saving is tested paired by split seed (alpha {ALPHA}).</p><ul>",
            *(f"<li>{_named(line, report.colours)}</li>" for line in report.which_labels),
            "</ul></section>",
        ]
    for note in report.notes:
        parts.append(f'<p class="meta">{html.escape(note)}</p>')
    parts.append("<h2>Figures</h2>")
    parts += [_figure(f) for f in report.figures]
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
    for config in report.config if isinstance(report.config, list) else [report.config]:
        parts.append(f"<h2>Configuration of {html.escape(config.run)}</h2>")
        parts.append(
            f"<pre>{html.escape(json.dumps(dataclasses.asdict(config), indent=2, sort_keys=True, default=str))}</pre>"
        )
    parts.append(f'<div id="tip" role="tooltip"></div><script>{_SCRIPT}</script></body></html>')
    return "\n".join(parts)


def write_report(report: Report, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(render(report), encoding="utf-8")
    return path
