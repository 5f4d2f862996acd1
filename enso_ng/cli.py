"""The ``enso`` command: thin wrappers that parse options, call one stage, and print a summary.

Examples:

    enso download rotten_tomatoes sst2
    enso featurize --featurizer bert --featurizer tfidf
    enso experiment --sizes 50,100,200,500 --splits 5 --name first
    enso visualize --run first
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from enso_ng import __version__
from enso_ng.cli_production import predict, train
from enso_ng.commandline import (
    checked_by,
    fail_cleanly,
    list_option,
    selection_options,
    service_option,
    spec_options,
)
from enso_ng.experiment.config import RUN_OPTIONS, SIZES
from enso_ng.params import FINITE, Interval, Param
from enso_ng.progress import env_quiet
from enso_ng.progress import quiet as progress_quiet
from enso_ng.tables import format_table
from enso_ng.workspace import ENV_WORKSPACE, Workspace, clean_workspace_temps

#: seconds without data before a download request is retried
TIMEOUT = Interval(0, 3600, low_open=True, text="a positive number of seconds, at most 3600")


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def _workspace(ctx: click.Context) -> Workspace:
    return ctx.obj["workspace"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False),
    envvar=ENV_WORKSPACE,
    help="Folder holding datasets/, features/ and results/ (default: current directory; env ENSO_WORKSPACE).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (for scripts; or env ENSO_QUIET=1).")
@click.version_option(__version__, prog_name="enso")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None, quiet: bool) -> None:
    """Which pre-trained text representation, which light model, and how many labels?

    Four stages that talk through files: download -> featurize -> experiment -> visualize.
    """
    ctx.with_resource(progress_quiet(quiet or env_quiet()))
    ctx.obj = {"workspace": Workspace.resolve(workspace)}
    clean_workspace_temps(ctx.obj["workspace"])  # what writers killed by SIGKILL left behind


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--list", "show_list", is_flag=True, help="List the catalog and what is downloaded.")
@click.option(
    "--from-file",
    "from_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Import your own labelled file (.csv, .tsv, .jsonl or .parquet, optionally .gz/.bz2).",
)
@click.option("--name", help="Dataset name for --from-file.")
@click.option("--text-column", default="text", show_default=True, help="Text column of --from-file.")
@click.option("--label-column", default="label", show_default=True, help="Label column of --from-file.")
@click.option("--split-column", help="Column of --from-file holding train/validation/test, kept as the official split.")
@click.option(
    "--text-pair-column",
    help="Second text column of --from-file: a sentence-pair dataset (paraphrase, entailment, matching).",
)
@click.option(
    "--mirror",
    envvar="ENSO_MIRROR",
    metavar="URL",
    help="Fetch https://HOST/PATH from URL/HOST/PATH instead, e.g. an internal copy (env ENSO_MIRROR).",
)
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    callback=checked_by(Param(type=float, interval=TIMEOUT)),
    help="Seconds without data before a request is retried.",
)
@click.option("--force", is_flag=True, help="Rebuild even if datasets/<name>.parquet exists.")
@click.pass_context
@fail_cleanly
def download(
    ctx: click.Context, names: tuple[str, ...], show_list: bool, timeout: float, force: bool, **from_file_options: Any
) -> None:
    """Fetch catalog datasets, or import your own, into datasets/<name>.parquet (text, label, split).

    Raw files are verified against their sha256 and cached under datasets/.raw, so a re-run fetches
    nothing. With several names, a failure does not stop the others; the exit status says if any failed.
    With no name, the whole catalog: datasets already there are kept, and a table says what is available.

    \b
    Examples:
      enso download rotten_tomatoes
      enso download                       # the whole catalog, then a table of what is there
      enso download sst2 subj trec --mirror http://127.0.0.1:8000
      enso download --from-file tickets.csv --name tickets --text-column body --label-column queue
      enso download --from-file matches.csv --name matches --text-column resume --text-pair-column job
      enso download --list
    """
    from enso_ng.download.request import DownloadRequest, catalog_table, dataset_line, fetched_table, run_download

    workspace = _workspace(ctx)
    if show_list:
        click.echo(format_table(*catalog_table(workspace), right=(2, 3)))
        return

    def each(dataset: str, done: Any, failure: str) -> None:
        if done is None:
            click.echo(f"failed {failure}", err=True)
            return
        if done.note:
            click.echo(f"warning: {done.note}", err=True)
        click.echo(dataset_line(workspace, dataset, done))

    request = DownloadRequest(names, timeout=timeout, force=force, **from_file_options)
    outcome = run_download(workspace, request, each)
    if outcome.catalog is not None:
        click.echo(format_table(*fetched_table(outcome.catalog), right=(1, 2)))
    if outcome.summary():
        click.echo(outcome.summary())
    outcome.check()


@cli.command()
@selection_options("featurizers", "datasets")
@click.option(
    "--option",
    "-o",
    "options",
    multiple=True,
    metavar="[NAME.]KEY=VALUE",
    help="A featurizer option, e.g. -o pooling=cls or -o bert.max_length=128 (see --list).",
)
@click.option(
    "--model",
    help="The model the featurizer loads: a Hugging Face model id or local folder (bert), "
    "a vectors file or URL (glove); whichever option each featurizer names for it.",
)
@click.option("--precision", help="Shortcut for -o precision=... (bert; its values: see --list).")
@click.option("--layers", help="Shortcut for -o layers=... (bert, elmo; see --list).")
@click.option("--force", is_flag=True, help="Rebuild even if a matching cache exists.")
@service_option("--scheduler", "Blocks of rows are embedded by its workers (on their GPU where they have one).")
@click.option("--list", "show_list", is_flag=True, help="List featurizers and their options.")
@click.pass_context
@fail_cleanly
def featurize(
    ctx: click.Context,
    featurizers: list[str] | None,
    datasets: list[str] | None,
    options: tuple[str, ...],
    model: str | None,
    precision: str | None,
    layers: str | None,
    force: bool,
    scheduler: str | None,
    show_list: bool,
) -> None:
    """Embed datasets with frozen representations into features/<dataset>/<featurizer>.parquet.

    A cache whose dataset fingerprint or parameters differ from the request is rebuilt; a match is reused.

    \b
    Examples:
      enso featurize --featurizers bert,tfidf
      enso featurize -f bert -d sst2 -o pooling=cls -o max_length=128
      enso featurize -f bert --precision auto --layers all
      enso featurize -f bert -d sst2 -o pooling=none -o max_tokens=64 -o dtype=float16
      enso featurize -f glove -f word2vec -f fasttext -f doc2vec
      enso featurize -f bert --scheduler tcp://10.0.0.5:8786
      enso featurize --list
    """
    from enso_ng.featurize.request import featurize_all, featurizer_options, list_lines, report_lines

    if show_list:
        list_lines(click.echo)
        return
    workspace = _workspace(ctx)
    chosen = featurizers or ["bert"]
    per_options = featurizer_options(chosen, options, {"precision": precision, "layers": layers}, model)
    for featurizer, dataset, done in featurize_all(workspace, chosen, datasets or [], per_options, force, scheduler):
        if done.note:
            click.echo(f"warning: {done.note}", err=True)
        for line in report_lines(workspace, dataset, featurizer, done):
            click.echo(line)


@cli.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML or YAML file of these options, for long grids; flags given here override it.",
)
@spec_options(RUN_OPTIONS, skip=("scheduler",))
@click.option(
    "--option",
    "-o",
    "model_options",
    multiple=True,
    metavar="MODEL.KEY=VALUE",
    help="A model parameter, e.g. -o logreg.Cs=0.1,1,10, -o mlp.hidden=256 or -o logreg.criterion=macro_f1 (see --list).",
)
@service_option("--scheduler", "Groups of cells run as tasks on its workers; results are identical to --jobs 1.")
@service_option("--mlflow", "A parent run with the config, a child run per dataset x featurizer x model x size.")
@click.option("--list", "show_list", is_flag=True, help="List models (with parameters), metrics, samplers, resamplers.")
@click.pass_context
@fail_cleanly
def experiment(
    ctx: click.Context,
    config_file: Path | None,
    show_list: bool,
    model_options: tuple[str, ...],
    mlflow: str | None,
    **flags: Any,
) -> None:
    """Train light models on cached features at each training size; write results/<run>/.

    Every featurizer and model sees the same test set and the same nested training subsets per seed.
    Hyper-parameters are chosen by inner cross-validation on the training subset only.

    \b
    Examples:
      enso experiment --sizes 50,100,500
      enso experiment --datasets sst2 --models logreg,knn,svm --splits 10 --name sst2 --jobs 2
      enso experiment --per-label 8,16,32 --name mteb-style
      enso experiment -m logreg -o logreg.Cs=0.01,0.1,1 --name small-C
      enso experiment --config grid.toml
      enso experiment --scheduler tcp://10.0.0.5:8786 --mlflow http://127.0.0.1:5000 --name big
      enso experiment --scheduler local:2 --mlflow sqlite:///mlflow.db
    """
    from enso_ng.experiment import run_experiment
    from enso_ng.experiment.config import from_sources
    from enso_ng.experiment.listing import parts_lines
    from enso_ng.fit_notes import convergence_line, flat_cv_line, unmoved_cv_line
    from enso_ng.visualize.summary import best_lines, load_results

    if show_list:
        click.echo("\n".join(parts_lines()))
        return
    config = from_sources(config_file, flags, model_options)
    outcome = run_experiment(_workspace(ctx), config, warn=_warn, mlflow=mlflow or None)
    click.echo(outcome.line())
    metric = "accuracy" if "accuracy" in config.metrics else config.metrics[0]
    results = load_results(Path(outcome.path))
    click.echo("\n".join(best_lines(results, metric, outcome.record.higher_is_better(metric))))
    unconverged = convergence_line(results)
    if unconverged:
        click.echo(f"warning: {unconverged}")
    flat, unmoved = flat_cv_line(results), unmoved_cv_line(results)
    if flat:
        click.echo(f"warning: {flat}")
    if unmoved:
        click.echo(f"note: {unmoved}")


@cli.command()
@list_option(
    "--run",
    "--compare",
    "runs",
    folder="results/",
    metavar="NAME",
    help="Run under results/ (default: the latest); twice (--run A --run B) puts B beside A.",
)
@list_option(
    "--metrics",
    "--metric",
    "metrics",
    metavar="NAME[,NAME...]",
    help="Metric(s) to draw (repeatable or comma-separated); the first ranks and thresholds "
    "[default: accuracy,macro_f1].",
)
@selection_options("datasets", "featurizers", "models")
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default="png", show_default=True)
@click.option(
    "--size",
    callback=checked_by(Param(type=int, interval=SIZES)),
    help="Training size of the bar chart [default: the largest].",
)
@click.option(
    "--threshold",
    callback=checked_by(Param(type=float, interval=FINITE)),
    default=None,
    help="Score that 'labels needed' asks for, in the first metric "
    "[default: 95% of the best mean any pair reaches on each dataset].",
)
@click.option(
    "--tsne",
    default="",
    metavar="DATASET[:FEATURIZER]",
    help="Dataset (and featurizer) of the t-SNE map [default: the first of the run].",
)
@click.option("--no-tsne", is_flag=True, help="Skip the t-SNE map (it reads features/ and takes seconds).")
@click.option(
    "--confusion",
    default="",
    metavar="DATASET:FEATURIZER:MODEL:SIZE",
    help="Cell of the confusion matrix [default: the best at the largest size of the first dataset].",
)
@click.option("--no-report", is_flag=True, help="Do not write report.html.")
@service_option("--mlflow", "Every figure and report.html become artifacts of the run's parent run.")
@click.pass_context
@fail_cleanly
def visualize(
    ctx: click.Context,
    runs: list[str] | None,
    metrics: list[str] | None,
    datasets: list[str] | None,
    featurizers: list[str] | None,
    models: list[str] | None,
    fmt: str,
    size: int | None,
    threshold: float | None,
    tsne: str,
    no_tsne: bool,
    confusion: str,
    no_report: bool,
    mlflow: str | None,
) -> None:
    """Draw a run's learning curves, bars, rankings, labels needed, t-SNE map, confusion matrix and
    results/<run>/report.html, and print a compact summary.

    \b
    Examples:
      enso visualize
      enso visualize --run first --metrics macro_f1,accuracy --format svg --threshold 0.85
      enso visualize --datasets sst2,trec --models logreg --confusion trec:bert:logreg:500
      enso visualize --run before --run after      # after against before, paired where the splits match
      enso visualize --run big --mlflow http://127.0.0.1:5000
    """
    from enso_ng.visualize.draw import Options, draw_runs

    if mlflow:
        from enso_ng.tracking import check_tracking_uri

        check_tracking_uri(mlflow)  # before anything is drawn
    workspace = _workspace(ctx)
    options = Options(
        metrics=metrics or [],
        datasets=datasets,
        featurizers=featurizers,
        models=models,
        fmt=fmt,
        size=size,
        threshold=threshold,
        tsne=None if no_tsne else tsne,
        confusion=confusion,
        report=not no_report,
    )
    names, outcome = draw_runs(workspace, runs, options)
    click.echo(f"runs {names[0]} and {names[1]}" if len(names) == 2 else f"run {names[0]}")
    click.echo(outcome.summary)
    for note in outcome.notes:
        click.echo(f"note: {note}")
    for path in outcome.written:
        click.echo(f"wrote {path}")
    if mlflow:
        from enso_ng.tracking import log_visualization

        name = names[-1]  # a comparison is written into the second run's folder: it belongs to that run
        parent = log_visualization(mlflow, workspace.run_dir(name), outcome.written)
        click.echo(f"logged {len(outcome.written)} files to MLflow {mlflow}, run {parent} of experiment {name!r}")


# ---------------------------------------------------------------- from answer to production: train, predict


cli.add_command(train)
cli.add_command(predict)


def main() -> None:
    received: list[int] = []
    signal.signal(signal.SIGTERM, functools.partial(_terminated, os.getpid(), received))
    try:
        cli(prog_name="enso")
    finally:
        if received:  # unwound: now end by the signal, as a supervisor expects of SIGTERM (status 143)
            for stream in (sys.stdout, sys.stderr):  # the default action skips the interpreter's own flush:
                with contextlib.suppress(Exception):  # rows already written to a pipe would be cut off
                    stream.flush()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)


def _terminated(pid: int, received: list[int], signum: int, frame: object) -> None:
    """SIGTERM (a scheduler's, a supervisor's, ``kill``) ends a command as Ctrl-C does, unwinding it, so that
    its temporary files are removed and a run records itself interrupted; by default Python dies on the spot
    and leaves them. Unlike Ctrl-C it reaches this process alone: its worker processes (``--jobs``, a
    ``local:N`` cluster) are ended first, or the unwinding would wait for the groups they are fitting. A
    forked child that inherited the handler dies as before."""
    if os.getpid() != pid:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    received.append(signum)
    import multiprocessing

    for child in multiprocessing.active_children():
        child.terminate()
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
