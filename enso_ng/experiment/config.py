"""The run configuration: every option that decides a run's numbers, and where it is read from.

Options come from flags and from ``enso experiment --config FILE`` (TOML or YAML) for grids too long for
flags. Keys are the option names (``sizes``, ``splits``, ``models``, ``per_label``, ...), at the top level or
under an ``experiment`` table; lists may be lists or comma-separated strings. A ``models`` *table* sets
model parameters (``[models.logreg] Cs = [0.1, 1, 10]``), as ``--option logreg.Cs=0.1,1,10`` does on the
command line. Flags override the file; the resolved result is what ``config.json`` records.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from enso_ng.errors import EnsoError
from enso_ng.experiment.metrics import METRICS
from enso_ng.experiment.models import MODELS
from enso_ng.experiment.models.base import check_criterion
from enso_ng.experiment.samplers import RESAMPLERS, SAMPLERS
from enso_ng.workspace import check_run_name

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
RESUME_KEYS = ("seed", "test_size", "sampler", "resampler", "official_test", "beta")


@dataclass
class ExperimentConfig:
    """Everything that decides a run's numbers; saved, resolved, in ``config.json``."""

    name: str
    sizes: list[int] = field(default_factory=lambda: list(DEFAULT_SIZES))
    splits: int = 5
    seed: int = 0
    test_size: float = 0.2
    #: use a dataset's official test split where it has one (else a stratified hold-out every time)
    official_test: bool = True
    datasets: list[str] = field(default_factory=list)
    featurizers: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    #: model -> parameter -> value, set on the model before fitting (``[models.logreg] Cs = [...]``)
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    #: the beta of the ``fbeta`` metric (``--beta``); None where the run has no fbeta
    beta: float | None = None
    #: also score each model on its own training subset (``train_<metric>`` rows): the over-fitting gap
    train_metrics: bool = True
    sampler: str = "stratified"
    resampler: str = "none"
    #: worker processes; the results do not depend on it
    jobs: int = 1
    #: a Dask scheduler address (or ``local:N``) to run the groups on instead; nor does it change results
    scheduler: str | None = None

    def split_seeds(self) -> list[int]:
        return [self.seed + i for i in range(self.splits)]

    def validate(self) -> None:
        check_run_name(self.name)
        for model in self.models:
            MODELS.get(model)
        for metric in self.metrics:
            METRICS.get(metric)
        if self.beta is not None and not (isinstance(self.beta, (int, float)) and 0 < self.beta < float("inf")):
            raise EnsoError(f"--beta must be a positive number, not {self.beta}")
        if "fbeta" in self.metrics and self.beta is None:
            raise EnsoError("--metrics fbeta needs --beta B (e.g. --beta 0.5 weighs precision more than recall)")
        SAMPLERS.get(self.sampler)
        RESAMPLERS.get(self.resampler)
        for model, params in self.model_params.items():
            check_model_params(model, params)
        if self.splits < 1:
            raise EnsoError(f"--splits must be at least 1, not {self.splits}")
        if not self.sizes or any(size < 1 for size in self.sizes):
            raise EnsoError(f"--sizes must be positive, not {self.sizes}")
        if self.jobs < 1:
            raise EnsoError(f"--jobs must be at least 1, not {self.jobs}")
        if self.scheduler is not None:
            from enso_ng.cluster import local_workers

            local_workers(self.scheduler)  # local:N is checked here; an address when connecting
            if self.jobs > 1:
                raise EnsoError("--jobs and --scheduler both say where cells run: give one (local:N for N workers)")
        if not 0 < self.test_size or (self.test_size >= 1 and self.test_size != int(self.test_size)):
            raise EnsoError(f"--test-size must be a fraction below 1 or a whole count, not {self.test_size}")

    def params_of(self, model: str) -> dict[str, Any]:
        return dict(self.model_params.get(model, {}))

    def resolved_params(self, model: str) -> dict[str, Any]:
        """The model's parameters as this run fits it (its defaults, then the run's settings), as JSON holds
        them: recorded in config.json so that a default that changes between versions is caught on resume."""
        params = {**MODELS.get(model)().get_params(), **self.params_of(model)}
        params.pop("random_state", None)  # each cell's seed, not a setting of the run
        return json.loads(json.dumps(params, default=str))

    def criterion_of(self, model: str) -> str | None:
        """The inner-CV criterion the model runs with (set, or its default); None for a model without one."""
        default = MODELS.get(model)().get_params().get("criterion")
        return self.params_of(model).get("criterion", default) if default is not None else None


