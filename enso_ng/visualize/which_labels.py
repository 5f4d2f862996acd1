"""Which labels: each label-selection strategy against the run's baseline sampler (random draws).

The question a team can act on is not only how many texts to label but which. For every dataset and
featurizer + model, the target is the score the baseline reaches at its largest size; each sampler's
answer is the labels its mean curve needs to reach that target, and the labels it saves against the
baseline. Whether the saving is real is tested paired by split seed: on each seed both curves are scored
on the same test rows, each seed's labels needed is read from its own curve (a curve that never reaches
the target counts as its largest size, which only understates a saving), and a paired t-test compares
their logarithms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import pyarrow as pa

from enso_ng.tables import format_table
from enso_ng.visualize.curves import plot_series, size_axis
from enso_ng.visualize.labels_needed import crossing
from enso_ng.visualize.ranking import ALPHA, Paired, paired_test
from enso_ng.visualize.style import width
from enso_ng.visualize.summary import Cell, summarize


@dataclass(frozen=True)
class Choice:
    """One sampler on one dataset and featurizer + model, against the baseline."""

    dataset: str
    series: tuple[str, str]
    sampler: str
    baseline: str
    #: the baseline's mean at its largest size: the score every sampler is asked to reach
    target: float
    #: labels the sampler's mean curve needs for the target (None: not reached by its largest size)
    needed: float | None
    baseline_needed: float | None
    largest: int
    #: labels needed per split seed, log scale, sampler against baseline (positive difference: it saves)
    test: Paired

    @property
    def saved(self) -> float | None:
        if self.needed is None or self.baseline_needed is None:
            return None
        return self.baseline_needed - self.needed


def samplers_of(table: pa.Table) -> list[str]:
    return sorted(set(table.column("sampler").to_pylist()))


def baseline_of(table: pa.Table, recorded: str | None) -> str:
    """The sampler the others are compared with: the run's own (its first), else ``stratified``, else the
    first in name order."""
    have = samplers_of(table)
    for name in (recorded, "stratified", "natural"):
        if name in have:
            return name
    return have[0]


def choices(table: pa.Table, metric: str, higher_is_better: bool, baseline: str) -> list[Choice]:
    """Every (dataset, featurizer + model, sampler other than the baseline) with its answer."""
    cells = summarize(table, metric, higher_is_better)
    per_seed = _per_seed(table, metric)
    out = []
    for dataset, featurizer, model in sorted({(c.dataset, c.featurizer, c.model) for c in cells}):
        here = [c for c in cells if (c.dataset, c.featurizer, c.model) == (dataset, featurizer, model)]
        base = sorted((c.train_size, c.mean) for c in here if c.sampler == baseline)
        if not base:
            continue
        target, largest = base[-1][1], base[-1][0]
        base_seeds = per_seed.get((dataset, featurizer, model, baseline), {})
        for sampler in sorted({c.sampler for c in here} - {baseline}):
            curve = sorted((c.train_size, c.mean) for c in here if c.sampler == sampler)
            seeds = per_seed.get((dataset, featurizer, model, sampler), {})
            test = paired_test(
                _log_needed(base_seeds, target, higher_is_better),
                _log_needed(seeds, target, higher_is_better),
            )
            out.append(
                Choice(
                    dataset,
                    (featurizer, model),
                    sampler,
                    baseline,
                    target,
                    crossing(curve, target, higher_is_better),
                    crossing(base, target, higher_is_better),
                    largest,
                    test,
                )
            )
    return out


def _per_seed(table: pa.Table, metric: str) -> dict[tuple, dict[int, list[tuple[int, float]]]]:
    """(dataset, featurizer, model, sampler) -> split seed -> its curve's (size, value) points."""
    out: dict = {}
    names = ("dataset", "featurizer", "model", "sampler", "train_size", "split", "metric", "value")
    for d, f, m, s, size, seed, row_metric, value in zip(*(table.column(n).to_pylist() for n in names)):
        if row_metric == metric:
            out.setdefault((d, f, m, s), {}).setdefault(seed, []).append((size, value))
    return out


def _log_needed(curves: dict[int, list[tuple[int, float]]], target: float, higher: bool) -> dict[int, float]:
    """log(labels needed) per seed; a seed whose curve never reaches the target counts its largest size."""
    out = {}
    for seed, points in curves.items():
        points = sorted(points)
        needed = crossing(points, target, higher)
        out[seed] = math.log(needed if needed is not None else points[-1][0])
    return out


