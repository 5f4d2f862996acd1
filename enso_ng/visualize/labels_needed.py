"""How many labels until a metric reaches a threshold: the budget question, answered per representation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.patches import Patch

from enso_ng.tables import format_table
from enso_ng.visualize.style import Palette, series_colours
from enso_ng.visualize.summary import Cell

#: without ``--threshold``, "labels needed" asks for this share of the best mean any pair reaches on the
#: dataset: a target every run can answer (a fixed 0.8 is never reached on a hard dataset, always at once
#: on an easy one), read as "labels to come within 5% of the best this run found"
RELATIVE_TARGET = 0.95


@dataclass(frozen=True)
class Needed:
    dataset: str
    series: tuple[str, str]
    #: interpolated size at which the mean first reaches the threshold; None if it never does
    size: float | None
    largest_tried: int
    #: the score asked for on this dataset
    target: float = math.nan


def target_of(cells: list[Cell], threshold: float | None) -> float:
    """The score asked for on one dataset's cells: ``threshold``, else :data:`RELATIVE_TARGET` of the best
    mean (for a lower-is-better metric, the best divided by it)."""
    if threshold is not None:
        return threshold
    higher = not cells or cells[0].higher_is_better
    best = max(c.mean for c in cells) if higher else min(c.mean for c in cells)
    return best * RELATIVE_TARGET if higher else best / RELATIVE_TARGET


def target_words(metric: str, threshold: float | None, cells: list[Cell] | None = None) -> str:
    """``accuracy 0.8``; without a threshold ``accuracy 0.703 (95% of the best, 0.740)`` for one dataset's
    cells, or ``95% of the best accuracy`` for several datasets."""
    if threshold is not None:
        return f"{metric} {threshold:g}"
    share = f"{RELATIVE_TARGET:.0%}"
    if cells is None:
        return f"{share} of the best {metric}"
    higher = not cells or cells[0].higher_is_better
    best = max(c.mean for c in cells) if higher else min(c.mean for c in cells)
    return f"{metric} {target_of(cells, None):.3f} ({share} of the best, {best:.3f})"


def labels_needed(cells: list[Cell], metric: str, threshold: float | None) -> list[Needed]:
    """The smallest size where the mean curve crosses the target (``threshold``, or per dataset
    :func:`target_of`), interpolated linearly in log(size).

    Below the smallest size tried the answer is "at most the smallest size"; the smallest size is returned.
    """
    higher = not cells or cells[0].higher_is_better
    out = []
    for dataset in sorted({c.dataset for c in cells}):
        target = target_of([c for c in cells if c.dataset == dataset], threshold)
        for series in sorted({(c.featurizer, c.model) for c in cells if c.dataset == dataset}):
            points = sorted(
                (c.train_size, c.mean) for c in cells if c.dataset == dataset and (c.featurizer, c.model) == series
            )
            out.append(Needed(dataset, series, crossing(points, target, higher), points[-1][0], target))
    return out


def crossing(points: list[tuple[int, float]], target: float, higher: bool = True) -> float | None:
    """The size where a curve of (size, value) points, sorted by size, first reaches ``target``,
    interpolated linearly in log(size); the smallest size where it starts there; None where it never does."""
    for k, (n, value) in enumerate(points):
        if (value >= target) if higher else (value <= target):
            if k == 0:
                return float(n)
            (n0, v0) = points[k - 1]
            t = (target - v0) / (value - v0)
            return float(math.exp(math.log(n0) + t * (math.log(n) - math.log(n0))))
    return None


def format_needed(rows: list[Needed], metric: str, threshold: float | None) -> str:
    header = ("dataset", "featurizer + model", "target", f"labels for {target_words(metric, threshold)}")
    body = [
        (
            r.dataset,
            " + ".join(r.series),
            f"{r.target:.3f}",
            f"{r.size:,.0f}" if r.size is not None else f"> {r.largest_tried:,}",
        )
        for r in rows
    ]
    return format_table(header, body, right=(2, 3))


def labels_needed_plot(
    rows: list[Needed],
    cells: list[Cell],
    metric: str,
    threshold: float | None,
    title: str,
    colours: Palette | None = None,
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
    ax.set_xlabel(
        f"labelled examples to reach {target_words(metric, threshold)} (hatched: not reached by the largest size)"
    )
    ax.set_title(f"{title}: labels needed for {target_words(metric, threshold)}")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    shown = {r.series for r in rows}
    handles = [Patch(color=colours[key], label=" + ".join(key)) for key in series if key in shown]
    handles.append(Patch(facecolor="white", edgecolor="grey", hatch="//", label="not reached"))
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return fig
