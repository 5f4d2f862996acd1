"""Strategies side by side: the best pair of each strategy per dataset and size, its cost, and how it
fares against the best pair of every other strategy on the same split seeds (paired t-test)."""

from __future__ import annotations

from dataclasses import dataclass

from enso_ng.formats import RunRecord
from enso_ng.tables import format_table
from enso_ng.visualize.ranking import paired_outcome
from enso_ng.visualize.summary import Cell, better


@dataclass(frozen=True)
class StrategyRow:
    strategy: str
    cell: Cell
    ms_per_doc: float | None
    wins: int
    ties: int
    losses: int


def strategy_rows(cells: list[Cell], values: dict, costs: dict, record: RunRecord) -> list[StrategyRow]:
    """Rows only where the run compares two strategies or more; ``values`` is ``split_values``, ``costs``
    ``mean_costs``."""
    if len({record.strategy(c.model) for c in cells}) < 2:
        return []
    rows = []
    for dataset, size in sorted({(c.dataset, c.train_size) for c in cells}):
        best: dict[str, Cell] = {}
        for c in cells:
            if (c.dataset, c.train_size) != (dataset, size):
                continue
            s = record.strategy(c.model)
            if s not in best or better(c.mean, best[s].mean, c.higher_is_better):
                best[s] = c
        per_series = values.get((dataset, size), {})
        for s, c in sorted(best.items()):
            tally = [0, 0, 0]
            for other, o in best.items():
                if other != s:
                    a, b = per_series.get((c.featurizer, c.model), {}), per_series.get((o.featurizer, o.model), {})
                    tally[paired_outcome(a, b, c.higher_is_better)] += 1
            cost = costs.get((dataset, c.featurizer, c.model, c.sampler, size))
            rows.append(StrategyRow(s, c, None if cost is None else cost[0], *tally))
    return rows


HEADER = ("dataset", "size", "strategy", "best featurizer + model", "mean", "95% CI", "ms per document", "w/t/l")


def row_values(r: StrategyRow) -> tuple:
    c = r.cell
    ms = "" if r.ms_per_doc is None else f"{r.ms_per_doc:.3g}"
    return (
        c.dataset,
        c.train_size,
        r.strategy,
        f"{c.featurizer} + {c.model}",
        f"{c.mean:.3f}",
        f"[{c.ci_low:.3f}, {c.ci_high:.3f}]",
        ms,
        f"{r.wins}/{r.ties}/{r.losses}",
    )


def format_strategies(rows: list[StrategyRow], metric: str) -> str:
    return (
        f"strategies ({metric}; w/t/l against the other strategies' best, paired t-test across splits):\n"
        + format_table(HEADER, [row_values(r) for r in rows], right=(1, 4, 6))
    )
