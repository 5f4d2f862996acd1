"""Everything ``enso visualize`` draws for one run, in one place: figures, tables and the report."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pyarrow.compute as pc
from matplotlib.colors import to_hex

from enso_ng.csv_files import write_csv
from enso_ng.errors import EnsoError
from enso_ng.fit_notes import fit_notes
from enso_ng.formats import CONFUSION_FILE, RESULTS_FILE, RunRecord, read_confusion, read_features
from enso_ng.visualize.bars import bars_at_size
from enso_ng.visualize.classification_report import HEADER as REPORT_HEADER
from enso_ng.visualize.classification_report import classification_report
from enso_ng.visualize.compare import HEADER as COMPARE_HEADER
from enso_ng.visualize.compare import compare, comparison_curves, format_comparison, summary_lines
from enso_ng.visualize.compare import row_values as compare_row
from enso_ng.visualize.confusion import confusion_figure, confusion_matrix
from enso_ng.visualize.cost import CostPoint, cost_accuracy, cost_points, mean_costs
from enso_ng.visualize.curves import Hover, learning_curves, save
from enso_ng.visualize.interactive import hover_records, svg_markup
from enso_ng.visualize.labels_needed import format_needed, labels_needed, labels_needed_plot, target_words
from enso_ng.visualize.projection import tsne_figure
from enso_ng.visualize.ranking import ALPHA, format_records, rank_heatmap, win_tie_loss
from enso_ng.visualize.report import Figure, Report, Table, write_report
from enso_ng.visualize.strategies import HEADER as STRATEGY_HEADER
from enso_ng.visualize.strategies import format_strategies, row_values, strategy_rows
from enso_ng.visualize.style import palette
from enso_ng.visualize.summary import (
    best_table,
    better,
    filter_results,
    format_table,
    load_results,
    split_values,
    summarize,
)
from enso_ng.visualize.transfer import closing_labels, format_gaps, gaps, transfer_figure, transfer_names
from enso_ng.visualize.verdicts import format_verdicts, verdicts
from enso_ng.visualize.which_labels import HEADER as WHICH_HEADER
from enso_ng.visualize.which_labels import baseline_of, choices, format_choices, sampler_curves, samplers_of
from enso_ng.visualize.which_labels import row_values as which_row
from enso_ng.visualize.which_labels import verdict as which_verdict
from enso_ng.workspace import FILE_NAME_MAX, Workspace, check_name, check_run_name, is_name, name_path


@dataclass
class Options:
    metrics: list[str] = field(default_factory=list)
    datasets: list[str] | None = None
    featurizers: list[str] | None = None
    models: list[str] | None = None
    fmt: str = "png"
    size: int | None = None
    #: the score "labels needed" asks for; None: 95% of the best each dataset reaches (labels_needed)
    threshold: float | None = None
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


def draw_runs(workspace: Workspace, runs: list[str] | None, options: Options) -> tuple[list[str], Outcome]:
    """``enso visualize``: the named run (default: the latest) drawn, or the second of two beside the first;
    the resolved names, and what was drawn."""
    if runs and len(runs) > 2:
        raise EnsoError(f"--run given {len(runs)} times: a comparison takes two runs (--run A --run B)")
    names = [resolve_run(workspace, r) for r in runs or [None]]
    if len(names) == 2:
        return names, draw_comparison(workspace, (names[0], names[1]), options)
    return names, draw(workspace, names[0], options)


def resolve_run(workspace: Workspace, run: str | None) -> str:
    """The named run, or the latest with results; a run with a config and no results yet is not drawable."""
    runs = [r for r in workspace.runs() if (workspace.run_dir(r) / RESULTS_FILE).exists()]
    if run is not None:
        check_run_name(run, "--run")
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


@dataclass
class _Emit:
    """Writes a figure next to the run and puts it in the report: inline SVG with hover records where it
    has points to hover, else a PNG."""

    report: Report
    outcome: Outcome
    table: Any
    metrics: list[str]
    run_dir: Path
    fmt: str

    def __call__(self, fig: plt.Figure, stem: str, caption: str, hover: list[Hover] | None = None) -> None:
        if hover is None:
            png = io.BytesIO()
            fig.savefig(png, format="png", dpi=90, bbox_inches="tight")
            self.report.figures.append(Figure(caption, png=png.getvalue()))
        else:
            by_metric = {("", m): split_values(self.table, m) for m in self.metrics}
            self.report.figures.append(Figure(caption, svg=svg_markup(fig), points=hover_records(hover, by_metric)))
        self.outcome.written.append(save(fig, output_path(self.run_dir, stem, f".{self.fmt}")))


def _main_figures(emit: _Emit, cells_by_metric: dict, run: str, unit: str, colours: dict, size: int | None) -> None:
    """Learning curves of every metric, and the first metric's bars at one size and mean ranks."""
    primary, cells = next(iter(cells_by_metric.items()))
    hover: list[Hover] = []
    emit(
        learning_curves(cells_by_metric, run, unit, colours, hover),
        "learning_curves",
        f"Learning curves: {', '.join(cells_by_metric)} against labelled training {unit}; bands are 95% "
        "t-intervals across splits. Point at a point for its numbers and every split's value.",
        hover,
    )
    size = size if size is not None else max(c.train_size for c in cells)
    emit(
        bars_at_size(cells, primary, size, run, colours),
        f"bars_{primary}_{size}",
        f"{primary} at {size} training {unit}.",
    )
    emit(
        rank_heatmap(cells, primary, run),
        f"rank_{primary}",
        f"Mean rank of each featurizer + model by {primary}, per training size, across datasets (1 = best).",
    )


