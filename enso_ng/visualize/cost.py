"""Accuracy against cost: what each featurizer x model costs per document for what it scores.

The decision a practitioner makes is a trade, so the chart puts inference time per document (the
featurizer's time included) on a log x axis and the metric, with its interval, on y. A pair is on the
Pareto front when no other pair is at least as cheap and strictly better, or cheaper and at least as good.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from enso_ng.formats import CELL_KEY
from enso_ng.visualize.style import Palette, series_colours, width
from enso_ng.visualize.summary import Cell, better


@dataclass(frozen=True)
class CostPoint:
    cell: Cell
    #: mean inference milliseconds per document across split seeds (featurizer included)
    ms_per_doc: float
    fit_seconds: float
    #: the highest 1-minute load average per core its timings were taken under; None where not recorded
    load: float | None = None
    pareto: bool = False

    @property
    def loaded(self) -> bool:
        """Timed while other work shared the cores (load above one per core): its times read high."""
        return self.load is not None and self.load > LOADED


#: load average per core above which a timing is flagged as taken on a loaded machine
LOADED = 1.0


def mean_costs(table: pa.Table, metric: str) -> dict[tuple, tuple[float, float, float | None]]:
    """(dataset, featurizer, model, sampler, size) -> (ms per document, fit seconds), means over split seeds, and the
    highest load per core they were measured under (None where the run did not record it)."""
    names = (*CELL_KEY, "metric", "predict_seconds_per_1k", "fit_seconds", "load_per_core")
    columns = [table.column(c).to_pylist() for c in names]
    sums: dict[tuple, list] = {}
    for *key, row_metric, per_1k, fit, load in zip(*columns):
        if row_metric == metric and per_1k is not None:
            sums.setdefault(tuple(key), []).append((per_1k, fit, load))
    out = {}
    for key, values in sums.items():
        loads = [v[2] for v in values if v[2] is not None]
        out[key] = (
            float(np.mean([v[0] for v in values])),
            float(np.mean([v[1] for v in values])),
            max(loads, default=None),
        )
    return out


def cost_points(cells: list[Cell], costs: dict[tuple, tuple[float, float]]) -> list[CostPoint]:
    """Cells that have a measured cost, with their Pareto flag within each dataset and size."""
    points = [
        CostPoint(c, *costs[k]) for c in cells if (k := (c.dataset, c.featurizer, c.model, c.sampler, c.train_size)) in costs
    ]
    out = []
    for p in points:
        rivals = [q for q in points if (q.cell.dataset, q.cell.train_size) == (p.cell.dataset, p.cell.train_size)]
        dominated = any(
            q is not p
            and q.ms_per_doc <= p.ms_per_doc
            and not better(p.cell.mean, q.cell.mean, p.cell.higher_is_better)
            and (q.ms_per_doc < p.ms_per_doc or better(q.cell.mean, p.cell.mean, p.cell.higher_is_better))
            for q in rivals
        )
        out.append(CostPoint(p.cell, p.ms_per_doc, p.fit_seconds, p.load, pareto=not dominated))
    return out


def _panel(ax: plt.Axes, here: list[CostPoint], colours: Palette, subs: tuple[float, ...]) -> None:
    """One dataset and size: each pair's mean and interval against its cost, the Pareto front joined."""
    for p in here:
        c = p.cell
        ax.errorbar(
            p.ms_per_doc,
            c.mean,
            yerr=[[c.mean - c.ci_low], [c.ci_high - c.mean]],
            fmt="o",
            color=colours[(c.featurizer, c.model)],
            markersize=6 if p.pareto else 4,
            capsize=2,
            markeredgecolor="black" if p.pareto else "none",
            label=f"{c.featurizer} + {c.model}",
        )
    front = sorted((p for p in here if p.pareto), key=lambda p: p.ms_per_doc)
    if len(front) > 1:
        ax.plot([p.ms_per_doc for p in front], [p.cell.mean for p in front], "--", color="grey", lw=1)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())  # 2 x 10^0, 3 x 10^0 ... overlapped
    ax.grid(True, alpha=0.3)
    ax.set_xlabel("inference ms per document", fontsize=8)


def cost_accuracy(points: list[CostPoint], metric: str, title: str, colours: Palette | None = None) -> plt.Figure:
    """A panel per dataset (rows) and size (columns); the Pareto front joined by a line."""
    datasets = sorted({p.cell.dataset for p in points})
    sizes = sorted({p.cell.train_size for p in points})
    colours = colours or series_colours([p.cell for p in points])
    shown = {(p.cell.featurizer, p.cell.model) for p in points}
    columns = min(3, len(sizes))  # sizes wrap onto more rows, so the chart stays laptop-wide
    per_dataset = math.ceil(len(sizes) / columns)
    fig, axes = plt.subplots(
        len(datasets) * per_dataset,
        columns,
        figsize=(width(3.0 * columns + 2.6), 2.7 * len(datasets) * per_dataset),
        squeeze=False,
    )
    costs = [p.ms_per_doc for p in points if p.ms_per_doc > 0]
    decades = math.log10(max(costs) / min(costs)) if costs else 0.0
    subs = (1.0,) if decades > 2 else (1.0, 2.0, 5.0)  # ticks at 1, 2, 5 where one or two decades show
    for d, dataset in enumerate(datasets):
        for k in range(len(sizes), per_dataset * columns):  # the empty end of a dataset's last row
            axes[d * per_dataset + k // columns, k % columns].set_visible(False)
        ours = [p.cell for p in points if p.cell.dataset == dataset]
        span = (min(c.ci_low if c.n > 1 else c.mean for c in ours), max(c.ci_high if c.n > 1 else c.mean for c in ours))
        pad = 0.05 * (span[1] - span[0]) or 0.01
        for k, size in enumerate(sizes):
            row, col = d * per_dataset + k // columns, k % columns
            ax = axes[row, col]
            ax.set_ylim(span[0] - pad, span[1] + pad)  # one scale per dataset, as the panels are compared
            here = [p for p in points if p.cell.dataset == dataset and p.cell.train_size == size]
            _panel(ax, here, colours, subs)
            ax.set_title(f"{dataset}, {size} labels", fontsize=9)
            if col == 0:
                ax.set_ylabel(metric)
    handles = [
        Line2D([], [], marker="o", ls="", color=colour, label=" + ".join(key))
        for key, colour in colours.items()
        if key in shown
    ]
    fig.legend(
        handles=handles,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        frameon=False,
        title="featurizer + model (ringed: Pareto front)",
    )
    fig.suptitle(f"{title}: {metric} against inference cost (mean, 95% CI)")
    fig.tight_layout()
    return fig
