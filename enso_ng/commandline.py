"""The click pieces every command shares: one-line errors, list options, the selection and service
options, and options generated from a parameter spec (``enso_ng.params``), each declared once."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from enso_ng.errors import EnsoError
from enso_ng.workspace import check_name, os_reason


def fail_cleanly(command: Callable) -> Callable:
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


def _split_list(cast: Callable = str, folder: str | None = None) -> Callable:
    """Values of a list option, repeated (``-f a -f b``) and/or comma-separated (``-f a,b``); None if absent.
    With ``folder``, each value names an entry there (a dataset, featurizer, run, model): it passes the
    workspace's one name check, or the command fails with one line naming the option."""

    def parse(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list | None:
        if not values:
            return None
        items = [part.strip(" ") for value in values for part in value.split(",") if part.strip(" ")]
        try:
            parsed = list(dict.fromkeys(cast(item) for item in items))
        except ValueError:
            raise click.BadParameter(
                f"expected a comma-separated list of {cast.__name__}, got {','.join(values)!r}"
            ) from None
        if folder is not None:
            spelled = "/".join([o for o in param.opts if not o.startswith("--")][:1] + param.opts[:1])
            for value in parsed:
                try:
                    check_name(value, spelled, folder)
                except EnsoError as exc:
                    raise click.ClickException(str(exc)) from None  # one line, not click's usage block
        return parsed

    return parse


def checked_by(param: Any) -> Callable:
    """A click callback checking a plain option's value by a :class:`~enso_ng.params.Param` (its type and
    interval): the same one-line ``Error: --timeout must be ...`` as the spec'd options, before any work."""

    def check(ctx: click.Context, option: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        try:
            return param.check(value, max(option.opts, key=len))
        except EnsoError as exc:
            raise click.ClickException(str(exc)) from None

    return check


def _joined(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> str | None:
    """A repeatable spec'd list option as the one comma-separated string its spec parses; None if absent."""
    return ",".join(values) if values else None


def list_option(*names: str, cast: Callable = str, folder: str | None = None, **kwargs: Any) -> Callable:
    """Every list option of every command is spelled and parsed this one way (``folder``: see _split_list)."""
    return click.option(*names, multiple=True, callback=_split_list(cast, folder), **kwargs)


def selection_options(*which: str) -> Callable:
    """The dataset / featurizer / model selection shared by the commands, in one spelling everywhere."""
    declared = {
        "datasets": list_option(
            "--datasets",
            "--dataset",
            "-d",
            "datasets",
            folder="datasets/",
            metavar="NAME[,NAME...]",
            help="Datasets (repeatable or comma-separated; default: all there are).",
        ),
        "featurizers": list_option(
            "--featurizers",
            "--featurizer",
            "-f",
            "featurizers",
            folder="features/<dataset>/",
            metavar="NAME[,NAME...]",
            help="Featurizers (repeatable or comma-separated; see enso featurize --list).",
        ),
        "models": list_option(
            "--models",
            "-m",
            "models",
            folder="the run's figure names",
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


def spec_options(spec: dict[str, Any], skip: tuple[str, ...] = ()) -> Callable:
    """A click option per :class:`~enso_ng.params.Param` of ``spec``, spelled ``--key-name`` (plus its
    ``flags``), with its help and default; each gives the raw string typed (None if absent), which the
    stage parses with the same parser as config files and ``-o``. A bool is a flag that flips its default."""

    def make(key: str, param: Any) -> Callable:
        name = "--" + key.replace("_", "-")
        shown = ",".join(map(str, param.default)) if param.is_list and param.default else param.default
        shown = "" if shown is None or len(str(shown)) > 40 else f" [default: {shown}]"
        if param.kind is bool and not param.is_list:
            spelled = "--no-" + name[2:] if param.default else name
            text = param.help + (" On unless this flag is given." if param.default else "")
            return click.option(spelled, key, flag_value="false" if param.default else "true", default=None, help=text)
        if param.is_list:
            return click.option(
                name, *param.flags, key, multiple=True, callback=_joined, metavar=param.metavar, help=param.help + shown
            )
        metavar = param.metavar or {int: "N", float: "NUMBER"}.get(param.kind, "TEXT")
        return click.option(name, *param.flags, key, metavar=metavar, help=param.help + shown)

    def decorate(command: Callable) -> Callable:
        for key, param in reversed(list(spec.items())):
            if key not in skip:
                command = make(key, param)(command)
        return command

    return decorate
