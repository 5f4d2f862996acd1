"""The three questions answered in words, per dataset, from the numbers the figures draw.

A reader opens the report to decide: which representation and model, whether a light model on frozen
features is enough, and how many labels to buy. Each answer here is one or two sentences that name the
evidence (the paired test across split seeds, the interval of a gap, the value reached at the largest
size) so the decision and how sure it is are read together, before any figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from enso_ng.formats import RunRecord
from enso_ng.visualize.labels_needed import labels_needed, target_words
from enso_ng.visualize.ranking import ALPHA, Paired, paired_test
from enso_ng.visualize.summary import Cell, better

LIGHT = "frozen features"


@dataclass(frozen=True)
class DatasetVerdict:
    dataset: str
    #: which representation and model: one sentence
    which: str
    #: is a light model enough: one sentence
    light: str
    #: how many labels: a lead sentence, then one line per featurizer + model
    labels: list[str]


@dataclass(frozen=True)
class Standing:
    """One featurizer + model across datasets, at each dataset's largest size."""

    series: tuple[str, str]
    mean_rank: float
    wins: int
    datasets: int


@dataclass
class Verdicts:
    metric: str
    #: None: the labels-needed target is relative (see ``labels_needed.RELATIVE_TARGET``)
    threshold: float | None
    datasets: list[DatasetVerdict] = field(default_factory=list)
    overall: list[Standing] = field(default_factory=list)


@dataclass(frozen=True)
class Wording:
    """How numbers of one metric and one size unit are spoken."""

    metric: str
    #: scores in [0, 1] where higher is better: differences said in points (x 100)
    points: bool
    unit: str

    def diff(self, value: float) -> str:
        if self.points:
            return f"{abs(value) * 100:.1f} points"
        return f"{abs(value):.3g}"

    def signed(self, value: float) -> str:
        return f"{value * 100:+.1f} points" if self.points else f"{value:+.3g}"

    def interval(self, low: float, high: float) -> str:
        if math.isnan(low):
            return "interval undefined (1 split)"
        scale, digits = (100, 1) if self.points else (1, 3)
        return f"95% CI [{low * scale:+.{digits}f}, {high * scale:+.{digits}f}]"

    def size(self, n: float) -> str:
        return f"{n:,.0f} {self.unit}"


def unit_words(size_unit: str) -> str:
    return "labels" if size_unit == "examples" else "labels per class"


def pair(series: tuple[str, str]) -> str:
    return " + ".join(series)


def evidence(test: Paired) -> str:
    """``paired t-test, p < 0.01, 5 splits``: the test, its p-value and the number of split seeds."""
    if test.seeds < 2:
        return f"{test.seeds} split: no test possible"
    if test.p_value == 0.0:
        return f"the same margin on all {test.seeds} splits"
    p = test.p_value
    said = "p < 0.001" if p < 0.001 else "p < 0.01" if p < 0.01 else f"p = {p:.2f}"
    return f"paired t-test, {said}, {test.seeds} splits"


def verdicts(cells: list[Cell], values: dict, record: RunRecord, metric: str, threshold: float | None) -> Verdicts:
    """Answers for every dataset in ``cells`` (one metric, summarized) and the ranking across them.

    ``values`` is :func:`enso_ng.visualize.summary.split_values` of the same metric.
    """
    bounded = all(0.0 <= c.mean <= 1.0 for c in cells)
    words = Wording(metric, bool(cells) and cells[0].higher_is_better and bounded, unit_words(record.size_unit))
    out = Verdicts(metric, threshold)
    for dataset in sorted({c.dataset for c in cells}):
        here = [c for c in cells if c.dataset == dataset]
        out.datasets.append(
            DatasetVerdict(
                dataset,
                which_sentence(here, values, words),
                light_sentence(here, values, record, words),
                labels_sentences(here, words, threshold),
            )
        )
    out.overall = standings(cells)
    return out


def _ranked(cells: list[Cell]) -> list[Cell]:
    """Best first, in the metric's direction; ties broken by name so the order is stable."""
    sign = -1 if cells and cells[0].higher_is_better else 1
    return sorted(cells, key=lambda c: (sign * c.mean, c.featurizer, c.model))


def _series(c: Cell) -> tuple[str, str]:
    return (c.featurizer, c.model)


