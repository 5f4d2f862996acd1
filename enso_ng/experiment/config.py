"""The run configuration: every option that decides a run's numbers, and where it is read from.

Options come from flags and from ``enso experiment --config FILE`` (TOML or YAML) for grids too long for
flags. Keys are the option names (``sizes``, ``splits``, ``models``, ``per_label``, ...), at the top level or
under an ``experiment`` table; lists may be lists or comma-separated strings. A ``models`` *table* sets
model parameters (``[models.logreg] Cs = [0.1, 1, 10]``), as ``--option logreg.Cs=0.1,1,10`` does on the
command line. Flags override the file; the resolved result is what ``config.json`` records.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from enso_ng.errors import EnsoError
from enso_ng.params import (
    POSITIVE,  # noqa: F401 (the intervals a new run option takes, README's recipe)
    POSITIVE_FINITE,
    Interval,
    Param,
    dataclass_spec,
    run_option,
)
from enso_ng.workspace import check_name, check_run_name

#: the largest split seed: scikit-learn's and numpy's legacy generators take seeds below 2**32
MAX_SEED = 2**32 - 1
SEEDS = Interval(0, MAX_SEED)
#: ranges that keep a typo (an extra zero or ten) from planning for hours or forking thousands of processes
SPLITS = Interval(1, 10_000)
JOBS = Interval(1, 1024)
SIZES = Interval(1, 2**31 - 1)

DEFAULT_SIZES = (50, 100, 200, 500, 1000)
DEFAULT_MODELS = ("logreg", "mlp")
DEFAULT_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "micro_f1",
    "macro_precision",
    "macro_recall",
    "f2",
    "roc_auc",
    "average_precision",
    "log_loss",
)
#: settings that decide which rows train and test each cell (or what a metric means): a resumed run must
#: not change them
RESUME_KEYS = ("seed", "test_size", "sampler", "resampler", "official_test", "beta", "pair", "label_map", "select_with")


def _test_size(value: float) -> bool:
    """A fraction in (0, 1), or a whole count of 2 or more; 1 is refused: "1.0" reads as all rows, and
    would mean one row (and a test set of one row scores nothing worth reading)."""
    return 0 < value < 1 or (math.isfinite(value) and value >= 2 and value == int(value))


@dataclass
class ExperimentConfig:
    """Everything that decides a run's numbers; saved, resolved, in ``config.json``. Each field declared with
    :func:`run_option` is a flag (``--test-size``), a config-file key and a checked value at once."""

    name: str = run_option(
        None, "Run name under results/ (default: run-<timestamp>); an existing run resumes.", type=str
    )
    sizes: list[int] = run_option(
        list(DEFAULT_SIZES), "Training sizes (repeatable or comma-separated).", interval=SIZES, metavar="N[,N...]"
    )
    splits: int = run_option(5, "Split seeds per size (repeated stratified splits).", interval=SPLITS)
    seed: int = run_option(0, "First split seed; seeds are seed..seed+splits-1.", interval=SEEDS)
    test_size: float = run_option(
        0.2,
        "Held-out fraction (<1) or count, where the dataset has no official test split.",
        check_rule=_test_size,
        check_text="a fraction between 0 and 1 (0.2) or a whole count of 2 or more (500); 1 is ambiguous "
        "(all rows or one row?) and refused",
    )
    #: use a dataset's official test split where it has one (else a stratified hold-out every time)
    official_test: bool = run_option(
        True, "Use a dataset's official test split where it has one (else hold out a stratified test set)."
    )
    datasets: list[str] = run_option(
        [],
        "Datasets (default: all there are).",
        type=str,
        many=True,
        flags=("--dataset", "-d"),
        metavar="NAME[,NAME...]",
    )
    featurizers: list[str] = run_option(
        [],
        "Featurizers (default: all featurized; see enso featurize --list).",
        type=str,
        many=True,
        flags=("--featurizer", "-f"),
        metavar="NAME[,NAME...]",
    )
    models: list[str] = run_option(
        list(DEFAULT_MODELS), "Target models (see --list).", flags=("-m",), metavar="NAME[,NAME...]"
    )
    #: model -> parameter -> value, set on the model before fitting (``-o logreg.Cs=...``, ``[models.logreg]``)
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: list[str] = run_option(
        list(DEFAULT_METRICS), "Metrics (see --list).", flags=("--metric",), metavar="NAME[,NAME...]"
    )
    #: the beta of the ``fbeta`` metric; None where the run has no fbeta
    beta: float | None = run_option(
        None,
        "Also score macro F-beta at this beta as the metric fbeta (recorded in config.json), e.g. 0.5 or 3.",
        type=float,
        interval=POSITIVE_FINITE,
    )
    #: also score each model on its own training subset (``train_<metric>`` rows): the over-fitting gap
    train_metrics: bool = run_option(True, "Also score each model on its own training subset (train_<metric>).")
    sampler: str = run_option(
        "stratified", "How training subsets are drawn (see --list); with --samplers, the first of them."
    )
    #: samplers as a grid axis (results gain their ``sampler``); empty: ``sampler`` alone
    samplers: list[str] = run_option(
        [],
        "Samplers as a grid axis, compared on paired curves, e.g. stratified,kcenter,margin (the first is "
        "the baseline the others are compared with).",
        type=str,
        many=True,
        metavar="NAME[,NAME...]",
    )
    #: the featurizer whose vectors a selection sampler chooses from (None: each dataset's first of the run)
    select_with: str | None = run_option(
        None, "Featurizer whose vectors selection samplers choose from (default: the run's first).", type=str
    )
    #: how a sentence-pair row's two vectors u, v become a model's input (``enso_ng.experiment.pairs``)
    pair: str = run_option(
        "senteval",
        "Sentence pairs: senteval [u,v,|u-v|,u*v], diffprod [|u-v|,u*v] or concat [u,v] (also -o pair=NAME).",
        choices=("senteval", "diffprod", "concat"),
    )
    resampler: str = run_option("none", "Rebalance each training subset (see --list).")
    #: transfer: train on this dataset's pool and test on ``test_on``'s test rows (``enso_ng.experiment.transfer``)
    train_on: str | None = run_option(
        None, "Transfer: train on this dataset's pool (with --test-on B; B in domain runs beside it).", type=str
    )
    test_on: str | None = run_option(None, "Transfer: test on this dataset's test rows.", type=str)
    label_map: str | None = run_option(
        None,
        "Transfer: --train-on labels in --test-on's names, e.g. fresh=positive,rotten=negative (plot= drops plot).",
        type=str,
    )
    mix: list[int] = run_option(
        [],
        "Transfer: also train on A's whole pool plus N of B's own labels, for each N.",
        type=int,
        many=True,
        interval=SIZES,
        metavar="N[,N...]",
    )
    #: worker processes; the results do not depend on it
    jobs: int = run_option(1, "Worker processes; results are identical to --jobs 1.", interval=JOBS, flags=("-j",))
    #: a Dask scheduler address (or ``local:N``) to run the groups on instead; nor does it change results
    scheduler: str | None = run_option(None, "Dask scheduler address, or local:N.", type=str)

    def split_seeds(self) -> list[int]:
        return [self.seed + i for i in range(self.splits)]

    def sampler_axis(self) -> list[str]:
        """The run's samplers, its baseline (``sampler``) first."""
        return list(self.samplers) or [self.sampler]

    def validate(self) -> None:
        """Every option against its spec and registry, before any work starts; a one-line error names it."""
        for key, param in RUN_SPEC.items():
            setattr(self, key, param.check(getattr(self, key), flag(key)))
        from enso_ng.experiment.metrics import METRICS
        from enso_ng.experiment.models import MODELS
        from enso_ng.experiment.samplers import RESAMPLERS, SAMPLERS

        check_run_name(self.name, flag("name"))
        self._check_transfer()
        for key in ("datasets", "featurizers"):
            for name in getattr(self, key):
                check_name(name, flag(key), "datasets/" if key == "datasets" else "features/<dataset>/")
        if self.seed + self.splits - 1 > MAX_SEED:
            raise EnsoError(
                f"--seed {self.seed} with --splits {self.splits} runs past the largest seed, {MAX_SEED}; "
                f"start at {MAX_SEED - self.splits + 1} at most"
            )
        for registry, names in ((MODELS, self.models), (METRICS, self.metrics)):
            for name in names:
                registry.get(name)
        for name in self.sampler_axis():
            SAMPLERS.get(name)
        if self.samplers and self.sampler != self.samplers[0]:
            raise EnsoError(f"--sampler {self.sampler} and --samplers {','.join(self.samplers)}: give one of them")
        units = {SAMPLERS.get(name).unit for name in self.sampler_axis()}
        if len(units) > 1:
            raise EnsoError(
                f"--samplers {','.join(self.samplers)} count sizes in different units ({' and '.join(sorted(units))}); "
                "run per_label in a run of its own"
            )
        if self.select_with is not None:
            check_name(self.select_with, flag("select_with"), "features/<dataset>/")
        RESAMPLERS.get(self.resampler)
        if "fbeta" in self.metrics and self.beta is None:
            raise EnsoError("--metrics fbeta needs --beta B (e.g. --beta 0.5 weighs precision more than recall)")
        for model, params in self.model_params.items():
            self.model_params[model] = check_model_params(model, params)
        for model in self.models:  # rules between parameters and other models (a distilled student's kind)
            from enso_ng.experiment.models import MODELS

            MODELS.get(model).check_params(model, {**MODELS.get(model)().get_params(), **self.params_of(model)})
        if self.scheduler is not None:
            from enso_ng.cluster import local_workers

            local_workers(self.scheduler)  # local:N is checked here; an address when connecting
            if self.jobs > 1:
                raise EnsoError("--jobs and --scheduler both say where cells run: give one (local:N for N workers)")

    def _check_transfer(self) -> None:
        """--train-on and --test-on go together, name two datasets, and own --label-map and --mix."""
        if (self.train_on is None) != (self.test_on is None):
            raise EnsoError("--train-on A and --test-on B go together (train on A's pool, test on B's test rows)")
        if self.train_on is None:
            for key in ("label_map", "mix"):
                if getattr(self, key):
                    raise EnsoError(f"{flag(key)} applies to a transfer run only (--train-on A --test-on B)")
            return
        for key in ("train_on", "test_on"):
            check_name(getattr(self, key), flag(key), "datasets/")
        if self.train_on == self.test_on:
            raise EnsoError(f"--train-on and --test-on both name {self.train_on!r}: that is an in-domain run")
        if self.datasets and self.datasets != [self.test_on]:
            raise EnsoError("a transfer run's datasets are --train-on and --test-on: drop --dataset")
        from enso_ng.experiment.samplers import SAMPLERS

        if self.samplers or SAMPLERS.get(self.sampler).selects:
            raise EnsoError(
                "a transfer run draws A's pool with one random sampler (stratified, natural or per_label): "
                "label selection (--samplers, or a selection --sampler) runs in domain only"
            )
        from enso_ng.experiment.transfer import parse_label_map

        parse_label_map(self.label_map)

    def check_option_models(self, recorded: Sequence[str] = ()) -> None:
        """Options only for models of the run: those of this invocation, or those the run recorded before (a
        resume restates them to keep the run's parameters). Anything else is a typo that must not run
        silently: a one-line error naming the option."""
        for model, params in self.model_params.items():
            if model not in self.models and model not in recorded:
                first = next(iter(params), "KEY")
                raise EnsoError(
                    f"-o {model}.{first}: model {model!r} is not in this run (models: {', '.join(self.models)}); "
                    f"add it to --models, or drop its options"
                )

    def params_of(self, model: str) -> dict[str, Any]:
        return dict(self.model_params.get(model, {}))

    def resolved_params(self, model: str) -> dict[str, Any]:
        """The model's parameters as this run fits it (its defaults, then the run's settings), as JSON holds
        them: recorded in config.json so that a default that changes between versions is caught on resume."""
        from enso_ng.experiment.models import MODELS

        params = {**MODELS.get(model)().get_params(), **self.params_of(model)}
        params.pop("random_state", None)  # each cell's seed, not a setting of the run
        return json.loads(json.dumps(params, default=str))

    def criterion_of(self, model: str) -> str | None:
        """The inner-CV criterion the model runs with (set, or its default); None for a model without one."""
        from enso_ng.experiment.models import MODELS

        default = MODELS.get(model)().get_params().get("criterion")
        return self.params_of(model).get("criterion", default) if default is not None else None