def check_model_params(model: str, params: dict[str, Any]) -> None:
    """A parameter the model does not have, or a value of the wrong kind, is an error naming both."""
    cls = MODELS.get(model)
    defaults = cls().get_params()
    for key, value in params.items():
        if key == "random_state":
            raise EnsoError(f"model {model!r}: random_state is the split seed; set --seed instead")
        if key in cls.feature_params:
            raise EnsoError(f"model {model!r}: {key} comes from the features file, not the configuration")
        if key not in defaults:
            raise EnsoError(f"model {model!r} has no parameter {key!r} (parameters: {', '.join(sorted(defaults))})")
        if not _same_kind(defaults[key], value):
            raise EnsoError(f"model {model!r}: {key} must be like {defaults[key]!r}, not {value!r}")
        choices = cls.param_choices.get(key)
        if choices is not None and value not in choices:
            raise EnsoError(f"model {model!r}: {key} must be one of {', '.join(map(str, choices))}, not {value!r}")
        allowed = cls.param_ranges.get(key)
        if allowed is not None and not all(allowed.test(v) for v in (value if isinstance(value, list) else [value])):
            raise EnsoError(f"model {model!r}: {key} must be {allowed.text}, not {value!r}")
        if key == "criterion":
            check_criterion(model, cls, value)


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, (list, tuple)):
        return (
            isinstance(value, (list, tuple)) and bool(value) and all(_same_kind(default[0], v) for v in value)
            if default
            else isinstance(value, (list, tuple))
        )
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and (isinstance(default, float) or isinstance(value, int))
    return default is None or isinstance(value, type(default))


def default_run_name() -> str:
    return datetime.now().strftime("run-%Y%m%d-%H%M%S")


LIST_KEYS = {"sizes": int, "per_label": int, "datasets": str, "featurizers": str, "models": str, "metrics": str}
SCALAR_KEYS = {
    "name": str,
    "splits": int,
    "seed": int,
    "test_size": float,
    "beta": float,
    "official_test": bool,
    "train_metrics": bool,
    "sampler": str,
    "resampler": str,
    "jobs": int,
    "scheduler": str,
}


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's options, checked and typed; an unknown key or a wrong type names the file and key."""
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
        elif key in LIST_KEYS:
            out[key] = _as_list(path, key, value, LIST_KEYS[key])
        elif key in SCALAR_KEYS:
            out[key] = _as_scalar(path, key, value, SCALAR_KEYS[key])
        else:
            known = ", ".join(sorted({*LIST_KEYS, *SCALAR_KEYS}))
            raise EnsoError(f"{path}: unknown key {key!r} (known: {known})")
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
            import yaml

            return yaml.safe_load(text) or {}
        raise EnsoError(f"{path}: use a .toml, .yaml or .yml file")
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise EnsoError(f"{path}: not valid {suffix[1:].upper()} ({exc})") from None
    except Exception as exc:  # yaml.YAMLError without importing yaml for TOML users
        if type(exc).__module__.startswith("yaml"):
            raise EnsoError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        raise


def _model_table(path: Path, model: str, params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise EnsoError(f"{path}: models.{model} must be a table of parameters, got {params!r}")
    try:
        check_model_params(model, params)
    except EnsoError as exc:
        raise EnsoError(f"{path}: {exc}") from None
    return dict(params)


def _as_list(path: Path, key: str, value: Any, cast: type) -> list:
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else [value]
    try:
        return [cast(item.strip() if isinstance(item, str) else item) for item in items if str(item).strip()]
    except (TypeError, ValueError):
        raise EnsoError(f"{path}: {key} must be a list of {cast.__name__}, got {value!r}") from None


def _as_scalar(path: Path, key: str, value: Any, cast: type) -> Any:
    if cast is bool:
        if not isinstance(value, bool):
            raise EnsoError(f"{path}: {key} must be true or false, got {value!r}")
        return value
    if isinstance(value, bool) or isinstance(value, (list, dict)):
        raise EnsoError(f"{path}: {key} must be a {cast.__name__}, got {value!r}")
    try:
        return cast(value)
    except (TypeError, ValueError):
        raise EnsoError(f"{path}: {key} must be a {cast.__name__}, got {value!r}") from None


def parse_model_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """``--option MODEL.KEY=VALUE`` values: VALUE is JSON (``[0.1, 1]``, ``true``) or a comma-separated list."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        model, dot, param = key.partition(".")
        if not sep or not dot or not model or not param:
            raise EnsoError(f"--option {item!r}: expected MODEL.KEY=VALUE, e.g. logreg.Cs=0.1,1,10")
        out.setdefault(model, {})[param] = _value(raw)
    for model, params in out.items():
        check_model_params(model, params)
    return out


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        pass
    parts = [p.strip() for p in raw.split(",")]
    values = []
    for part in parts:
        try:
            values.append(json.loads(part))
        except ValueError:
            values.append(part)
    return values if len(parts) > 1 else values[0]


def resolve(options: dict[str, Any], name: str) -> ExperimentConfig:
    """Merge options (command line over file, already combined) into a config; ``per_label`` is sugar
    for the per_label sampler with those sizes."""
    options = {k: v for k, v in options.items() if v is not None}
    per_label = options.pop("per_label", None)
    if per_label is not None:
        if "sizes" in options:
            raise EnsoError("give either --sizes or --per-label, not both")
        if options.get("sampler", "per_label") != "per_label":
            raise EnsoError(f"--per-label uses the per_label sampler, not {options['sampler']!r}")
        options["sizes"], options["sampler"] = per_label, "per_label"
    fields = {f.name for f in dataclasses.fields(ExperimentConfig)}
    options.pop("name", None)
    config = ExperimentConfig(name=name, **{k: v for k, v in options.items() if k in fields})
    if config.beta is not None and "fbeta" not in config.metrics:
        config.metrics = [*config.metrics, "fbeta"]  # --beta asks for F-beta whatever --metrics says
    return config