def _test(a: Cell, b: Cell, values: dict) -> Paired:
    per_series = values.get((a.dataset, a.train_size), {})
    return paired_test(per_series.get(_series(a), {}), per_series.get(_series(b), {}), a.higher_is_better)


def which_sentence(cells: list[Cell], values: dict, words: Wording) -> str:
    """The best featurizer + model at each size, and whether it beats the runner-up at the largest size."""
    sizes = sorted({c.train_size for c in cells})
    ranked = {n: _ranked([c for c in cells if c.train_size == n]) for n in sizes}
    if len({_series(c) for c in cells}) == 1:
        return f"Only {pair(_series(cells[0]))} was run: there is nothing to compare it with."
    leaders = [_series(ranked[n][0]) for n in sizes]
    if len(set(leaders)) == 1:
        lead = f"{pair(leaders[0])} is best at every size"
        lead += f" ({sizes[0]:,} to {words.size(sizes[-1])})" if len(sizes) > 1 else f" ({words.size(sizes[0])})"
    else:
        runs: list[tuple[tuple[str, str], list[int]]] = []
        for n, s in zip(sizes, leaders):
            if runs and runs[-1][0] == s:
                runs[-1][1].append(n)
            else:
                runs.append((s, [n]))
        lead = "The best changes with the budget: " + ", ".join(f"{pair(s)} at {_span(ns, words)}" for s, ns in runs)
    contested = [n for n in sizes if len(ranked[n]) > 1]  # a size where only one pair ran has no runner-up
    significant = [n for n in contested if _test(ranked[n][0], ranked[n][1], values).outcome == 0]
    if not contested:
        return lead + "; no size has two pairs to compare."
    largest = contested[-1]
    best, runner = ranked[largest][0], ranked[largest][1]
    test = _test(best, runner, values)
    at = f"at {words.size(largest)}"
    subject = "it" if len(set(leaders)) == 1 else pair(_series(best))
    if test.outcome == 0:
        tail = f"; {at} {subject} is ahead of {pair(_series(runner))} by {words.diff(test.difference)}"
    else:
        tail = (
            f"; {at} {subject} is tied with {pair(_series(runner))}: "
            f"{words.diff(test.difference)} ahead, not significant"
        )
    tail += f" ({evidence(test)})."
    if len(sizes) > 1:
        tail += f" The leader is significantly ahead of the runner-up at {len(significant)} of {len(contested)} sizes."
    return lead + tail


def _span(sizes: list[int], words: Wording) -> str:
    return words.size(sizes[0]) if len(sizes) == 1 else f"{sizes[0]:,} to {words.size(sizes[-1])}"


def light_sentence(cells: list[Cell], values: dict, record: RunRecord, words: Wording) -> str:
    """The best light model against the best other strategy, at the largest size both were run at."""
    light = [c for c in cells if record.strategy(c.model) == LIGHT]
    heavy = [c for c in cells if record.strategy(c.model) != LIGHT]
    if not heavy:
        return (
            "Not measured: every model in this run is a light model on frozen features, so there is no "
            "fine-tuned, few-shot or distilled strategy to measure the gap against "
            "(add -m finetune, -m setfit or -m distill to ask)."
        )
    if not light:
        return "Not measured: this run has no light model on frozen features (add -m logreg to ask)."
    shared = sorted({c.train_size for c in light} & {c.train_size for c in heavy})
    if not shared:
        return "Not measured: the light models and the other strategies were run at different sizes."
    n = shared[-1]
    best_light = _ranked([c for c in light if c.train_size == n])[0]
    best_heavy = _ranked([c for c in heavy if c.train_size == n])[0]
    test = _test(best_light, best_heavy, values)
    # the light model's lead in the metric's direction (negative: it trails), and its interval
    sign = 1 if best_light.higher_is_better else -1
    lead = sign * test.difference
    low, high = sorted((sign * test.ci_low, sign * test.ci_high))
    light_name, heavy_name = pair(_series(best_light)), pair(_series(best_heavy))
    heavy_name += f" ({record.strategy(best_heavy.model)})"
    at = f"at {words.size(n)}"
    if test.outcome == 2:
        gap = f"{words.interval(-high, -low)} for the gap, {evidence(test)}"
        return f"No, not {at}: the best light model, {light_name}, trails {heavy_name} by {words.diff(lead)} ({gap})."
    ahead = f"{words.interval(low, high)} for its lead, {evidence(test)}"
    if test.outcome == 0:
        return (
            f"Yes: {at} the best light model, {light_name}, is ahead of {heavy_name} by {words.diff(lead)} ({ahead})."
        )
    side = "ahead" if lead >= 0 else "behind"
    return (
        f"Yes, as far as this run can tell: {at} the best light model, {light_name}, is tied with {heavy_name}: "
        f"{words.diff(lead)} {side}, not significant ({ahead})."
    )


