"""Two runs side by side (``enso visualize --run A --run B``): before and after a change of model,
parameters or protocol, on the datasets they share.

Where both runs drew the same splits (same split-defining protocol, same data, and split seeds in
common), a cell's two values on one seed were scored on the same test rows from the same training
subset, so the per-seed differences are paired and tested as such. Otherwise the runs are compared as
independent samples (Welch's t-test), and the page says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from enso_ng.errors import EnsoError
from enso_ng.formats import RunRecord
from enso_ng.tables import format_table
from enso_ng.visualize.curves import Hover, plot_series, size_axis
from enso_ng.visualize.ranking import ALPHA, paired_test
from enso_ng.visualize.style import Palette, width
from enso_ng.visualize.summary import Cell

#: what decides which rows a split seed puts in the test set and in each training subset
SPLIT_KEYS = ("seed", "test_size", "sampler", "official_test")


@dataclass(frozen=True)
class Difference:
    """One cell (dataset, featurizer, model, size) in both runs: ``b - a`` and how sure it is."""

    before: Cell
    after: Cell
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    #: -1 worse, 0 no significant difference, 1 better (in the metric's direction)
    outcome: int
    #: "paired, 5 splits" or "unpaired (Welch): <why the splits differ>"
    test: str
    #: the means the difference is of: over the seeds both runs hold where paired, each run's own if not
    before_mean: float
    after_mean: float


def splits_differ(a: RunRecord, b: RunRecord, dataset: str) -> str:
    """Why the two runs' splits of ``dataset`` are not the same rows; "" where they are."""
    for key in SPLIT_KEYS:
        if a.config.get(key) != b.config.get(key):
            return f"{key} {a.config.get(key)} vs {b.config.get(key)}"
    da, db = a.datasets.get(dataset, {}), b.datasets.get(dataset, {})
    prints = [{f.get("dataset_fingerprint") for f in d.get("features", {}).values()} for d in (da, db)]
    if prints[0] != prints[1]:
        return "the dataset changed between the runs (fingerprints differ)"
    for key in ("test_rows", "pool_rows"):
        if da.get(key) != db.get(key):
            return f"{key.replace('_', ' ')} {da.get(key)} vs {db.get(key)}"
    if not set(a.split_seeds) & set(b.split_seeds):
        return "no split seed in common"
    return ""


def compare(
    before: list[Cell], after: list[Cell], values: tuple[dict, dict], records: tuple[RunRecord, RunRecord]
) -> list[Difference]:
    """Every cell both runs hold, on the datasets they share; ``values`` are each run's ``split_values``."""
    shared = sorted({c.dataset for c in before} & {c.dataset for c in after})
    if not shared:
        raise EnsoError(
            f"runs {records[0].run!r} and {records[1].run!r} share no dataset "
            f"({', '.join(sorted({c.dataset for c in before}))} vs {', '.join(sorted({c.dataset for c in after}))})"
        )
    index = {(c.dataset, c.featurizer, c.model, c.train_size): c for c in after}
    why = {d: splits_differ(*records, d) for d in shared}
    out = []
    for a in before:
        key = (a.dataset, a.featurizer, a.model, a.train_size)
        b = index.get(key)
        if b is None:
            continue
        va = values[0].get((a.dataset, a.train_size), {}).get((a.featurizer, a.model), {})
        vb = values[1].get((b.dataset, b.train_size), {}).get((b.featurizer, b.model), {})
        out.append(_difference(a, b, va, vb, why[a.dataset]))
    return out


