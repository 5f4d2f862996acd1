"""A figure the report embeds as inline SVG, with the numbers behind each hoverable point.

Matplotlib writes each hover target (see :func:`enso_ng.visualize.curves.plot_series`) as an SVG group
with its id; the report's own script shows the point's record when the pointer is over that group. No
library and no network: the markup and the records travel inside ``report.html``.
"""

from __future__ import annotations

import io
import math
import re

import matplotlib
import matplotlib.pyplot as plt

from enso_ng.visualize.curves import Hover


def svg_markup(fig: plt.Figure) -> str:
    """The figure as an ``<svg>`` element to inline in HTML: text kept as text, ids stable between runs."""
    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "enso_ng"}):
        fig.savefig(out, format="svg", dpi=90, bbox_inches="tight", metadata={"Date": None})
    text = out.getvalue()
    text = text[text.index("<svg") :]
    # Inside HTML the parser puts <svg> and xlink:href in their namespaces itself; the declarations and the
    # RDF metadata are only URIs that name things, but a page that mentions no URL is plainly self-contained.
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)


def hover_records(points: list[Hover], values: dict[tuple[str, str], dict]) -> list[dict]:
    """One record per hover target: what the tooltip says. ``values`` maps (run, metric) to
    :func:`enso_ng.visualize.summary.split_values` of that run's table for that metric."""
    records = []
    for p in points:
        c = p.cell
        splits = values.get((p.run, p.metric), {}).get((c.dataset, c.train_size), {}).get((c.featurizer, c.model), {})
        records.append(
            {
                "id": p.gid,
                "run": p.run,
                "dataset": c.dataset,
                "pair": f"{c.featurizer} + {c.model}",
                "size": c.train_size,
                "metric": p.metric,
                "mean": round(c.mean, 4),
                "ci": None if math.isnan(c.ci_low) else [round(c.ci_low, 4), round(c.ci_high, 4)],
                "splits": {str(seed): round(v, 4) for seed, v in sorted(splits.items())},
            }
        )
    return records