def labels_sentences(cells: list[Cell], words: Wording, threshold: float | None) -> list[str]:
    """A lead sentence (the cheapest pair to reach the target), then one line per pair."""
    needed = labels_needed(cells, words.metric, threshold)
    reached = sorted((r for r in needed if r.size is not None), key=lambda r: (r.size, r.series))
    target = target_words(words.metric, threshold, cells)
    if reached:
        lead = f"{pair(reached[0].series)} reaches {target} with the fewest labels: {_needed(reached[0].size, words)}."
    else:
        largest = max(c.train_size for c in cells)
        top = _ranked([c for c in cells if c.train_size == largest])[0]
        lead = (
            f"No featurizer + model reaches {target} by the largest size ({words.size(largest)}); "
            f"the closest is {pair(_series(top))} at {top.mean:.3f}."
        )
    lines = [lead]
    for r in needed:
        points = sorted((c.train_size, c.mean) for c in cells if _series(c) == r.series)
        if r.size is not None:
            line = f"{pair(r.series)}: {_needed(r.size, words)}"
        else:
            line = (
                f"{pair(r.series)}: not reached by the largest size ({words.size(points[-1][0])}: {points[-1][1]:.3f})"
            )
        if len(points) > 1:
            (n0, v0), (n1, v1) = points[-2], points[-1]
            per_doubling = (v1 - v0) * math.log(2) / math.log(n1 / n0)
            line += f"; from {n0:,} to {n1:,} it gained {words.signed(per_doubling)} per doubling"
        lines.append(line + ".")
    return lines


def _needed(size: float, words: Wording) -> str:
    return f"about {words.size(math.ceil(size - 1e-9))}"


def standings(cells: list[Cell]) -> list[Standing]:
    """Mean rank (1 = best) of each pair at each dataset's largest size, and the datasets it wins there."""
    ranks: dict[tuple[str, str], list[float]] = {}
    wins: dict[tuple[str, str], int] = {}
    for dataset in sorted({c.dataset for c in cells}):
        largest = max(c.train_size for c in cells if c.dataset == dataset)
        here = [c for c in cells if c.dataset == dataset and c.train_size == largest]
        sign = -1 if here[0].higher_is_better else 1
        for c, rank in zip(here, stats.rankdata([sign * c.mean for c in here])):
            ranks.setdefault(_series(c), []).append(float(rank))
        top = here[0]
        for c in here[1:]:
            if better(c.mean, top.mean, c.higher_is_better):
                top = c
        wins[_series(top)] = wins.get(_series(top), 0) + 1
    rows = [Standing(s, float(np.mean(r)), wins.get(s, 0), len(r)) for s, r in ranks.items()]
    return sorted(rows, key=lambda r: (r.mean_rank, -r.wins, r.series))


def overall_sentence(rows: list[Standing], datasets: int) -> str:
    if datasets == 1:
        return "One dataset in this run: the ranking across datasets is its ranking at the largest size."
    top = rows[0]
    return (
        f"Across {datasets} datasets, at each one's largest size, {pair(top.series)} ranks best "
        f"(mean rank {top.mean_rank:.1f}, best on {top.wins} of {top.datasets})."
    )


def format_verdicts(v: Verdicts) -> str:
    """The verdict block of the terminal summary."""
    lines = [f"verdicts ({v.metric}; paired t-tests across split seeds, alpha {ALPHA}):"]
    for d in v.datasets:
        lines.append(f"{d.dataset}:")
        lines.append(f"  which representation and model? {d.which}")
        lines.append(f"  is a light model enough? {d.light}")
        lines.append(f"  how many labels? {d.labels[0]}")
        lines.extend(f"    {line}" for line in d.labels[1:])
    datasets = len(v.datasets)
    lines.append(f"across datasets: {overall_sentence(v.overall, datasets)}")
    for i, r in enumerate(v.overall, 1):
        lines.append(f"  {i}. {pair(r.series)}: mean rank {r.mean_rank:.1f}, best on {r.wins} of {r.datasets}")
    return "\n".join(lines)
