"""Summaries of a results file: mean, spread and a confidence interval across split seeds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy import stats

from enso_ng.errors import EnsoError
from enso_ng.formats import CELL_KEY, read_results
from enso_ng.tables import format_table as text_table


@dataclass(frozen=True)
class Cell:
    dataset: str
    featurizer: str
    model: str
    train_size: int
    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    #: the metric's declared direction (from the run's config.json)
    higher_is_better: bool = True
    #: how its training subsets were drawn or selected
    sampler: str = "stratified"


def load_results(path: Path) -> pa.Table:
    table = read_results(path)
    if table.num_rows == 0:
        raise EnsoError(f"{path}: no results in this run")
    return table


def filter_results(
    table: pa.Table,
    datasets: list[str] | None = None,
    featurizers: list[str] | None = None,
    models: list[str] | None = None,
) -> pa.Table:
    """Only the rows of the given datasets, featurizers and models; a filter that matches nothing is an error."""
    import pyarrow.compute as pc

    for column, wanted in (("dataset", datasets), ("featurizer", featurizers), ("model", models)):
        if not wanted:
            continue
        have = set(table.column(column).to_pylist())
        unknown = [w for w in wanted if w not in have]
        if unknown:
            raise EnsoError(f"no {column} {unknown[0]!r} in these results (has: {', '.join(sorted(have))})")
        table = table.filter(pc.is_in(table.column(column), value_set=pa.array(wanted)))
    return table


def split_values(table: pa.Table, metric: str) -> dict[tuple[str, int], dict[tuple[str, str], dict[int, float]]]:
    """(dataset, size) -> (featurizer, model) -> split seed -> value: the pairs a paired test compares."""
    out: dict = {}
    columns = [
        table.column(c).to_pylist()
        for c in ("dataset", "train_size", "featurizer", "model", "split", "metric", "value")
    ]
    for dataset, size, featurizer, model, split, row_metric, value in zip(*columns):
        if row_metric == metric:
            out.setdefault((dataset, size), {}).setdefault((featurizer, model), {})[split] = value
    return out


def summarize(table: pa.Table, metric: str, higher_is_better: bool = True) -> list[Cell]:
    """One :class:`Cell` per dataset x featurizer x model x sampler x size: mean, sample std, 95% t-interval."""
    metrics = set(table.column("metric").to_pylist())
    if metric not in metrics:
        raise EnsoError(f"metric {metric!r} is not in these results (has: {', '.join(sorted(metrics))})")
    groups: dict[tuple, list[float]] = {}
    columns = [table.column(c).to_pylist() for c in (*CELL_KEY, "metric", "value")]
    for *key, row_metric, value in zip(*columns):
        if row_metric == metric:
            groups.setdefault(tuple(key), []).append(value)
    # A score whose every value lies in [0, 1] and where higher is better (accuracy, F1, AUC) cannot leave
    # [0, 1]: its interval is clipped there. With 2 splits t(0.975, 1) = 12.7 makes the interval wide enough
    # to pass 1; a loss (lower is better, unbounded above) is never clipped.
    unit = higher_is_better and all(0.0 <= x <= 1.0 for values in groups.values() for x in values)
    cells = []
    for key, values in sorted(groups.items()):
        v = np.asarray(values, dtype=float)
        mean = float(v.mean())
        # one split has no spread to measure: the interval is undefined (NaN), not zero-width
        std = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
        half = float(stats.t.ppf(0.975, len(v) - 1) * std / np.sqrt(len(v))) if len(v) > 1 else float("nan")
        low, high = mean - half, mean + half
        if unit and len(v) > 1:
            low, high = max(low, 0.0), min(high, 1.0)
        cells.append(
            Cell(
                **dict(zip(CELL_KEY, key)),
                n=len(v),
                mean=mean,
                std=std,
                ci_low=low,
                ci_high=high,
                higher_is_better=higher_is_better,
            )
        )
    return cells


def best_table(cells: list[Cell]) -> list[Cell]:
    """The best featurizer x model per dataset, sampler and size (by mean, in the metric's direction)."""
    best: dict[tuple[str, str, int], Cell] = {}
    for cell in cells:
        key = (cell.dataset, cell.sampler, cell.train_size)
        if key not in best or better(cell.mean, best[key].mean, cell.higher_is_better):
            best[key] = cell
    return [best[k] for k in sorted(best)]


def best_lines(results: pa.Table, metric: str, higher_is_better: bool) -> list[str]:
    """What ``enso experiment`` prints after a run: the best pair per dataset and size."""
    cells = summarize(results, metric, higher_is_better)
    return [
        "best featurizer x model per dataset and size (all cells: enso visualize):",
        format_table(best_table(cells), metric),
    ]


def format_table(cells: list[Cell], metric: str) -> str:
    """A plain-text table for the terminal (with a sampler column where the cells have several)."""
    header = ("dataset", "featurizer", "model", "size", metric, "95% CI", "splits")
    rows = [(c.dataset, c.featurizer, c.model, c.train_size, f"{c.mean:.3f}", _interval(c), c.n) for c in cells]
    if len({c.sampler for c in cells}) > 1:
        header = (*header[:3], "sampler", *header[3:])
        rows = [(*row[:3], c.sampler, *row[3:]) for row, c in zip(rows, cells)]
    return text_table(header, rows, right=range(len(header) - 4, len(header)), rule=True)


def better(a: float, b: float, higher_is_better: bool) -> bool:
    """Is ``a`` strictly better than ``b``?"""
    return a > b if higher_is_better else a < b


def _interval(c: Cell) -> str:
    if c.n < 2:
        return "undefined (1 split)"
    return f"[{c.ci_low:.3f}, {c.ci_high:.3f}]"