def _check_choices(options: Options) -> None:
    """The names in ``--tsne`` and ``--confusion`` pass the workspace's name check before anything is drawn."""
    for option, names in (
        ("--tsne", (options.tsne or "").split(":", 1)),
        ("--confusion", (options.confusion or "").split(":")[:3]),
    ):
        for name in names:
            if name:
                check_name(name, option, "features/" if option == "--tsne" else "the run's figure names")


def draw(workspace: Workspace, run: str, options: Options) -> Outcome:
    _check_choices(options)
    run_dir = workspace.run_dir(run)
    table = filter_results(load_results(run_dir / RESULTS_FILE), options.datasets, options.featurizers, options.models)
    available = sorted(set(table.column("metric").to_pylist()))
    metrics = options.metrics or [m for m in ("accuracy", "macro_f1") if m in available] or available[:1]
    record = RunRecord.read(run_dir) or RunRecord(run=run, config={})
    every_sampler, baseline = table, baseline_of(table, record.config.get("sampler"))
    if len(samplers_of(table)) > 1:  # the views below are the baseline's; "which labels?" compares samplers
        table = table.filter(pc.equal(table.column("sampler"), baseline))
    # an unknown metric fails here, before drawing
    cells_by_metric = {m: summarize(table, m, record.higher_is_better(m)) for m in metrics}
    primary, cells = metrics[0], cells_by_metric[metrics[0]]
    unit = record.size_unit
    outcome = Outcome(notes=fit_notes(table))
    values = split_values(table, primary)
    answers = verdicts(cells, values, record, primary, options.threshold)
    report = Report(run=run, config=record, verdicts=answers)
    # the confusion cell is read here, before any figure: a bad --confusion fails with nothing written
    confusion = _confusion_cell(run_dir, cells, options.confusion, outcome) if options.confusion is not None else None

    colours = palette(zip(table.column("featurizer").to_pylist(), table.column("model").to_pylist()))
    report.colours = {" + ".join(k): to_hex(v) for k, v in colours.items()}
    emit = _Emit(report, outcome, table, metrics, run_dir, options.fmt)
    _main_figures(emit, cells_by_metric, run, unit, colours, options.size)
    records = win_tie_loss(values, primary, higher_is_better=record.higher_is_better(primary))
    _write_csv(
        run_dir / f"win_tie_loss_{primary}.csv",
        ["featurizer", "model", "wins", "ties", "losses"],
        [[*r.series, r.wins, r.ties, r.losses] for r in records],
        outcome,
    )
    needed = _labels_needed(cells, primary, options.threshold, run, unit, colours, emit)
    points = _cost(table, cells, primary, run, run_dir, emit, outcome, colours)
    strategies = strategy_rows(cells, values, mean_costs(table, primary), record)
    if strategies:
        _write_csv(
            run_dir / f"strategies_{primary}.csv",
            list(STRATEGY_HEADER),
            [list(row_values(r)) for r in strategies],
            outcome,
        )
    transfer = _transfer(cells, values, record, primary, unit, emit)
    if options.tsne is not None:
        _tsne(workspace, table, options.tsne, emit, outcome)
    per_class = _confusion(run_dir, confusion, emit, outcome) if confusion is not None else None

    best = best_table(cells)
    report.tables = _report_tables(
        best, records, needed, cells_by_metric, primary, options.threshold, record, strategies, points, per_class
    )
    chosen = _which_labels(every_sampler, primary, record, baseline, run, unit, emit)
    if chosen:
        report.which_labels = [which_verdict(c) for c in chosen]
        report.tables.insert(0, Table(f"Which labels? ({primary})", WHICH_HEADER, [which_row(c) for c in chosen]))
        outcome.notes.append(
            f"The figures and tables other than 'which labels?' are of the baseline sampler, {baseline}; the run "
            f"also has {', '.join(s for s in samplers_of(every_sampler) if s != baseline)}."
        )
    report.notes = outcome.notes
    if options.report:
        outcome.written.append(write_report(report, run_dir / "report.html"))
    outcome.summary = _summary(answers, best, records, needed, strategies, primary, options.threshold)
    if chosen:
        outcome.summary += "\n\n" + format_choices(chosen, primary)
    if transfer:
        outcome.summary += "\n\n" + transfer
    return outcome


