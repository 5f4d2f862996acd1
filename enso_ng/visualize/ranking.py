"""Which featurizer x model wins: mean ranks across datasets, and paired win/tie/loss counts.

The win/tie/loss test is a two-sided paired t-test across split seeds at alpha = 0.05: two series are
compared on the same test set and the same nested training subsets of each seed, so the per-seed
differences are the right unit, and with 3-10 seeds the t-test (not the Wilcoxon signed-rank test, whose
smallest two-sided p-value with 5 pairs is 0.0625) can detect a consistent difference at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from enso_ng.tables import format_table
from enso_ng.visualize.style import text_colour, width
from enso_ng.visualize.summary import Cell

ALPHA = 0.05


def mean_ranks(cells: list[Cell], metric: str) -> tuple[list[tuple[str, str]], list[int], np.ndarray]:
    """(series, sizes, ranks[series, size]): rank 1 is best within each dataset and size, averaged over datasets."""
    series = sorted({(c.featurizer, c.model) for c in cells})
    sizes = sorted({c.train_size for c in cells})
    sign = -1 if cells and cells[0].higher_is_better else 1
    sums = np.zeros((len(series), len(sizes)))
    counts = np.zeros((len(series), len(sizes)))
    for j, size in enumerate(sizes):
        for dataset in sorted({c.dataset for c in cells}):
            here = [c for c in cells if c.dataset == dataset and c.train_size == size]
            if len(here) < 2:
                continue
            ranks = stats.rankdata([sign * c.mean for c in here])  # ties share the average rank
            for cell, rank in zip(here, ranks):
                i = series.index((cell.featurizer, cell.model))
                sums[i, j] += rank
                counts[i, j] += 1
    with np.errstate(invalid="ignore"):
        return series, sizes, np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def rank_heatmap(cells: list[Cell], metric: str, title: str) -> plt.Figure:
    """Mean ranks as a heat map, each number in black or white, whichever contrasts with its cell."""
    series, sizes, ranks = mean_ranks(cells, metric)
    fig, ax = plt.subplots(figsize=(width(1.2 + 0.9 * len(sizes) + 2.5), 1.2 + 0.45 * len(series)))
    image = ax.imshow(ranks, cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(sizes)), [str(s) for s in sizes])
    ax.set_yticks(range(len(series)), [" + ".join(s) for s in series])
    ax.set_xlabel("training size")
    ax.set_ylabel("featurizer + model")
    for i in range(len(series)):
        for j in range(len(sizes)):
            if not np.isnan(ranks[i, j]):
                shade = text_colour(image.cmap(image.norm(ranks[i, j])))
                ax.text(j, i, f"{ranks[i, j]:.1f}", ha="center", va="center", color=shade, fontsize=9)

    fig.colorbar(image, ax=ax, label="mean rank (1 = best)")
    ax.set_title(f"{title}: mean rank by {metric} across datasets")
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class Record:
    series: tuple[str, str]
    wins: int
    ties: int
    losses: int


def win_tie_loss(values: dict, metric: str, alpha: float = ALPHA, higher_is_better: bool = True) -> list[Record]:
    """For each series: against every other series in every (dataset, size), a paired t-test across seeds.

    ``values`` is :func:`enso_ng.visualize.summary.split_values`. Fewer than two shared seeds, or identical
    scores, count as a tie.
    """
    tally: dict[tuple[str, str], list[int]] = {}
    for per_series in values.values():
        names = sorted(per_series)
        for a in names:
            tally.setdefault(a, [0, 0, 0])
            for b in names:
                if a != b:
                    tally[a][paired_outcome(per_series[a], per_series[b], higher_is_better, alpha)] += 1
    return sorted((Record(s, *t) for s, t in tally.items()), key=lambda r: (-(r.wins - r.losses), r.series))


@dataclass(frozen=True)
class Paired:
    """Series ``a`` against ``b`` on the split seeds both have: the per-seed differences and their test."""

    #: 0 if ``a`` wins, 1 a tie, 2 a loss
    outcome: int
    #: mean of ``a - b`` in the metric's own units (positive: ``a`` scored higher)
    difference: float
    #: 95% t-interval of that mean; NaN with fewer than two seeds
    ci_low: float
    ci_high: float
    #: two-sided paired t-test; 0 for the same non-zero difference on every seed, 1 where nothing differs
    p_value: float
    seeds: int


def paired_test(
    a: dict[int, float], b: dict[int, float], higher_is_better: bool = True, alpha: float = ALPHA
) -> Paired:
    """A two-sided paired t-test of ``a`` against ``b`` over the split seeds both have.

    Fewer than two shared seeds, or identical scores, are a tie; the same non-zero difference on every seed
    (no variance to test) is a win or a loss.
    """
    seeds = sorted(set(a) & set(b))
    raw = np.array([a[s] - b[s] for s in seeds], dtype=float)
    diff = (1 if higher_is_better else -1) * raw
    mean = float(raw.mean()) if len(raw) else float("nan")
    if len(diff) < 2:
        return Paired(1, mean, float("nan"), float("nan"), float("nan"), len(diff))
    half = float(stats.t.ppf(0.975, len(raw) - 1) * raw.std(ddof=1) / np.sqrt(len(raw)))
    low, high = mean - half, mean + half
    if np.allclose(diff, diff[0], rtol=1e-9, atol=1e-12):
        if abs(diff[0]) <= 1e-12:
            return Paired(1, mean, low, high, 1.0, len(diff))
        return Paired(0 if diff[0] > 0 else 2, mean, mean, mean, 0.0, len(diff))
    p = float(stats.ttest_rel(diff, np.zeros_like(diff)).pvalue)
    outcome = (0 if diff.mean() > 0 else 2) if p < alpha else 1
    return Paired(outcome, mean, low, high, p, len(diff))


def paired_outcome(
    a: dict[int, float], b: dict[int, float], higher_is_better: bool = True, alpha: float = ALPHA
) -> int:
    """0 if ``a`` wins, 1 a tie, 2 a loss (see :func:`paired_test`)."""
    return paired_test(a, b, higher_is_better, alpha).outcome


def format_records(records: list[Record]) -> str:
    header = ("featurizer + model", "wins", "ties", "losses")
    rows = [(" + ".join(r.series), r.wins, r.ties, r.losses) for r in records]
    return format_table(header, rows, right=(1, 2, 3))