def check_model_params(model: str, params: dict[str, Any], where: str = "") -> dict[str, Any]:
    """The parameters checked against the model's spec (strings parsed by it), or a one-line error naming
    the model, the parameter and what it must be."""
    from enso_ng.experiment.models import MODELS
    from enso_ng.experiment.models.base import check_criterion

    cls = MODELS.get(model)
    spec = cls.spec()
    out = {}
    for key, value in params.items():
        if key == "random_state":
            raise EnsoError(f"{where}model {model!r}: random_state is the split seed; set --seed instead")
        if key in cls.feature_params:
            raise EnsoError(f"{where}model {model!r}: {key} comes from the features file, not the configuration")
        if key not in spec:
            raise EnsoError(f"{where}model {model!r} has no parameter {key!r} (parameters: {', '.join(sorted(spec))})")
        out[key] = spec[key].check(value, f"{where}model {model!r}: {key}")
        if key == "criterion":
            check_criterion(model, cls, out[key])
    return out


def default_run_name() -> str:
    return datetime.now().strftime("run-%Y%m%d-%H%M%S")


#: every run option: the config's fields, and ``per_label`` (sugar for the per_label sampler with those sizes)
RUN_SPEC = dataclass_spec(ExperimentConfig)
RUN_OPTIONS = {
    **RUN_SPEC,
    "per_label": Param(
        None,
        "Examples per label instead of sizes (MTEB's protocol), e.g. 8,16,32.",
        type=int,
        many=True,
        interval=SIZES,
        metavar="K[,K...]",
    ),
}