def _transfer(cells: list, values: dict, record: RunRecord, primary: str, unit: str, emit: _Emit) -> str:
    """A transfer run's gap (figure, CSV, and the summary's lines); "" for any other run."""
    if transfer_names(record) is None:
        return ""
    rows = gaps(values, record)
    closing = closing_labels(values, record)
    emit(
        transfer_figure(cells, record, primary, unit),
        f"transfer_{primary}",
        "Transfer: the target dataset in domain, trained on the source, and the source's pool plus N of the "
        "target's labels; all tested on the target's test rows. Bands are 95% t-intervals across splits.",
    )
    _write_csv(
        emit.run_dir / f"transfer_{primary}.csv",
        ["featurizer", "model", "train_size", "in_domain", "transferred", "gap", "gap_low", "gap_high", "splits"],
        [[g.featurizer, g.model, g.size, g.in_domain, g.transferred, g.gap, g.low, g.high, g.splits] for g in rows],
        emit.outcome,
    )
    return format_gaps(rows, closing, record, primary)


def _which_labels(table, primary: str, record: RunRecord, baseline: str, run: str, unit: str, emit: _Emit) -> list:
    """Runs of several samplers: each against the baseline (figure, CSV and the rows of the report)."""
    if len(samplers_of(table)) < 2:
        return []
    higher = record.higher_is_better(primary)
    chosen = choices(table, primary, higher, baseline)
    emit(
        sampler_curves(summarize(table, primary, higher), primary, run, baseline, unit),
        f"samplers_{primary}",
        f"Learning curves per sampler: {primary} against labelled training {unit}, one panel per dataset and "
        f"featurizer + model, bands 95% t-intervals across splits; dotted: {baseline} at its largest size, the "
        "target of the 'which labels?' table.",
    )
    _write_csv(
        emit.run_dir / f"which_labels_{primary}.csv", list(WHICH_HEADER), [which_row(c) for c in chosen], emit.outcome
    )
    return chosen


