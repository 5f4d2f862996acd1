"""Which pair to train, on which rows, and how good it is expected to be: named, or a run's answer.

``--from-run RUN`` takes the run's winner at its largest size (best mean of the run's first metric,
accuracy where it has it, as the verdicts rank), the run's model parameters and split protocol, and the
measured score with its 95% interval: the accuracy a user of the folder should expect.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from enso_ng.errors import EnsoError
from enso_ng.experiment.config import ExperimentConfig
from enso_ng.formats import RESULTS_FILE, RunRecord
from enso_ng.workspace import Workspace


@dataclass
class Choice:
    dataset: str
    featurizer: str
    model: str
    config: ExperimentConfig
    size: int | None = None
    split: int | None = None
    expected: dict[str, Any] = field(default_factory=dict)


def choose(
    workspace: Workspace,
    dataset: str | None,
    featurizer: str | None,
    model: str | None,
    from_run: str | None,
    size: int | None,
    split: int | None,
    max_ms_per_doc: float | None = None,
) -> Choice:
    if max_ms_per_doc is not None and from_run is None:
        raise EnsoError("--max-ms-per-doc reads a run's measured costs: give --from-run RUN")
    if (size is None) != (split is None):
        raise EnsoError("--size and --split go together: they name one experiment cell")
    if from_run is None:
        missing = [flag for flag, value in (("-d", dataset), ("-f", featurizer), ("-m", model)) if not value]
        if missing:
            raise EnsoError(f"name the pair with {' '.join(missing)} (or take a run's answer with --from-run RUN)")
        return Choice(str(dataset), str(featurizer), str(model), ExperimentConfig(name="train"), size, split)
    return _from_run(workspace, from_run, dataset, featurizer, model, size, split, max_ms_per_doc)


def _from_run(
    workspace: Workspace,
    run: str,
    dataset: str | None,
    featurizer: str | None,
    model: str | None,
    size: int | None,
    split: int | None,
    max_ms_per_doc: float | None = None,
) -> Choice:
    import pyarrow.compute as pc

    from enso_ng.visualize.summary import best_table, filter_results, load_results, summarize

    run_dir = workspace.run_dir(run)
    record = RunRecord.read(run_dir)
    if record is None or not (run_dir / RESULTS_FILE).exists():
        raise EnsoError(f"{run_dir}: no finished run {run!r} (see enso visualize, or run enso experiment --name {run})")
    names = {f.name for f in dataclasses.fields(ExperimentConfig)}
    config = ExperimentConfig(**{k: v for k, v in record.config.items() if k in names})
    metric = "accuracy" if "accuracy" in config.metrics else config.metrics[0]
    results = load_results(run_dir / RESULTS_FILE)
    # a run of several samplers: its cells of the baseline sampler, whose rows _reproduce draws again
    results = results.filter(pc.equal(results.column("sampler"), config.sampler))
    table = filter_results(
        results,
        [dataset] if dataset else None,
        [featurizer] if featurizer else None,
        [model] if model else None,
    )
    cells = summarize(table, metric, record.higher_is_better(metric))
    datasets = sorted({c.dataset for c in cells})
    if len(datasets) > 1:
        raise EnsoError(f"run {run!r} holds datasets {', '.join(datasets)}: choose one with -d")
    if size is not None:
        cells = [c for c in cells if c.train_size == size]
        if not cells:
            raise EnsoError(f"run {run!r} has no cell of size {size} for this choice")
    largest = max(c.train_size for c in cells)
    at_largest = [c for c in cells if c.train_size == largest]
    costs = _ms_per_doc(table, largest)
    if max_ms_per_doc is not None:
        at_largest = _affordable(at_largest, costs, max_ms_per_doc, run)
    best = best_table(at_largest)[0]
    expected = {
        "run": run,
        "dataset": best.dataset,
        "featurizer": best.featurizer,
        "model": best.model,
        "size": best.train_size,
        "size_unit": record.size_unit,
        "metric": metric,
        "mean": best.mean,
        "ci_low": best.ci_low,
        "ci_high": best.ci_high,
        "splits": best.n,
        "ms_per_doc": costs.get((best.dataset, best.featurizer, best.model)),
    }
    if split is not None:
        expected.update(split=split, value=_split_value(table, best, split, metric, run))
    return Choice(best.dataset, best.featurizer, best.model, config, size, split, plain_floats(expected))


def _affordable(cells: list, costs: dict, max_ms_per_doc: float, run: str) -> list:
    """The cells whose measured inference (featurizing included) fits the budget, or one line saying the
    cheapest pair's cost."""
    affordable = [c for c in cells if costs.get((c.dataset, c.featurizer, c.model), float("inf")) <= max_ms_per_doc]
    if not affordable:
        cheapest = min(costs.items(), key=lambda item: item[1], default=None)
        least = f"; the cheapest, {cheapest[0][1]} + {cheapest[0][2]}, takes {cheapest[1]:.3g} ms" if cheapest else ""
        raise EnsoError(f"no pair of run {run!r} predicts within {max_ms_per_doc:g} ms per document{least}")
    return affordable


def _split_value(table: Any, best: Any, split: int, metric: str, run: str) -> float:
    """The metric the run measured for the chosen pair's cell at split seed ``split``."""
    columns = ("dataset", "featurizer", "model", "train_size", "split", "metric", "value")
    wanted = (best.dataset, best.featurizer, best.model, best.train_size, split, metric)
    values = [row[-1] for row in zip(*(table.column(c).to_pylist() for c in columns)) if row[:-1] == wanted]
    if not values:
        raise EnsoError(
            f"run {run!r} has no cell {best.dataset}:{best.featurizer}:{best.model}:{best.train_size} split {split}"
        )
    return values[0]


def _ms_per_doc(table: Any, size: int) -> dict[tuple[str, str, str], float]:
    """Measured inference per document (featurizing included), ms, per (dataset, featurizer, model) at ``size``:
    the run's ``predict_seconds_per_1k`` (seconds per 1,000 documents), mean over its cells."""
    sums: dict[tuple[str, str, str], list[float]] = {}
    columns = (
        table.column(c).to_pylist() for c in ("dataset", "featurizer", "model", "train_size", "predict_seconds_per_1k")
    )
    for d, f, m, s, cost in zip(*columns):
        if s == size and cost is not None:
            sums.setdefault((d, f, m), []).append(cost)
    return {key: sum(v) / len(v) for key, v in sums.items()}


def plain_floats(record: dict[str, Any]) -> dict[str, Any]:
    """NaN (an interval of one split) as null: JSON has no NaN."""
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in record.items()}
