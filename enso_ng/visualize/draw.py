"""Everything ``enso visualize`` draws for one run, in one place: figures, tables and the report."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt

from enso_ng.errors import EnsoError
from enso_ng.formats import CONFUSION_FILE, RESULTS_FILE, RunRecord, read_confusion, read_features
from enso_ng.visualize.bars import bars_at_size
from enso_ng.visualize.confusion import confusion_figure, confusion_matrix
from enso_ng.visualize.curves import learning_curves, save
from enso_ng.visualize.labels_needed import format_needed, labels_needed, labels_needed_plot
from enso_ng.visualize.projection import tsne_figure
from enso_ng.visualize.ranking import ALPHA, format_records, rank_heatmap, win_tie_loss
from enso_ng.visualize.report import Report, Table, write_report
from enso_ng.visualize.summary import (
    best_table,
    better,
    filter_results,
    format_table,
    load_results,
    split_values,
    summarize,
)
from enso_ng.workspace import Workspace, atomic_path, check_run_name


@dataclass
class Options:
    metrics: list[str] = field(default_factory=list)
    datasets: list[str] | None = None
    featurizers: list[str] | None = None
    models: list[str] | None = None
    fmt: str = "png"
    size: int | None = None
    threshold: float = 0.8
    #: "DATASET[:FEATURIZER]", "" for the default, None for none
    tsne: str | None = ""
    #: "DATASET:FEATURIZER:MODEL:SIZE", "" for the best cell at the largest size of the first dataset
    confusion: str | None = ""
    report: bool = True


@dataclass
class Outcome:
    written: list[Path] = field(default_factory=list)
    summary: str = ""
    notes: list[str] = field(default_factory=list)


def resolve_run(workspace: Workspace, run: str | None) -> str:
    """The named run, or the latest with results; a run with a config and no results yet is not drawable."""
    runs = [r for r in workspace.runs() if (workspace.run_dir(r) / RESULTS_FILE).exists()]
    if run is not None:
        check_run_name(run)
    if run is None:
        if not runs:
            raise EnsoError(f"no runs in {workspace.results_dir} (run: enso experiment)")
        return runs[-1]
    if not (workspace.run_dir(run) / RESULTS_FILE).exists():
        raise EnsoError(
            f"no run {run!r}: {workspace.run_dir(run) / RESULTS_FILE} does not exist "
            f"(runs: {', '.join(runs) or 'none'})"
        )
    return run


def draw(workspace: Workspace, run: str, options: Options) -> Outcome:
    run_dir = workspace.run_dir(run)
    table = filter_results(load_results(run_dir / RESULTS_FILE), options.datasets, options.featurizers, options.models)
    available = sorted(set(table.column("metric").to_pylist()))
    metrics = options.metrics or [m for m in ("accuracy", "macro_f1") if m in available] or available[:1]
    record = RunRecord.read(run_dir) or RunRecord(run=run, config={})
    # an unknown metric fails here, before drawing
    cells_by_metric = {m: summarize(table, m, record.higher_is_better(m)) for m in metrics}
    primary, cells = metrics[0], cells_by_metric[metrics[0]]
    unit = record.size_unit
    outcome = Outcome()
    report = Report(run=run, config=record)

    def emit(fig: plt.Figure, stem: str, caption: str) -> None:
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=90, bbox_inches="tight")
        report.figures.append((caption, png.getvalue()))
        outcome.written.append(save(fig, run_dir / f"{stem}.{options.fmt}"))

    emit(
        learning_curves(cells_by_metric, run, unit),
        "learning_curves",
        f"Learning curves: {', '.join(metrics)} against labelled training {unit}; bands are 95% t-intervals across splits.",
    )
    size = options.size if options.size is not None else max(c.train_size for c in cells)
    emit(bars_at_size(cells, primary, size, run), f"bars_{primary}_{size}", f"{primary} at {size} training {unit}.")
    emit(
        rank_heatmap(cells, primary, run),
        f"rank_{primary}",
        f"Mean rank of each featurizer + model by {primary}, per training size, across datasets (1 = best).",
    )
    records = win_tie_loss(split_values(table, primary), primary, higher_is_better=record.higher_is_better(primary))
    _write_csv(
        run_dir / f"win_tie_loss_{primary}.csv",
        ["featurizer", "model", "wins", "ties", "losses"],
        [[*r.series, r.wins, r.ties, r.losses] for r in records],
        outcome,
    )
    needed = labels_needed(cells, primary, options.threshold)
    emit(
        labels_needed_plot(needed, cells, primary, options.threshold, run),
        f"labels_needed_{primary}",
        f"Labelled {unit} needed for {primary} {options.threshold:g}, interpolated in log(size) between sizes tried.",
    )
    _write_csv(
        run_dir / f"labels_needed_{primary}.csv",
        ["dataset", "featurizer", "model", "labels_needed", "largest_tried"],
        [[r.dataset, *r.series, "" if r.size is None else round(r.size, 1), r.largest_tried] for r in needed],
        outcome,
    )
    if options.tsne is not None:
        _tsne(workspace, table, options.tsne, emit, outcome)
    if options.confusion is not None:
        _confusion(run_dir, cells, options.confusion, emit, outcome)

    best = best_table(cells)
    report.tables = _report_tables(best, records, needed, cells_by_metric, primary, options.threshold, record)
    report.notes = outcome.notes
    if options.report:
        outcome.written.append(write_report(report, run_dir / "report.html"))
    outcome.summary = "\n\n".join(
        [
            f"best featurizer x model per dataset and size ({primary}):\n" + format_table(best, primary),
            f"win/tie/loss ({primary}, paired t-test across splits, alpha {ALPHA}):\n" + format_records(records),
            format_needed(needed, primary, options.threshold),
        ]
    )
    return outcome


def _report_tables(
    best: list, records: list, needed: list, cells_by_metric: dict, primary: str, threshold: float, record: RunRecord
) -> list[Table]:
    """The report's tables: best per size, win/tie/loss, labels needed, every cell, and what was skipped."""
    tables = [
        Table(f"Best featurizer + model per dataset and size ({primary})", _CELL_HEADER, [_cell_row(c) for c in best]),
        Table(
            f"Win / tie / loss ({primary})",
            ("featurizer + model", "wins", "ties", "losses"),
            [(" + ".join(r.series), r.wins, r.ties, r.losses) for r in records],
            note=f"Each pair of featurizer + model compared in every dataset and size by a two-sided paired t-test "
            f"across split seeds (alpha = {ALPHA}); not significant counts as a tie.",
        ),
        Table(
            f"Labels needed for {primary} {threshold:g}",
            ("dataset", "featurizer + model", "labels needed"),
            [
                (r.dataset, " + ".join(r.series), round(r.size) if r.size is not None else f"> {r.largest_tried}")
                for r in needed
            ],
        ),
        *[
            Table(f"All cells: {m}", _CELL_HEADER, [_cell_row(c) for c in cells])
            for m, cells in cells_by_metric.items()
        ],
    ]
    if record.skipped:
        tables.append(
            Table(
                "Skipped",
                ("what", "reason"),
                [(" ".join(str(v) for k, v in s.items() if k != "reason"), s["reason"]) for s in record.skipped],
            )
        )
    return tables