def _labels_needed(cells, primary: str, threshold: float | None, run: str, unit: str, colours, emit: _Emit) -> list:
    """How many labels each pair needs for ``threshold``: the figure, its CSV, and the rows for the tables."""
    needed = labels_needed(cells, primary, threshold)
    emit(
        labels_needed_plot(needed, cells, primary, threshold, run, colours),
        f"labels_needed_{primary}",
        f"Labelled {unit} needed for {target_words(primary, threshold)}, interpolated in log(size) between sizes "
        "tried"
        + (
            "."
            if threshold is not None
            else "; the target is 95% of the best mean any pair reaches on the dataset (--threshold sets a fixed one)."
        ),
    )
    _write_csv(
        emit.run_dir / f"labels_needed_{primary}.csv",
        ["dataset", "featurizer", "model", "target", "labels_needed", "largest_tried"],
        [
            [r.dataset, *r.series, round(r.target, 4), "" if r.size is None else round(r.size, 1), r.largest_tried]
            for r in needed
        ],
        emit.outcome,
    )
    return needed


def _summary(
    answers: Any, best: list, records: list, needed: list, strategies: list, primary: str, threshold: float | None
) -> str:
    """What ``enso visualize`` prints: the verdicts, then the tables in words."""
    return "\n\n".join(
        [
            format_verdicts(answers),
            f"best featurizer x model per dataset and size ({primary}):\n" + format_table(best, primary),
            f"win/tie/loss ({primary}, paired t-test across splits, alpha {ALPHA}):\n" + format_records(records),
            format_needed(needed, primary, threshold),
            *([format_strategies(strategies, primary)] if strategies else []),
        ]
    )


def draw_comparison(workspace: Workspace, runs: tuple[str, str], options: Options) -> Outcome:
    """``--run A --run B``: the second run against the first, written into the second run's folder as
    ``compare_<A>.csv``, ``compare_<A>.<format>`` and ``compare_<A>.html``."""
    tables = [
        filter_results(
            load_results(workspace.run_dir(r) / RESULTS_FILE), options.datasets, options.featurizers, options.models
        )
        for r in runs
    ]
    records = tuple(RunRecord.read(workspace.run_dir(r)) or RunRecord(run=r, config={}) for r in runs)
    shared = sorted(set(tables[0].column("metric").to_pylist()) & set(tables[1].column("metric").to_pylist()))
    metric = (options.metrics or [m for m in ("accuracy", "macro_f1") if m in shared] or shared[:1] or [""])[0]
    if metric not in shared:
        raise EnsoError(f"metric {metric!r} is not in both runs (shared: {', '.join(shared) or 'none'})")
    cells = tuple(summarize(t, metric, records[1].higher_is_better(metric)) for t in tables)
    values = tuple(split_values(t, metric) for t in tables)
    diffs = compare(cells[0], cells[1], values, records)
    out_dir, stem = workspace.run_dir(runs[1]), f"compare_{runs[0]}"
    outcome = Outcome(summary=format_comparison(diffs, runs, metric))
    _write_csv(out_dir / f"{stem}.csv", list(COMPARE_HEADER), [list(compare_row(d)) for d in diffs], outcome)
    pairs = [(c.featurizer, c.model) for run_cells in cells for c in run_cells]
    colours = palette(pairs)
    hover: list[Hover] = []
    fig = comparison_curves(cells, runs, metric, colours, hover, records[1].size_unit)
    by_run = {(name, metric): v for name, v in zip(runs, values)}
    figure = Figure(
        f"{metric} of {runs[1]} (solid) and {runs[0]} (dashed) on the datasets they share; point at a point for "
        "its numbers.",
        svg=svg_markup(fig),
        points=hover_records(hover, by_run),
    )
    outcome.written.append(save(fig, out_dir / f"{stem}.{options.fmt}"))
    if options.report:
        page = Report(
            run=runs[1],
            config=list(records),
            figures=[figure],
            tables=[Table(f"{runs[1]} against {runs[0]} ({metric})", COMPARE_HEADER, [compare_row(d) for d in diffs])],
            notes=summary_lines(diffs, runs),
            colours={" + ".join(k): to_hex(v) for k, v in colours.items()},
            title=f"enso_ng: {runs[1]} against {runs[0]}",
        )
        outcome.written.append(write_report(page, out_dir / f"{stem}.html"))
    return outcome


