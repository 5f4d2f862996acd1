"""The ``enso`` command: thin wrappers that parse options, call one stage, and print a summary.

Examples:

    enso download rotten_tomatoes sst2
    enso featurize --featurizer bert --featurizer tfidf
    enso experiment --sizes 50,100,200,500 --splits 5 --name first
    enso visualize --run first
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import click

from enso_ng import __version__
from enso_ng.errors import EnsoError
from enso_ng.progress import set_quiet
from enso_ng.workspace import ENV_WORKSPACE, Workspace


def _fail_cleanly(command: Callable) -> Callable:
    """Turn an EnsoError into click's one-line ``Error: ...`` and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EnsoError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _comma_list(cast: Callable = str) -> Callable:
    def parse(ctx: click.Context, param: click.Parameter, value: str | None) -> list | None:
        if value is None:
            return None
        try:
            return [cast(part.strip()) for part in value.split(",") if part.strip()]
        except ValueError:
            raise click.BadParameter(f"expected a comma-separated list, got {value!r}") from None

    return parse


def _workspace(ctx: click.Context) -> Workspace:
    return ctx.obj["workspace"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--workspace", "-w", type=click.Path(file_okay=False), envvar=ENV_WORKSPACE,
              help="Folder holding datasets/, features/ and results/ (default: current directory; env ENSO_WORKSPACE).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (for scripts).")
@click.version_option(__version__, prog_name="enso")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None, quiet: bool) -> None:
    """Which pre-trained text representation, which light model, and how many labels?

    Four stages that talk through files: download -> featurize -> experiment -> visualize.
    """
    set_quiet(quiet)
    ctx.obj = {"workspace": Workspace.resolve(workspace)}


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--list", "show_list", is_flag=True, help="List the catalog and what is downloaded.")
@click.option("--mirror", envvar="ENSO_MIRROR", metavar="URL",
              help="Replace the https://raw.githubusercontent.com prefix of catalog URLs (env ENSO_MIRROR).")
@click.option("--force", is_flag=True, help="Rebuild even if datasets/<name>.parquet exists.")
@click.pass_context
@_fail_cleanly
def download(ctx: click.Context, names: tuple[str, ...], show_list: bool, mirror: str | None, force: bool) -> None:
    """Fetch catalog datasets into datasets/<name>.parquet (text, label, split).

    \b
    Examples:
      enso download rotten_tomatoes
      enso download sst2 subj --mirror http://127.0.0.1:8000/raw.githubusercontent.com
      enso download --list
    """
    from enso_ng.download import CATALOG
    from enso_ng.download import download as fetch

    workspace = _workspace(ctx)
    if show_list:
        have = set(workspace.datasets())
        for name in CATALOG.names():
            entry = CATALOG.get(name)
            mark = "downloaded" if name in have else ""
            click.echo(f"{name:18} {entry.task:18} {len(entry.labels):>3} classes  {mark}")
        return
    if not names:
        raise EnsoError("name at least one dataset (see: enso download --list)")
    for name in names:
        CATALOG.get(name)  # unknown names fail before any download starts
    failed = []
    for name in names:
        try:
            meta = fetch(name, workspace, mirror=mirror, force=force)
        except EnsoError as exc:
            click.echo(f"failed {name}: {exc}", err=True)
            failed.append(name)
            continue
        state = "cached" if meta["cached"] else "wrote"
        labels = ", ".join(f"{k} {v}" for k, v in meta["labels"].items())
        click.echo(f"{state} {workspace.dataset_path(name)}: {meta['rows']} rows ({labels})")
    if failed:
        raise EnsoError(f"{len(failed)} of {len(names)} dataset(s) failed: {', '.join(failed)}")


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


@cli.command()
@click.option("--featurizer", "-f", "featurizers", multiple=True, help="Featurizer(s) to run (repeatable; default bert).")
@click.option("--dataset", "-d", "datasets", multiple=True, help="Dataset(s) to embed (repeatable; default: all downloaded).")
@click.option("--option", "-o", "options", multiple=True, metavar="[NAME.]KEY=VALUE",
              help="A featurizer option, e.g. -o pooling=cls or -o bert.max_length=128 (see --list).")