def _labels(value: float | None, largest: int) -> str:
    return f"{value:,.0f}" if value is not None else f"> {largest:,}"


def verdict(c: Choice) -> str:
    """``sst2, bert + logreg: kcenter reaches 0.850 (stratified at 1,000) with 600 labels, 400 fewer
    (significant, p = 0.01 over 5 seeds)``."""
    head = f"{c.dataset}, {' + '.join(c.series)}: {c.sampler}"
    goal = f"{c.target:.3f} ({c.baseline} at {c.largest:,})"
    if c.needed is None:
        return f"{head} does not reach {goal} by {c.largest:,} labels: no saving"
    saved = c.saved or 0.0
    word = "fewer" if saved >= 0 else "more"
    significance = _significance(c.test)
    return f"{head} reaches {goal} with {c.needed:,.0f} labels, {abs(saved):,.0f} {word} ({significance})"


def _significance(test: Paired) -> str:
    if test.seeds < 2:
        return f"{test.seeds} split seed: not testable"
    p = f"p = {test.p_value:.2g}" if math.isfinite(test.p_value) else "p undefined"
    word = {0: "significant saving", 1: "not significant", 2: "significantly more labels"}[test.outcome]
    return f"{word}, {p} over {test.seeds} seeds"


HEADER = (
    "dataset",
    "featurizer + model",
    "sampler",
    "target",
    "labels needed",
    "baseline needs",
    "labels saved",
    "p (paired by seed)",
    "verdict",
)


def row_values(c: Choice) -> tuple:
    saved = "" if c.saved is None else f"{c.saved:,.0f}"
    verdict_word = {0: "saves labels", 1: "no significant difference", 2: "needs more labels"}[c.test.outcome]
    return (
        c.dataset,
        " + ".join(c.series),
        c.sampler,
        f"{c.target:.3f}",
        _labels(c.needed, c.largest),
        _labels(c.baseline_needed, c.largest),
        saved,
        f"{c.test.p_value:.2g}" if math.isfinite(c.test.p_value) else "",
        verdict_word,
    )


def format_choices(rows: list[Choice], metric: str) -> str:
    baseline = rows[0].baseline if rows else "the baseline"
    return (
        f"which labels? ({metric}; target: what {baseline} reaches at its largest size; alpha {ALPHA}):\n"
        + format_table(HEADER, [row_values(c) for c in rows], right=(3, 4, 5, 6, 7))
    )


def sampler_curves(cells: list[Cell], metric: str, title: str, baseline: str, unit: str = "examples") -> plt.Figure:
    """A panel per dataset and featurizer + model, a line per sampler (the baseline dashed) with its 95%
    band, and the target (the baseline's score at its largest size) as a dotted line."""
    panels = sorted({(c.dataset, c.featurizer, c.model) for c in cells})
    samplers = sorted({c.sampler for c in cells})
    colours = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(samplers)}
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width(4.2 * cols + 1.6), 3.2 * rows), squeeze=False)
    for ax, (dataset, featurizer, model) in zip(axes.flat, panels):
        here = [c for c in cells if (c.dataset, c.featurizer, c.model) == (dataset, featurizer, model)]
        for sampler in samplers:
            points = [c for c in here if c.sampler == sampler]
            if points:
                style = "--" if sampler == baseline else "-"
                plot_series(ax, points, metric, colours[sampler], sampler, linestyle=style)
        base = sorted((c for c in here if c.sampler == baseline), key=lambda c: c.train_size)
        if base:
            ax.axhline(base[-1].mean, color="grey", linestyle=":", linewidth=1)
        size_axis(ax, sorted({c.train_size for c in here}), f"labelled training {unit}")
        ax.set_title(f"{dataset}: {featurizer} + {model}", fontsize=9)
        ax.set_ylabel(metric)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    handles = [plt.Line2D([], [], color=colours[s], linestyle="--" if s == baseline else "-") for s in samplers]
    fig.legend(handles, samplers, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, title="sampler")
    fig.suptitle(f"{title}: which labels? {metric} by sampler (dotted: {baseline} at its largest size)")
    fig.tight_layout()
    return fig