def _report_tables(
    best: list,
    records: list,
    needed: list,
    cells_by_metric: dict,
    primary: str,
    threshold: float | None,
    record: RunRecord,
    strategies: list,
    points: list,
    per_class: Table | None,
) -> list[Table]:
    """The report's tables, in the order they are read: strategies, the confusion cell's per-class scores,
    best per size, win/tie/loss, cost, labels needed, every cell, and what was skipped (each where there is
    one)."""
    tables = [
        *([_strategy_table(strategies, primary)] if strategies else []),
        *([per_class] if per_class is not None else []),
        Table(f"Best featurizer + model per dataset and size ({primary})", _CELL_HEADER, [_cell_row(c) for c in best]),
        Table(
            f"Win / tie / loss ({primary})",
            ("featurizer + model", "wins", "ties", "losses"),
            [(" + ".join(r.series), r.wins, r.ties, r.losses) for r in records],
            note=f"Each pair of featurizer + model compared in every dataset and size by a two-sided paired t-test "
            f"across split seeds (alpha = {ALPHA}); not significant counts as a tie.",
        ),
        *([_cost_table(points, primary)] if points else []),
        Table(
            f"Labels needed for {target_words(primary, threshold)}",
            ("dataset", "featurizer + model", "target", "labels needed"),
            [
                (
                    r.dataset,
                    " + ".join(r.series),
                    round(r.target, 3),
                    round(r.size) if r.size is not None else f"> {r.largest_tried}",
                )
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


def _strategy_table(strategies: list, primary: str) -> Table:
    return Table(
        f"Strategies ({primary}): the best pair of each, per dataset and size",
        STRATEGY_HEADER,
        [row_values(r) for r in strategies],
        note="w/t/l: against the best pair of every other strategy, two-sided paired t-test across split "
        f"seeds (alpha = {ALPHA}). Every strategy is scored on the same test rows.",
    )


def _cost_table(points: list, primary: str) -> Table:
    return Table(
        f"Cost and {primary} (ringed in the cost chart: on the Pareto front)",
        _COST_HEADER,
        [_cost_row(p) for p in points],
        note="Inference includes the featurizer's own time per document, measured when the features were "
        "made; fit seconds are per cell; stored values and pickled bytes describe the fitted model. Load per "
        "core: the 1-minute load average per core when the times were taken; above 1, the cell was measured "
        "under load (other work shared the cores) and its times read high.",
    )


_CELL_HEADER = ("dataset", "featurizer", "model", "size", "mean", "95% CI low", "95% CI high", "std", "splits")


def _cell_row(c) -> tuple:
    return (c.dataset, c.featurizer, c.model, c.train_size, c.mean, c.ci_low, c.ci_high, c.std, c.n)


_COST_HEADER = (
    "dataset",
    "featurizer",
    "model",
    "size",
    "mean",
    "ms per document",
    "fit seconds",
    "Pareto",
    "load per core",
)


def _cost_row(p: CostPoint) -> tuple:
    c = p.cell
    return (
        c.dataset,
        c.featurizer,
        c.model,
        c.train_size,
        c.mean,
        round(p.ms_per_doc, 4),
        round(p.fit_seconds, 3),
        "yes" if p.pareto else "",
        "" if p.load is None else round(p.load, 2),
    )


def _cost(table, cells, metric: str, run: str, run_dir: Path, emit, outcome: Outcome, colours) -> list[CostPoint]:
    """The cost-accuracy chart and its CSV, where the run recorded costs (runs before 0.x did not)."""
    points = cost_points(cells, mean_costs(table, metric))
    if not points:
        outcome.notes.append(
            "No cost chart: this run's results have no inference costs (made before they were recorded)."
        )
        return points
    emit(
        cost_accuracy(points, metric, run, colours),
        f"cost_{metric}",
        f"{metric} against inference milliseconds per document (featurizer included), per dataset and size; "
        "ringed points form the Pareto front (nothing cheaper is as good).",
    )
    _write_csv(run_dir / f"cost_{metric}.csv", list(_COST_HEADER), [list(_cost_row(p)) for p in points], outcome)
    loaded = sum(p.loaded for p in points)
    if loaded:
        outcome.notes.append(
            f"{loaded} of {len(points)} cells' costs were measured under load (1-minute load average above one "
            "per core): their milliseconds per document and fit seconds read high; rerun on a quiet machine."
        )
    return points


def output_path(run_dir: Path, stem: str, suffix: str) -> Path:
    """A figure or table file of the run: its name joins names from the run's results, checked once more by
    the workspace's one name check (a hand-edited results file cannot send a figure elsewhere)."""
    return name_path(run_dir, stem, "figure name", suffix, longest=FILE_NAME_MAX)


def _write_csv(path: Path, header: list[str], rows: list[list], outcome: Outcome) -> None:
    outcome.written.append(write_csv(output_path(path.parent, path.name.removesuffix(".csv"), ".csv"), header, rows))


def _tsne(workspace: Workspace, table, choice: str, emit, outcome: Outcome) -> None:
    dataset, _, featurizer = choice.partition(":")
    if not dataset:  # the first with features here (a transfer run's A-to-B cells have none of their own)
        names = sorted(set(table.column("dataset").to_pylist()))
        dataset = next(
            (d for d in names if is_name(d) and name_path(workspace.features_dir, d, "dataset").is_dir()), names[0]
        )
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


def _confusion_cell(run_dir: Path, cells, choice: str, outcome: Outcome) -> tuple | None:
    """(dataset, featurizer, model, size, labels, matrix) of the cell ``--confusion`` names (or the best at
    the largest size of the first dataset); None where the run recorded no confusion counts."""
    path = run_dir / CONFUSION_FILE
    if not path.exists():
        if choice:
            raise EnsoError(f"--confusion: {path} does not exist (rerun enso experiment to record predictions)")
        outcome.notes.append("No confusion matrix: this run has no confusion.parquet.")
        return None
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
    confusion = read_confusion(path)
    sampler = cells[0].sampler if cells else None  # the baseline's, as the other views (which_labels)
    confusion = confusion.filter(pc.equal(confusion.column("sampler"), sampler)) if sampler else confusion
    labels, matrix = confusion_matrix(confusion, dataset, featurizer, model, size)
    return dataset, featurizer, model, size, labels, matrix


def _confusion(run_dir: Path, cell: tuple, emit, outcome: Outcome) -> Table:
    """The chosen cell's confusion matrix, and its classification report (CSV, and the report's table)."""
    dataset, featurizer, model, size, labels, matrix = cell
    emit(
        confusion_figure(labels, matrix, f"{dataset}: {featurizer} + {model} at {size}, summed over splits"),
        f"confusion_{dataset}_{featurizer}_{model}_{size}",
        f"Confusion matrix of {featurizer} + {model} on {dataset} at size {size} (test sets of every split).",
    )
    rows = classification_report(labels, matrix)
    _write_csv(
        run_dir / f"classification_report_{dataset}_{featurizer}_{model}_{size}.csv",
        list(REPORT_HEADER),
        [list(r) for r in rows],
        outcome,
    )
    return Table(
        f"Classification report: {featurizer} + {model} on {dataset} at size {size}",
        REPORT_HEADER,
        rows,
        note="Per class, from the confusion counts summed over the cell's split seeds (support counts each "
        "seed's test rows); the same cell as the confusion matrix.",
    )


def _equals(table, column: str, value: str):
    import pyarrow.compute as pc

    return pc.equal(table.column(column), value)