def flag(key: str) -> str:
    """The command-line spelling of a run option."""
    return "--" + key.replace("_", "-")


def from_sources(path: Path | None, flags: dict[str, Any], model_options: Sequence[str] = ()) -> ExperimentConfig:
    """The run's config from its three sources, merged once (flags over the file; ``-o`` over the file's
    model tables) and validated once. A flag value is the string the user typed (or a typed value)."""
    values = read_config_file(path) if path is not None else {}
    model_options, run_level = _run_level_options(model_options)
    flags = {**flags, **{k: v for k, v in run_level.items() if flags.get(k) is None}}
    for key, value in flags.items():
        if key not in RUN_OPTIONS:
            raise EnsoError(f"{flag(key)} is not a run option (known: {', '.join(map(flag, RUN_OPTIONS))})")
        if value is not None:
            values[key] = RUN_OPTIONS[key].check(value, flag(key))
    params = values.setdefault("model_params", {})
    for model, given in parse_model_options(list(model_options)).items():
        params[model] = {**params.get(model, {}), **given}
    config = resolve(values)
    config.validate()
    return config


#: run options that ``-o KEY=VALUE`` may set without a model (``-o pair=diffprod``, as the issue spells it)
RUN_LEVEL_O = ("pair",)


def _run_level_options(items: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """``-o`` values split into model options and the run-level ones of :data:`RUN_LEVEL_O`."""
    models, run = [], {}
    for item in items:
        key, sep, raw = item.partition("=")
        if sep and key in RUN_LEVEL_O:
            run[key] = raw
        else:
            models.append(item)
    return models, run


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's options, checked and typed by their specs; an unknown key or a bad value names the file."""
    data = _load(path)
    if isinstance(data, dict) and isinstance(data.get("experiment"), dict) and len(data) == 1:
        data = data["experiment"]
    if not isinstance(data, dict):
        raise EnsoError(f"{path}: expected a table of options at the top level")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "models" and isinstance(value, dict):
            out["model_params"] = {m: _model_table(path, m, p) for m, p in value.items()}
            out["models"] = list(value)
        elif key in RUN_OPTIONS:
            out[key] = RUN_OPTIONS[key].check(value, f"{path}: {key}")
        else:
            raise EnsoError(f"{path}: unknown key {key!r} (known: {', '.join(sorted(RUN_OPTIONS))})")
    return out


def _load(path: Path) -> Any:
    try:
        text = path.read_text()
    except OSError as exc:
        raise EnsoError(f"{path}: cannot read ({exc.strerror})") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix in (".yaml", ".yml"):
            return _bounded_yaml(path, text)
        raise EnsoError(f"{path}: use a .toml, .yaml or .yml file")
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise EnsoError(f"{path}: not valid {suffix[1:].upper()} ({exc})") from None
    except Exception as exc:  # yaml.YAMLError without importing yaml for TOML users
        if type(exc).__module__.startswith("yaml"):
            raise EnsoError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        raise


#: the most values (scalars, lists, tables; each alias counted as what it expands to) a config file may hold
YAML_MAX_NODES = 100_000


def _yaml_loader() -> type:
    """YAML's safe loader with YAML 1.2's integers: a leading zero is decimal (``sizes: [050, 100]`` is 50,
    where YAML 1.1 read 050 as octal, 40, silently), ``0o`` octal and ``0x`` hexadecimal, and ``1:30`` (1.1's
    base 60, 90) a string, which the option's check then refuses in one line."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    integer = "tag:yaml.org,2002:int"
    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != integer]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(
        integer, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
    )

    def construct_int(loader: Any, node: Any) -> int:
        text = loader.construct_scalar(node)
        base = {"0o": 8, "0x": 16}.get(text[:2], 10)
        return int(text[2:] if base != 10 else text, base)

    Loader.add_constructor(integer, construct_int)
    return Loader


def _bounded_yaml(path: Path, text: str) -> Any:
    """YAML's safe subset, refused in one line where anchors and aliases would expand it past
    :data:`YAML_MAX_NODES` (a "billion laughs": 300 bytes that stand for billions of values). The node
    graph is counted before any value is built, each shared node once, so the count itself stays small."""
    import yaml

    loader = _yaml_loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}
        sizes: dict[int, int] = {}

        def expanded(n: Any) -> int:
            if id(n) not in sizes:
                sizes[id(n)] = YAML_MAX_NODES + 1  # until counted: a node that holds itself is endless
                children = n.value if isinstance(n, yaml.SequenceNode) else []
                if isinstance(n, yaml.MappingNode):
                    children = [part for pair in n.value for part in pair]
                sizes[id(n)] = min(1 + sum(expanded(c) for c in children), YAML_MAX_NODES + 1)
            return sizes[id(n)]

        if expanded(node) > YAML_MAX_NODES:
            raise EnsoError(
                f"{path}: expands to more than {YAML_MAX_NODES:,} values through its anchors and aliases (&, *); "
                "write the values out"
            )
        return loader.construct_document(node) or {}
    except RecursionError:
        raise EnsoError(f"{path}: nested too deeply to be a config file") from None
    finally:
        loader.dispose()


def _model_table(path: Path, model: str, params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise EnsoError(f"{path}: models.{model} must be a table of parameters, got {params!r}")
    return check_model_params(model, params, f"{path}: ")


def parse_model_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """``-o MODEL.KEY=VALUE`` values, each parsed and checked by the parameter's spec."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        model, dot, param = key.partition(".")
        if not sep or not dot or not model or not param:
            raise EnsoError(f"--option {item!r}: expected MODEL.KEY=VALUE, e.g. logreg.Cs=0.1,1,10")
        out.setdefault(model, {})[param] = raw
    return {model: check_model_params(model, params) for model, params in out.items()}


def resolve(options: dict[str, Any]) -> ExperimentConfig:
    """The config of merged, checked options; ``per_label`` is sugar for the per_label sampler with those
    sizes, and a run without a name gets one from the clock."""
    options = {k: v for k, v in options.items() if v is not None}
    per_label = options.pop("per_label", None)
    if per_label is not None:
        if "sizes" in options:
            raise EnsoError("give either --sizes or --per-label, not both")
        if options.get("sampler", "per_label") != "per_label":
            raise EnsoError(f"--per-label uses the per_label sampler, not {options['sampler']!r}")
        options["sizes"], options["sampler"] = per_label, "per_label"
    samplers = options.get("samplers")
    if samplers:
        options["samplers"] = list(dict.fromkeys(samplers))
        options.setdefault("sampler", samplers[0])  # the baseline the others are compared with
    options.setdefault("name", default_run_name())
    config = ExperimentConfig(**options)
    if config.beta is not None and "fbeta" not in config.metrics:
        config.metrics = [*config.metrics, "fbeta"]  # --beta asks for F-beta whatever --metrics says
    return config