@click.option("--force", is_flag=True, help="Rebuild even if a matching cache exists.")
@click.option("--list", "show_list", is_flag=True, help="List featurizers and their options.")
@click.pass_context
@_fail_cleanly
def featurize(ctx: click.Context, featurizers: tuple[str, ...], datasets: tuple[str, ...], options: tuple[str, ...],
              force: bool, show_list: bool) -> None:
    """Embed datasets with frozen representations into features/<dataset>/<featurizer>.parquet.

    A cache whose dataset fingerprint or parameters differ from the request is rebuilt; a match is reused.

    \b
    Examples:
      enso featurize --featurizer bert --featurizer tfidf
      enso featurize -f bert -d sst2 -o pooling=cls -o max_length=128
      enso featurize --list
    """
    from enso_ng.featurize import FEATURIZERS
    from enso_ng.featurize import featurize as embed

    if show_list:
        for name in FEATURIZERS.names():
            cls = FEATURIZERS.get(name)
            click.echo(f"{name}: {cls.summary}")
            for key, (default, text) in cls.options.items():
                click.echo(f"    {key} = {default!r}: {text}")
        return
    workspace = _workspace(ctx)
    chosen = list(dict.fromkeys(featurizers or ("bert",)))
    for name in chosen:
        FEATURIZERS.get(name)
    per_options = _parse_featurizer_options(options, chosen)
    targets = list(dict.fromkeys(datasets)) or workspace.datasets()
    if not targets:
        raise EnsoError(f"no datasets in {workspace.datasets_dir} (run: enso download NAME)")
    for featurizer in chosen:
        for dataset in targets:
            meta = embed(dataset, featurizer, workspace, per_options[featurizer], force=force)
            path = workspace.features_path(dataset, featurizer)
            if meta["cached"]:
                click.echo(f"cached {path}: {meta['rows']} x {meta['dim']} (parameters match)")
            else:
                rate = meta["rows"] / max(meta["seconds"], 1e-9)
                extra = "".join(f", {k} {v}" for k, v in meta["report"].items() if k == "truncated")
                click.echo(f"wrote {path}: {meta['rows']} x {meta['dim']} in {meta['seconds']:.1f} s ({rate:.0f} texts/s{extra})")


@cli.command()
@click.option("--sizes", callback=_comma_list(int), default="50,100,200,500,1000", show_default=True,
              help="Training sizes, comma-separated.")
@click.option("--splits", default=5, show_default=True, help="Split seeds per size (repeated stratified splits).")
@click.option("--seed", default=0, show_default=True, help="First split seed; seeds are seed..seed+splits-1.")
@click.option("--test-size", default=0.2, show_default=True,
              help="Held-out fraction (<1) or count, where the dataset has no official test split.")
@click.option("--datasets", callback=_comma_list(), help="Datasets to use (default: all with features).")
@click.option("--featurizers", callback=_comma_list(), help="Featurizers to use (default: all cached).")
@click.option("--models", callback=_comma_list(), default="logreg,mlp", show_default=True, help="Target models.")
@click.option("--name", help="Run name under results/ (default: run-<timestamp>); an existing run resumes.")
@click.pass_context
@_fail_cleanly
def experiment(ctx: click.Context, sizes: list[int], splits: int, seed: int, test_size: float, datasets: list[str] | None,
               featurizers: list[str] | None, models: list[str], name: str | None) -> None:
    """Train light models on cached features at each training size; write results/<run>/.

    Every featurizer and model sees the same test set and the same nested training subsets per seed.

    \b
    Examples:
      enso experiment --sizes 50,100,500
      enso experiment --datasets sst2 --models logreg --splits 10 --name sst2-lr
    """
    from enso_ng.experiment import ExperimentConfig, default_run_name, run_experiment
    from enso_ng.visualize import best_table, format_table, load_results, summarize

    workspace = _workspace(ctx)
    config = ExperimentConfig(
        name=name or default_run_name(), sizes=sizes, splits=splits, seed=seed, test_size=test_size,
        datasets=datasets or [], featurizers=featurizers or [], models=models,
    )
    outcome = run_experiment(workspace, config, warn=lambda message: click.echo(f"warning: {message}", err=True))
    click.echo(f"wrote {outcome['path']}: {outcome['cells']} new cells"
               + (f", {outcome['resumed_cells']} already there" if outcome["resumed_cells"] else "")
               + f" in {outcome['seconds']:.1f} s")
    cells = summarize(load_results(workspace.run_dir(config.name) / "results.parquet"), "accuracy")
    click.echo("best featurizer x model per dataset and size (all cells: enso visualize):")
    click.echo(format_table(best_table(cells), "accuracy"))


@cli.command()
@click.option("--run", help="Run under results/ (default: the latest).")
@click.option("--metric", default="accuracy", show_default=True, help="Metric to plot.")
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default="png", show_default=True)
@click.pass_context
@_fail_cleanly
def visualize(ctx: click.Context, run: str | None, metric: str, fmt: str) -> None:
    """Draw learning curves of a run into results/<run>/ and print a summary table.

    \b
    Examples:
      enso visualize
      enso visualize --run first --metric macro_f1 --format svg
    """
    from enso_ng.visualize import format_table, learning_curves, load_results, save, summarize

    workspace = _workspace(ctx)
    runs = workspace.runs()
    if run is None:
        if not runs:
            raise EnsoError(f"no runs in {workspace.results_dir} (run: enso experiment)")
        run = runs[-1]
    results = workspace.run_dir(run) / "results.parquet"
    if not results.exists():
        raise EnsoError(f"no run {run!r}: {results} does not exist (runs: {', '.join(runs) or 'none'})")
    cells = summarize(load_results(results), metric)
    path = save(learning_curves(cells, metric, run), workspace.run_dir(run) / f"learning_curves_{metric}.{fmt}")
    click.echo(format_table(cells, metric))
    click.echo(f"wrote {path}")


def main() -> None:
    cli(prog_name="enso")


if __name__ == "__main__":
    main()