def _difference(a: Cell, b: Cell, va: dict, vb: dict, why: str) -> Difference:
    sign = 1 if a.higher_is_better else -1
    if not why:
        test = paired_test(vb, va, a.higher_is_better)
        outcome = {0: 1, 1: 0, 2: -1}[test.outcome]
        common = sorted(set(va) & set(vb))
        label = f"paired, {test.seeds} splits" + ("" if len(common) == max(len(va), len(vb)) else " in common")
        return Difference(
            a,
            b,
            test.difference,
            test.ci_low,
            test.ci_high,
            test.p_value,
            outcome,
            label,
            float(np.mean([va[s] for s in common])),
            float(np.mean([vb[s] for s in common])),
        )
    x, y = np.array(list(vb.values()), dtype=float), np.array(list(va.values()), dtype=float)
    diff = float(x.mean() - y.mean())
    means = (float(y.mean()), float(x.mean()))
    if len(x) < 2 or len(y) < 2:
        return Difference(
            a, b, diff, math.nan, math.nan, math.nan, 0, f"unpaired ({why}); too few splits to test", *means
        )
    result = stats.ttest_ind(x, y, equal_var=False)
    p = float(result.pvalue)
    low, high = result.confidence_interval(0.95)
    outcome = (1 if sign * diff > 0 else -1) if p < ALPHA else 0
    if math.isnan(p):  # no spread in either run
        outcome = 0 if diff == 0 else (1 if sign * diff > 0 else -1)
    return Difference(a, b, diff, float(low), float(high), p, outcome, f"unpaired (Welch; {why})", *means)


HEADER = ("dataset", "featurizer + model", "size", "before", "after", "after - before", "95% CI", "p", "test")


def row_values(d: Difference) -> tuple:
    interval = "undefined" if math.isnan(d.ci_low) else f"[{d.ci_low:+.3f}, {d.ci_high:+.3f}]"
    p = "" if math.isnan(d.p_value) else ("< 0.001" if d.p_value < 0.001 else f"{d.p_value:.3f}")
    return (
        d.before.dataset,
        f"{d.before.featurizer} + {d.before.model}",
        d.before.train_size,
        f"{d.before_mean:.3f}",
        f"{d.after_mean:.3f}",
        f"{d.difference:+.3f}",
        interval,
        p,
        d.test,
    )


def summary_lines(diffs: list[Difference], names: tuple[str, str]) -> list[str]:
    """Per dataset: in how many cells the second run is better, worse, or not significantly different."""
    lines = []
    for dataset in sorted({d.before.dataset for d in diffs}):
        here = [d for d in diffs if d.before.dataset == dataset]
        better, worse = sum(d.outcome == 1 for d in here), sum(d.outcome == -1 for d in here)
        kind = "paired" if here[0].test.startswith("paired") else here[0].test
        lines.append(
            f"{dataset}: {names[1]} is better than {names[0]} in {better} of {len(here)} cells, worse in {worse}, "
            f"not significantly different in {len(here) - better - worse} ({kind}; alpha {ALPHA})."
        )
    return lines


def format_comparison(diffs: list[Difference], names: tuple[str, str], metric: str) -> str:
    return "\n".join(
        [
            f"{names[1]} against {names[0]} ({metric}; after - before):",
            *summary_lines(diffs, names),
            format_table(HEADER, [row_values(d) for d in diffs], right=(2, 3, 4, 5, 7), rule=True),
        ]
    )


def comparison_curves(
    runs: tuple[list[Cell], list[Cell]],
    names: tuple[str, str],
    metric: str,
    colours: Palette,
    hover: list[Hover] | None = None,
    size_unit: str = "examples",
) -> plt.Figure:
    """A panel per shared dataset: each pair in its colour, the first run dashed, the second solid."""
    datasets = sorted({c.dataset for c in runs[0]} & {c.dataset for c in runs[1]})
    columns = min(2, len(datasets))
    rows = math.ceil(len(datasets) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width(4.6 * columns + 2.8), 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(datasets) :]:
        ax.set_visible(False)
    for ax, dataset in zip(axes.flat, datasets):
        for cells, name, style in ((runs[0], names[0], "--"), (runs[1], names[1], "-")):
            for series, colour in colours.items():
                points = [c for c in cells if c.dataset == dataset and (c.featurizer, c.model) == series]
                if points:
                    label = f"{' + '.join(series)} ({name})"
                    plot_series(ax, points, metric, colour, label, hover, run=name, linestyle=style)
        size_axis(
            ax, sorted({c.train_size for c in runs[0] + runs[1] if c.dataset == dataset}), f"labelled {size_unit}"
        )
        ax.set_title(dataset)
        ax.set_ylabel(metric)
    handles, labels = [], []
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    fig.legend(
        handles,
        labels,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        frameon=False,
        title="dashed: before, solid: after",
    )
    fig.suptitle(f"{names[1]} (solid) against {names[0]} (dashed): {metric}, mean and 95% CI")
    fig.tight_layout()
    return fig
