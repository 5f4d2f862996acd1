"""The ``enso`` command: thin wrappers that parse options, call one stage, and print a summary.

Examples:

    enso download rotten_tomatoes sst2
    enso featurize --featurizer bert --featurizer tfidf
    enso experiment --sizes 50,100,200,500 --splits 5 --name first
    enso visualize --run first
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from enso_ng import __version__
from enso_ng.errors import EnsoError
from enso_ng.progress import env_quiet, set_quiet
from enso_ng.tables import format_table
from enso_ng.workspace import ENV_WORKSPACE, Workspace, clean_workspace_temps, os_reason


def _fail_cleanly(command: Callable) -> Callable:
    """Turn an EnsoError, or a file-system error (permission, not a directory, disk full), into click's
    one-line ``Error: ...`` naming the path, and exit status 1. Writers are atomic, so nothing partial stays."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EnsoError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(os_error_line(exc)) from None

    return wrapper


def os_error_line(exc: OSError) -> str:
    """``PATH: reason`` for a file-system error, whatever raised it (Python, or Arrow with its own wording)."""
    return f"{exc.filename}: {os_reason(exc)}" if exc.filename is not None else os_reason(exc)


def _split_list(cast: Callable = str) -> Callable:
    """Values of a list option, repeated (``-f a -f b``) and/or comma-separated (``-f a,b``); None if absent."""

    def parse(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list | None:
        if not values:
            return None
        items = [part.strip() for value in values for part in value.split(",") if part.strip()]
        try:
            return list(dict.fromkeys(cast(item) for item in items))
        except ValueError:
            raise click.BadParameter(
                f"expected a comma-separated list of {cast.__name__}, got {','.join(values)!r}"
            ) from None

    return parse


def list_option(*names: str, cast: Callable = str, **kwargs: Any) -> Callable:
    """Every list option of every command is spelled and parsed this one way."""
    return click.option(*names, multiple=True, callback=_split_list(cast), **kwargs)


def selection_options(*which: str) -> Callable:
    """The dataset / featurizer / model selection shared by the commands, in one spelling everywhere."""
    declared = {
        "datasets": list_option(
            "--datasets",
            "--dataset",
            "-d",
            "datasets",
            metavar="NAME[,NAME...]",
            help="Datasets (repeatable or comma-separated; default: all there are).",
        ),
        "featurizers": list_option(
            "--featurizers",
            "--featurizer",
            "-f",
            "featurizers",
            metavar="NAME[,NAME...]",
            help="Featurizers (repeatable or comma-separated; see enso featurize --list).",
        ),
        "models": list_option(
            "--models",
            "-m",
            "models",
            metavar="NAME[,NAME...]",
            help="Target models (repeatable or comma-separated; see enso experiment --list).",
        ),
    }

    def decorate(command: Callable) -> Callable:
        for name in reversed(which):
            command = declared[name](command)
        return command

    return decorate


def service_option(option: str, what: str) -> Callable:
    """``--scheduler`` (a Dask cluster, featurize and experiment) or ``--mlflow`` (a tracking URI,
    experiment and visualize), declared once each; ``what`` says what it does for the command."""
    from enso_ng.cluster import ENV_SCHEDULER
    from enso_ng.tracking import ENV_TRACKING

    envvar, metavar, text = {
        "--scheduler": (
            ENV_SCHEDULER,
            "ADDRESS",
            "Dask scheduler (tcp://HOST:PORT), or local:N to start N single-threaded workers here. {} "
            "Workers must see the workspace at the same path. Extra: enso_ng[dask].",
        ),
        "--mlflow": (
            ENV_TRACKING,
            "URI",
            "Track the run in MLflow at URI (http://HOST:PORT, sqlite:///FILE.db): one experiment per run "
            "name. {} Extra: enso_ng[mlflow].",
        ),
    }[option]
    return click.option(option, envvar=envvar, metavar=metavar, help=text.format(what) + f" [env {envvar}]")


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
    set_quiet(quiet or env_quiet())
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
    "--mirror",
    envvar="ENSO_MIRROR",
    metavar="URL",
    help="Fetch https://HOST/PATH from URL/HOST/PATH instead, e.g. an internal copy (env ENSO_MIRROR).",
)
@click.option("--timeout", default=30.0, show_default=True, help="Seconds without data before a request is retried.")
@click.option("--force", is_flag=True, help="Rebuild even if datasets/<name>.parquet exists.")
@click.pass_context
@_fail_cleanly
def download(
    ctx: click.Context,
    names: tuple[str, ...],
    show_list: bool,
    from_file: Path | None,
    name: str | None,
    text_column: str,
    label_column: str,
    split_column: str | None,
    mirror: str | None,
    timeout: float,
    force: bool,
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
      enso download --list
    """
    from enso_ng import fetch
    from enso_ng.download import CATALOG
    from enso_ng.download import download as get
    from enso_ng.download import from_file as import_file

    workspace = _workspace(ctx)
    if show_list:
        _print_catalog(workspace)
        return
    if from_file is not None:
        if names:
            raise EnsoError("give either catalog names or --from-file, not both")
        if not name:
            raise EnsoError("--from-file needs --name NAME for the dataset")
        _report_dataset(
            workspace,
            name,
            import_file(from_file, name, text_column, label_column, split_column, workspace, force=force),
        )
        return
    for option, value in (("--name", name), ("--split-column", split_column)):
        if value is not None:
            raise EnsoError(f"{option} applies to --from-file only")
    for dataset in names:
        CATALOG.get(dataset)  # unknown names fail before any download starts
    if timeout <= 0:
        raise EnsoError(f"--timeout must be positive, got {timeout}")
    fetch.TIMEOUT_S = timeout
    if not names:
        _download_catalog(workspace, mirror, force)
        return
    names = tuple(dict.fromkeys(names))
    if len(names) == 1:
        _report_dataset(workspace, names[0], get(names[0], workspace, mirror=mirror, force=force))
        return
    failed = []
    for dataset in names:
        try:
            done = get(dataset, workspace, mirror=mirror, force=force)
        except EnsoError as exc:
            click.echo(f"failed {exc}", err=True)  # the message starts with the dataset's name
            failed.append(dataset)
            continue
        _report_dataset(workspace, dataset, done)
    click.echo(
        f"summary: {len(names) - len(failed)} of {len(names)} ok" + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    if failed:
        raise EnsoError(f"{len(failed)} of {len(names)} dataset(s) failed: {', '.join(failed)}")


def _download_catalog(workspace: Workspace, mirror: str | None, force: bool) -> None:
    """Every catalog entry; a table of what is now there; a non-zero exit if any failed."""
    from enso_ng.download.whole import FAILED, download_catalog

    def each(name: str, done: Any, reason: str) -> None:
        if done is None:
            click.echo(f"failed {name}: {reason}", err=True)
        else:
            _report_dataset(workspace, name, done)

    fetched = download_catalog(workspace, mirror=mirror, force=force, on_each=each)
    rows = [
        [
            f.name,
            "" if f.rows is None else f"{f.rows:,}",
            "" if f.classes is None else str(f.classes),
            f.state,
            f.reason,
        ]
        for f in fetched
    ]
    click.echo(format_table(["name", "rows", "classes", "state", "reason"], rows, right=(1, 2)))
    failed = [f.name for f in fetched if f.state == FAILED]
    click.echo(
        f"summary: {len(fetched) - len(failed)} of {len(fetched)} available"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    if failed:
        raise EnsoError(f"{len(failed)} of {len(fetched)} dataset(s) failed: {', '.join(failed)}")


def _report_dataset(workspace: Workspace, name: str, done: Any) -> None:
    meta = done.meta
    if done.note:
        click.echo(f"warning: {done.note}", err=True)
    labels = ", ".join(f"{k} {v}" for k, v in meta.labels.items())
    if len(labels) > 100:
        labels = f"{len(meta.labels)} labels"
    dropped = ", ".join(f"{v} {k}" for k, v in meta.dropped.items())
    click.echo(
        f"{'cached' if done.cached else 'wrote'} {workspace.dataset_path(name)}: {meta.rows} rows ({labels})"
        + (f"; dropped {dropped}" if dropped and not done.cached else "")
    )


def _print_catalog(workspace: Workspace) -> None:
    """The catalog, and any imported datasets, as one table."""
    from enso_ng.download import CATALOG
    from enso_ng.formats import DatasetMeta

    have = {}
    for name in workspace.datasets():
        try:
            have[name] = DatasetMeta.read(workspace.dataset_path(name))
        except EnsoError:
            continue
    rows = []
    for name in CATALOG.names():
        entry = CATALOG.get(name)
        meta = have.get(name)
        rows.append(
            [
                name,
                entry.task,
                str(entry.classes),
                f"{meta.rows if meta else entry.rows:,}",
                entry.origin,
                entry.licence,
                "yes" if meta else "",
            ]
        )
    for name, meta in have.items():
        if name not in CATALOG:
            source = (meta.sources or [{}])[0].get("path", "file")
            rows.append([name, meta.task, str(len(meta.labels)), f"{meta.rows:,}", source, meta.licence, "yes"])
    for row in rows:
        row[4] = row[4] if len(row[4]) <= 36 else row[4][:35] + "…"
    header = ["name", "task", "classes", "rows", "source", "licence", "downloaded"]
    click.echo(format_table(header, rows, right=(2, 3)))


def _parse_featurizer_options(values: tuple[str, ...], featurizers: list[str]) -> dict[str, dict[str, str]]:
    """``key=value`` applies to every chosen featurizer that has the option; ``name.key=value`` to one."""
    from enso_ng.featurize import FEATURIZERS

    per: dict[str, dict[str, str]] = {f: {} for f in featurizers}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise EnsoError(f"--option {item!r}: expected key=value")
        target, _, option = key.rpartition(".")
        targets = [target] if target else [f for f in featurizers if option in FEATURIZERS.get(f).options]
        if not targets or any(t not in per for t in targets):
            raise EnsoError(f"--option {item!r}: no chosen featurizer has option {option!r}")
        for t in targets:
            per[t][option] = value
    return per


def _model_shortcut(model: str, chosen: list[str]) -> list[str]:
    """``--model X`` as ``-o NAME.OPTION=X`` for each chosen featurizer that declares a ``model_option``."""
    from enso_ng.featurize import FEATURIZERS

    takers = [(f, FEATURIZERS.get(f).model_option) for f in chosen if FEATURIZERS.get(f).model_option]
    if not takers:
        able = ", ".join(
            f"{n} ({FEATURIZERS.get(n).model_option})" for n in FEATURIZERS.names() if FEATURIZERS.get(n).model_option
        )
        raise EnsoError(f"--model applies to featurizers that load a model: {able}")
    return [f"{f}.{option}={model}" for f, option in takers]


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
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "fp32-onnx", "bf16", "fp16"]),
    help="Shortcut for -o precision=... (bert): fp32-onnx runs the same vectors through ONNX Runtime; auto "
    "measures each on a sample of the texts, once per machine and model, and takes the fastest close to fp32.",
)
@click.option("--layers", help="Shortcut for -o layers=... (bert): last, a layer number, mean, or all (stored each).")
@click.option("--force", is_flag=True, help="Rebuild even if a matching cache exists.")
@service_option("--scheduler", "Blocks of rows are embedded by its workers (on their GPU where they have one).")
@click.option("--list", "show_list", is_flag=True, help="List featurizers and their options.")
@click.pass_context
@_fail_cleanly
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
    from enso_ng.featurize import FEATURIZERS
    from enso_ng.featurize import featurize as embed

    if show_list:
        for name in FEATURIZERS.names():
            cls = FEATURIZERS.get(name)
            click.echo(f"{name}: {cls.summary}" + (f" (--model sets {cls.model_option})" if cls.model_option else ""))
            for key, option in cls.options.items():
                click.echo(f"    {key} = {option.describe()}")
        return
    workspace = _workspace(ctx)
    chosen = featurizers or ["bert"]
    for name in chosen:
        FEATURIZERS.get(name)
    shortcuts = [f"{key}={value}" for key, value in (("precision", precision), ("layers", layers)) if value]
    if model:
        shortcuts += _model_shortcut(model, chosen)
    per_options = _parse_featurizer_options((*shortcuts, *options), chosen)
    targets = datasets or workspace.datasets()
    if not targets:
        raise EnsoError(f"no datasets in {workspace.datasets_dir} (run: enso download NAME)")
    for featurizer in chosen:
        for dataset in targets:
            done = embed(dataset, featurizer, workspace, per_options[featurizer], force=force, scheduler=scheduler)
            if done.note:
                click.echo(f"warning: {done.note}", err=True)
            meta, path = done.meta, workspace.features_path(dataset, featurizer)
            if done.cached:
                click.echo(f"cached {path}: {meta.rows} x {meta.dim} (parameters match)")
            else:
                rate = meta.rows / max(done.seconds, 1e-9)
                extra = "".join(
                    f", {k.replace('_', ' ')} {v}"
                    for k, v in meta.report.items()
                    if k in ("truncated", "oov_rate", "precision", "capped")
                )
                shape = f"{meta.rows} texts x tokens x {meta.dim}" if meta.sequence else f"{meta.rows} x {meta.dim}"
                click.echo(f"wrote {path}: {shape} in {done.seconds:.1f} s ({rate:.0f} texts/s{extra})")
                auto = meta.report.get("precision_auto")
                if auto:
                    rates = ", ".join(f"{p} {r:,.0f}" for p, r in auto["texts_per_second"].items())
                    how = "cached decision" if auto["cached"] else "measured now"
                    click.echo(f"  precision auto chose {auto['chosen']} ({how}; texts/s: {rates})")
                if meta.sequence:
                    size = path.stat().st_size
                    click.echo(f"  {size / 1e6:.1f} MB, {1000 * size / max(meta.rows, 1) / 1e6:.2f} MB per 1,000 texts")


@cli.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML or YAML file of these options, for long grids; flags given here override it.",
)
@list_option(
    "--sizes",
    "sizes",
    cast=int,
    metavar="N[,N...]",
    help="Training sizes (repeatable or comma-separated) [default: 50,100,200,500,1000].",
)
@list_option(
    "--per-label",
    "per_label",
    cast=int,
    metavar="K[,K...]",
    help="Examples per label instead of sizes (MTEB's protocol), e.g. 8,16,32.",
)
@click.option("--splits", type=int, help="Split seeds per size (repeated stratified splits) [default: 5].")
@click.option("--seed", type=int, help="First split seed; seeds are seed..seed+splits-1 [default: 0].")
@click.option(
    "--test-size",
    type=float,
    help="Held-out fraction (<1) or count, where the dataset has no official test split [default: 0.2].",
)
@click.option(
    "--no-official-test",
    "official_test",
    flag_value=False,
    default=None,
    help="Hold out a stratified test set even where the dataset has an official test split.",
)
@selection_options("datasets", "featurizers", "models")
@list_option(
    "--metrics",
    "--metric",
    "metrics",
    metavar="NAME[,NAME...]",
    help="Metrics (repeatable or comma-separated) [default: all] (see --list).",
)
@click.option(
    "--beta",
    type=float,
    help="Also score macro F-beta at this beta as the metric fbeta (recorded in config.json), e.g. 0.5 or 3.",
)
@click.option(
    "--option",
    "-o",
    "model_options",
    multiple=True,
    metavar="MODEL.KEY=VALUE",
    help="A model parameter, e.g. -o logreg.Cs=0.1,1,10, -o mlp.hidden=256 or -o logreg.criterion=macro_f1 (see --list).",
)
@click.option("--sampler", help="How training subsets are drawn: stratified (default), natural, per_label.")
@click.option("--resampler", help="Rebalance each training subset: none (default), oversample, undersample.")
@click.option("--jobs", "-j", type=int, help="Worker processes; results are identical to --jobs 1 [default: 1].")
@service_option("--scheduler", "Groups of cells run as tasks on its workers; results are identical to --jobs 1.")
@service_option("--mlflow", "A parent run with the config, a child run per dataset x featurizer x model x size.")
@click.option("--name", help="Run name under results/ (default: run-<timestamp>); an existing run resumes.")
@click.option("--list", "show_list", is_flag=True, help="List models (with parameters), metrics, samplers, resamplers.")
@click.pass_context
@_fail_cleanly
def experiment(
    ctx: click.Context,
    config_file: Path | None,
    show_list: bool,
    name: str | None,
    model_options: tuple[str, ...],
    mlflow: str | None,
    **options: Any,
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
    from enso_ng.experiment import default_run_name, run_experiment
    from enso_ng.experiment.config import parse_model_options, read_config_file, resolve
    from enso_ng.experiment.convergence import convergence_line
    from enso_ng.formats import RunRecord
    from enso_ng.visualize.summary import best_table, format_table, load_results, summarize

    if show_list:
        _print_experiment_parts()
        return
    workspace = _workspace(ctx)
    merged = read_config_file(config_file) if config_file else {}
    merged.update({k: v for k, v in options.items() if v is not None})
    if model_options:
        params = merged.setdefault("model_params", {})
        for model, values in parse_model_options(list(model_options)).items():
            params[model] = {**params.get(model, {}), **values}
    config = resolve(merged, name or merged.get("name") or default_run_name())
    outcome = run_experiment(
        workspace, config, warn=lambda message: click.echo(f"warning: {message}", err=True), mlflow=mlflow or None
    )
    click.echo(
        f"wrote {outcome.path}: {outcome.cells} new cells"
        + (f", {outcome.resumed_cells} already there" if outcome.resumed_cells else "")
        + f" in {outcome.seconds:.1f} s"
    )
    metric = "accuracy" if "accuracy" in config.metrics else config.metrics[0]
    record = RunRecord.read(workspace.run_dir(config.name))
    results = load_results(Path(outcome.path))
    cells = summarize(results, metric, record.higher_is_better(metric))
    click.echo("best featurizer x model per dataset and size (all cells: enso visualize):")
    click.echo(format_table(best_table(cells), metric))
    unconverged = convergence_line(results)
    if unconverged:
        click.echo(f"warning: {unconverged}")


def _print_experiment_parts() -> None:
    from enso_ng.experiment import EXECUTORS, METRICS, MODELS, RESAMPLERS, SAMPLERS
    from enso_ng.experiment.criteria import CRITERIA

    click.echo("models:")
    for name in MODELS.names():
        cls = MODELS.get(name)
        can = [
            c
            for c, on in (
                ("batched", cls.batched),
                ("layer-aware", cls.layer_aware),
                ("token vectors", cls.takes_sequences),
                ("dense only", not cls.accepts_sparse and not cls.takes_sequences),
            )
            if on
        ]
        params = ", ".join(f"{k}={v!r}" for k, v in cls().get_params().items() if k != "random_state")
        click.echo(f"  {name}" + (f" [{', '.join(can)}]" if can else "") + f": {params}")
    direction = {n: "" if METRICS.get(n).higher_is_better else " (lower is better)" for n in METRICS.names()}
    click.echo(f"metrics: {', '.join(n + direction[n] for n in METRICS.names())}")
    for title, registry in (("samplers", SAMPLERS), ("resamplers", RESAMPLERS), ("executors", EXECUTORS)):
        click.echo(f"{title}: {', '.join(registry.names())}")
    click.echo("inner-CV criteria (-o MODEL.criterion=NAME):")
    for name in CRITERIA.names():
        click.echo(f"  {name}: {CRITERIA.get(name).help}")


@cli.command()
@list_option(
    "--run",
    "--compare",
    "runs",
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
@click.option("--size", type=int, help="Training size of the bar chart [default: the largest].")
@click.option(
    "--threshold",
    type=float,
    default=0.8,
    show_default=True,
    help="Score that 'labels needed' asks for, in the first metric.",
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
@_fail_cleanly
def visualize(
    ctx: click.Context,
    runs: list[str] | None,
    metrics: list[str] | None,
    datasets: list[str] | None,
    featurizers: list[str] | None,
    models: list[str] | None,
    fmt: str,
    size: int | None,
    threshold: float,
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
    from enso_ng.visualize.draw import Options, draw, draw_comparison, resolve_run

    workspace = _workspace(ctx)
    if runs and len(runs) > 2:
        raise EnsoError(f"--run given {len(runs)} times: a comparison takes two runs (--run A --run B)")
    names = [resolve_run(workspace, r) for r in runs or [None]]
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
    if len(names) == 2:
        outcome = draw_comparison(workspace, (names[0], names[1]), options)
        click.echo(f"runs {names[0]} and {names[1]}")
    else:
        outcome = draw(workspace, names[0], options)
        click.echo(f"run {names[0]}")
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


@cli.command()
@click.option("--name", required=True, help="The model folder's name: models/<name>/ in the workspace.")
@click.option("--dataset", "-d", help="Dataset to train on (default with --from-run: the run's).")
@click.option("--featurizer", "-f", help="Featurizer (default with --from-run: the winner's).")
@click.option(
    "--model", "-m", help="Target model: logreg, mlp, knn, svm, lightgbm (default with --from-run: the winner's)."
)
@click.option(
    "--option",
    "-o",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A featurizer option (see enso featurize --list) [default: those of its features file, if any].",
)
@click.option("--from-run", metavar="RUN", help="Train the run's winner at its largest size, with its settings.")
@click.option(
    "--max-ms-per-doc",
    type=float,
    metavar="MS",
    help="With --from-run: the most accurate pair whose measured inference (featurizing included) fits MS per document.",
)
@click.option("--size", type=int, help="With --split: reproduce one experiment cell (its rows and choices) exactly.")
@click.option("--split", type=int, help="The split seed of the cell --size names.")
@click.option("--force", is_flag=True, help="Replace an existing models/<name>/.")
@click.option(
    "--onnx", is_flag=True, help="Also write encoder + pooling + head as one ONNX graph (bert with logreg, mlp, svm)."
)
@service_option("--mlflow", "The folder is logged as an MLflow pyfunc model (serve it with mlflow models serve).")
@click.option(
    "--bundle", is_flag=True, help="Copy the encoder's weights into the folder (it then runs without them installed)."
)
@click.pass_context
@_fail_cleanly
def train(
    ctx: click.Context,
    name: str,
    dataset: str | None,
    featurizer: str | None,
    model: str | None,
    options: tuple[str, ...],
    from_run: str | None,
    size: int | None,
    split: int | None,
    force: bool,
    onnx: bool,
    mlflow: str | None,
    bundle: bool,
    max_ms_per_doc: float | None,
) -> None:
    """Fit one featurizer + model pair and write it as a model folder, models/<name>/.

    Without --size/--split it trains on every labelled row outside the test split, choosing
    hyper-parameters by inner CV as the experiment does; with them it reproduces that experiment cell.
    The folder holds no pickle: safetensors, JSON and sha256 of every file, checked by enso predict.

    \b
    Examples:
      enso train -d sst2 -f tfidf -m logreg --name sst2-tfidf
      enso train --from-run first --name sst2-best
      enso train --from-run first --size 500 --split 0 --name sst2-cell
      enso train -d sst2 -f bert -m logreg --name sst2-minilm --onnx
      enso train --from-run first --name sst2-best --mlflow sqlite:///mlflow.db
    """
    from enso_ng.serve import train as fit_pair

    featurizer_options = dict(_key_value(item) for item in options)
    done = fit_pair(
        _workspace(ctx),
        name,
        dataset=dataset,
        featurizer=featurizer,
        model=model,
        options=featurizer_options,
        from_run=from_run,
        size=size,
        split=split,
        force=force,
        onnx=onnx,
        mlflow=mlflow or None,
        bundle=bundle,
        max_ms_per_doc=max_ms_per_doc,
    )
    m = done.manifest
    click.echo(
        f"wrote {done.path}: {m.featurizer['name']} + {m.model['name']} on {m.training['rows']} rows of "
        f"{m.training['dataset']} ({len(m.labels)} labels) in {done.seconds:.1f} s"
    )
    if m.expected:
        e = m.expected
        interval = "" if e.get("ci_low") is None else f", 95% CI [{e['ci_low']:.3f}, {e['ci_high']:.3f}]"
        click.echo(
            f"expected {e['metric']}: {e['mean']:.3f}{interval} over {e['splits']} splits at {e['size']} "
            f"{e['size_unit']} (run {e['run']})" + (f"; split {e['split']}: {e['value']:.3f}" if "split" in e else "")
        )
    if done.mlflow_uri:
        click.echo(
            f"logged to MLflow {mlflow} as {done.mlflow_uri} (serve: mlflow models serve -m {done.mlflow_uri} --env-manager local)"
        )


def _key_value(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep:
        raise EnsoError(f"--option {item!r}: expected key=value")
    return key, value


@cli.command()
@click.argument("model")
@click.argument("source", metavar="INPUT")
@click.option("--output", "-o", help="Output file (.parquet, .csv, .jsonl) [default: csv on standard output].")
@click.option(
    "--text-column", default="text", show_default=True, help="The input's text column (csv, tsv, jsonl, parquet)."
)
@click.option("--id-column", help="An input column copied to the output as id.")
@click.option("--top-k", type=int, help="The k most likely labels and their probabilities instead of every class's.")
@click.option("--batch-size", default=4096, show_default=True, help="Rows per batch (memory holds one batch).")
@click.option(
    "--input-format",
    type=click.Choice(["csv", "tsv", "jsonl", "parquet", "text"]),
    help="[default: from INPUT's suffix]",
)
@click.option(
    "--format", "output_format", type=click.Choice(["parquet", "csv", "jsonl"]), help="[default: from --output]"
)
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "fp32-onnx", "bf16", "fp16"]),
    help="An encoder's precision as in enso featurize (default: the one it was trained with).",
)
@click.option(
    "--runtime",
    type=click.Choice(["torch", "onnx"]),
    default="torch",
    show_default=True,
    help="onnx: score with the folder's ONNX graph (enso train --onnx) through ONNX Runtime.",
)
@click.pass_context
@_fail_cleanly
def predict(
    ctx: click.Context,
    model: str,
    source: str,
    output: str | None,
    text_column: str,
    id_column: str | None,
    top_k: int | None,
    batch_size: int,
    input_format: str | None,
    output_format: str | None,
    precision: str | None,
    runtime: str,
) -> None:
    """Score INPUT's texts with MODEL (a name under models/ or a folder); INPUT - reads standard input.

    One output row per input row: row, id, status (ok, empty, missing, not_text, unreadable), label and
    each class's probability. The folder's files are verified (sha256) before anything is read.

    \b
    Examples:
      enso predict sst2-best new.csv -o scored.parquet
      enso predict sst2-best tickets.jsonl --id-column ticket_id --top-k 2 -o top2.jsonl
      cat texts.txt | enso predict sst2-best - > scored.csv
      enso predict sst2-minilm new.csv --runtime onnx -o scored.csv
    """
    from enso_ng.serve import predict as score
    from enso_ng.serve.predict import model_folder

    folder = model_folder(_workspace(ctx).root, model)
    done = score(
        folder,
        source,
        output,
        text_column=text_column,
        id_column=id_column,
        top_k=top_k,
        batch_rows=batch_size,
        input_fmt=input_format,
        output_fmt=output_format,
        precision=precision,
        runtime=runtime,
    )
    skipped = ", ".join(f"{n} {status}" for status, n in sorted(done.not_scored.items()))
    click.echo(
        f"{'wrote ' + done.output if done.output != '-' else 'scored'}: {done.rows} rows, {done.scored} scored"
        + (f"; not scored: {skipped}" if skipped else "")
        + f" in {done.seconds:.1f} s",
        err=done.output == "-",
    )


def main() -> None:
    cli(prog_name="enso")


if __name__ == "__main__":
    main()