_CELL_HEADER = ("dataset", "featurizer", "model", "size", "mean", "95% CI low", "95% CI high", "std", "splits")


def _cell_row(c) -> tuple:
    return (c.dataset, c.featurizer, c.model, c.train_size, c.mean, c.ci_low, c.ci_high, c.std, c.n)


def _write_csv(path: Path, header: list[str], rows: list[list], outcome: Outcome) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    outcome.written.append(path)


def _tsne(workspace: Workspace, table, choice: str, emit, outcome: Outcome) -> None:
    dataset, _, featurizer = choice.partition(":")
    if not dataset:
        dataset = sorted(set(table.column("dataset").to_pylist()))[0]
    if not featurizer:
        featurizer = sorted(set(table.filter(_equals(table, "dataset", dataset)).column("featurizer").to_pylist()))[0]
    path = workspace.features_path(dataset, featurizer)
    if not path.exists():
        if choice:
            raise EnsoError(f"--tsne {choice}: {path} does not exist")
        outcome.notes.append(f"No t-SNE map: {path} is not in this workspace.")
        return
    emit(
        tsne_figure(read_features(path), f"t-SNE of {dataset} / {featurizer} features, coloured by label"),
        f"tsne_{dataset}_{featurizer}",
        f"t-SNE map of {dataset} with {featurizer} features.",
    )


def _confusion(run_dir: Path, cells, choice: str, emit, outcome: Outcome) -> None:
    path = run_dir / CONFUSION_FILE
    if not path.exists():
        if choice:
            raise EnsoError(f"--confusion: {path} does not exist (rerun enso experiment to record predictions)")
        outcome.notes.append("No confusion matrix: this run has no confusion.parquet.")
        return
    if choice:
        parts = choice.split(":")
        if len(parts) != 4 or not parts[3].isdigit():
            raise EnsoError(f"--confusion {choice!r}: expected DATASET:FEATURIZER:MODEL:SIZE")
        dataset, featurizer, model, size = parts[0], parts[1], parts[2], int(parts[3])
    else:
        first = sorted({c.dataset for c in cells})[0]
        largest = max(c.train_size for c in cells if c.dataset == first)
        best = None
        for c in cells:
            if (
                c.dataset == first
                and c.train_size == largest
                and (best is None or better(c.mean, best.mean, c.higher_is_better))
            ):
                best = c
        dataset, featurizer, model, size = best.dataset, best.featurizer, best.model, best.train_size
    labels, matrix = confusion_matrix(read_confusion(path), dataset, featurizer, model, size)
    emit(
        confusion_figure(labels, matrix, f"{dataset}: {featurizer} + {model} at {size}, summed over splits"),
        f"confusion_{dataset}_{featurizer}_{model}_{size}",
        f"Confusion matrix of {featurizer} + {model} on {dataset} at size {size} (test sets of every split).",
    )


def _equals(table, column: str, value: str):
    import pyarrow.compute as pc

    return pc.equal(table.column(column), value)
