"""How many labels until a metric reaches a threshold: the budget question, answered per representation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.patches import Patch

from enso_ng.tables import format_table
from enso_ng.visualize.style import Palette, series_colours
from enso_ng.visualize.summary import Cell


@dataclass(frozen=True)
class Needed:
    dataset: str
    series: tuple[str, str]
    #: interpolated size at which the mean first reaches the threshold; None if it never does
    size: float | None
    largest_tried: int


def labels_needed(cells: list[Cell], metric: str, threshold: float) -> list[Needed]:
    """The smallest size where the mean curve crosses ``threshold``, interpolated linearly in log(size).

    Below the smallest size tried the answer is "at most the smallest size"; the smallest size is returned.
    """
    higher = not cells or cells[0].higher_is_better
    better = (lambda v: v >= threshold) if higher else (lambda v: v <= threshold)
    out = []
    for dataset in sorted({c.dataset for c in cells}):
        for series in sorted({(c.featurizer, c.model) for c in cells if c.dataset == dataset}):
            points = sorted(
                (c.train_size, c.mean) for c in cells if c.dataset == dataset and (c.featurizer, c.model) == series
            )
            size = None
            for k, (n, value) in enumerate(points):
                if better(value):
                    if k == 0:
                        size = float(n)
                    else:
                        (n0, v0) = points[k - 1]
                        t = (threshold - v0) / (value - v0)
                        size = float(math.exp(math.log(n0) + t * (math.log(n) - math.log(n0))))
                    break
            out.append(Needed(dataset, series, size, points[-1][0]))
    return out


def format_needed(rows: list[Needed], metric: str, threshold: float) -> str:
    header = ("dataset", "featurizer + model", f"labels for {metric} {threshold:g}")
    body = [
        (r.dataset, " + ".join(r.series), f"{r.size:,.0f}" if r.size is not None else f"> {r.largest_tried:,}")
        for r in rows
    ]
    return format_table(header, body, right=(2,))


def labels_needed_plot(
    rows: list[Needed], cells: list[Cell], metric: str, threshold: float, title: str, colours: Palette | None = None
) -> plt.Figure:
    """Horizontal bars per dataset: labels needed (log scale); hatched where the threshold was not reached."""
    colours = colours or series_colours(cells)
    datasets = sorted({r.dataset for r in rows})
    series = list(colours)
    fig, ax = plt.subplots(figsize=(7.5, 1.0 + 0.28 * len(rows) + 0.3 * len(datasets)))
    y, ticks, labels = 0.0, [], []
    for dataset in datasets:
        for key in series:
            row = next((r for r in rows if r.dataset == dataset and r.series == key), None)
            if row is None:
                continue
            reached = row.size is not None
            ax.barh(
                y,
                row.size if reached else row.largest_tried,
                color=colours[key],
                hatch=None if reached else "//",
                alpha=1.0 if reached else 0.35,
                label=" + ".join(key),
            )
            ticks.append(y)
            labels.append(f"{dataset}: {' + '.join(key)}")
            y += 1
        y += 0.6
    sizes = sorted({c.train_size for c in cells})
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])  # the sizes tried, not 2 x 10^2: no labels overlap
    ax.minorticks_off()
    ax.set_xlim(sizes[0] / 1.5, sizes[-1] * 1.15)
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"labelled examples to reach {metric} {threshold:g} (hatched: not reached by the largest size)")
    ax.set_title(f"{title}: labels needed for {metric} {threshold:g}")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    shown = {r.series for r in rows}
    handles = [Patch(color=colours[key], label=" + ".join(key)) for key in series if key in shown]
    handles.append(Patch(facecolor="white", edgecolor="grey", hatch="//", label="not reached"))
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return fig
