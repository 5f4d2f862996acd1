"""The one parameter spec (``enso_ng.params``), checked over every registry, as scikit-learn's
``parametrize_with_checks`` checks every estimator: each model and featurizer parameter and each run option
has a spec; a value outside it is a one-line error before any work; click options reach the config."""

from __future__ import annotations

import inspect
import math

import pytest
from sklearn.base import clone

from enso_ng.cli import experiment
from enso_ng.errors import EnsoError
from enso_ng.experiment.config import RUN_OPTIONS, from_sources
from enso_ng.experiment.models import MODELS
from enso_ng.featurize import FEATURIZERS
from enso_ng.params import Param

from conftest import invoke


def _outside(param: Param) -> str | None:
    """A value (as a user types it) that the spec refuses, or None where any value of its type is valid."""
    if param.choices is not None:
        return "not-a-choice"
    if param.interval is not None and param.interval.low is not None:
        low = param.interval.low
        bad = low if param.interval.low_open else (low - 1 if param.kind is int else low - 0.5)
        return str(bad)
    if param.interval is not None and param.interval.high is not None:
        return str(param.interval.high + 1)
    if param.check_rule is not None:
        return "not-a-valid-value"
    if param.kind in (int, float):
        return "abc"
    if param.kind is bool:
        return "maybe"
    return None


def _inside(param: Param) -> object:
    """A valid value other than the default (of the parsed type), for round trips."""
    if param.choices is not None:
        return next(c for c in param.choices if c != param.default)
    if param.kind is bool:
        return not param.default
    one = param.default[0] if param.is_list else param.default
    if one is None and param.kind in (int, float):  # not set by default (mlp's ``steps``): any value is other
        return param.kind(param.interval.low if param.interval is not None and param.interval.low else 1)
    if param.kind in (int, float):
        value = one + 1 if param.interval is None or param.interval.high is None else (one + param.interval.low) / 2
        if param.check_rule is not None and not param.check_rule(value):
            value = one / 2
        return [param.kind(value)] if param.is_list else param.kind(value)
    return [one] if param.is_list else one


MODEL_PARAMS = [(name, key) for name in MODELS.names() for key in MODELS.get(name).spec()]
#: every parameter a user may set that has values outside its spec (an encoder id or a file path has none)
SETTABLE = [
    (name, key)
    for name, key in MODEL_PARAMS
    if key not in ("random_state", *MODELS.get(name).feature_params) and _outside(MODELS.get(name).spec()[key])
]
FEATURIZER_OPTIONS = [
    (name, key)
    for name in FEATURIZERS.names()
    for key, param in FEATURIZERS.get(name).options.items()
    if _outside(param) is not None
]


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_parameter_has_a_spec_with_its_default(name):
    cls = MODELS.get(name)
    signature = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    spec = cls.spec()
    assert list(spec) == signature
    for key, param in spec.items():
        assert param.help, f"{name}.{key} has no help"
        assert param.check(param.default, key) == (list(param.default) if param.is_list else param.default)


@pytest.mark.parametrize("name", MODELS.names())
def test_model_get_params_set_params_and_clone_round_trip(name):
    cls = MODELS.get(name)
    changed = {k: _inside(p) for k, p in cls.spec().items() if k not in ("random_state", *cls.feature_params)}
    model = cls().set_params(**changed)
    assert {k: model.get_params()[k] for k in changed} == changed
    assert clone(model).get_params() == model.get_params()


@pytest.mark.parametrize(("name", "key"), SETTABLE)
def test_a_model_value_outside_its_spec_is_a_one_line_error_and_no_run(tmp_path, name, key):
    bad = _outside(MODELS.get(name).spec()[key])
    result = invoke(tmp_path, "experiment", "-m", name, "-o", f"{name}.{key}={bad}", "--name", "never")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: model {name!r}: {key} must be"), result.output
    assert not (tmp_path / "results").exists()


def test_knn_ks_zero_fails_before_the_run_and_leaves_no_folder(tmp_path):
    result = invoke(tmp_path, "experiment", "-m", "knn", "-o", "knn.ks=[0]", "--name", "k")
    assert result.exit_code == 1 and result.output == "Error: model 'knn': ks must be positive, not [0]\n"
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("name", FEATURIZERS.names())
def test_every_featurizer_option_is_a_spec_that_holds_its_default(name):
    for key, param in FEATURIZERS.get(name).options.items():
        assert isinstance(param, Param) and param.help, f"{name}.{key}"
        assert param.check(param.default, key) == param.default


@pytest.mark.parametrize(("name", "key"), FEATURIZER_OPTIONS)
def test_a_featurizer_value_outside_its_spec_fails_when_built(name, key):
    bad = _outside(FEATURIZERS.get(name).options[key])
    with pytest.raises(EnsoError, match=rf"^featurizer {name!r}: option {key} must be [^\n]+, not [^\n]+$"):
        FEATURIZERS.get(name)(**{key: bad})


def test_one_parser_for_flags_options_and_files():
    """A list, a bool and a number parse the same way whichever source gives them."""
    listed = Param((0.1, 1.0), "", interval=None)
    assert listed.check("0.5,2", "x") == listed.check("[0.5, 2]", "x") == listed.check([0.5, 2], "x") == [0.5, 2.0]
    flag = Param(True, "")
    assert flag.check("off", "x") is False and flag.check("true", "x") is True and flag.check(False, "x") is False
    with pytest.raises(EnsoError, match="^x must be true or false, not 1$"):
        flag.check(1, "x")  # a config file's 1 is not a bool
    with pytest.raises(EnsoError, match="^x must be an integer, not 2.5$"):
        Param(3, "").check(2.5, "x")


#: the options of ``enso experiment`` that are not run options: they say where to read or report a run
COMMAND_ONLY = {"config_file", "model_options", "mlflow", "show_list"}
#: values for the run options whose valid values are registry names or addresses
NAMED = {
    "name": "named",
    "datasets": ["a", "b"],
    "featurizers": ["tfidf"],
    "models": ["knn"],
    "metrics": ["accuracy", "macro_f1"],
    "sampler": "natural",
    "samplers": ["natural", "kcenter"],
    "select_with": "bert",
    "resampler": "oversample",
    "scheduler": "local:1",
    "jobs": 2,
    "beta": 0.5,
    "train_on": "a",
    "test_on": "b",
    "label_map": "fresh=positive",
    "mix": [10, 40],
}
#: options that name a transfer run only with its two datasets
TRANSFER = ["--train-on", "a", "--test-on", "b"]
TOGETHER = {"train_on": ["--test-on", "b"], "test_on": ["--train-on", "a"], "label_map": TRANSFER, "mix": TRANSFER}


def _as_typed(key: str, value: object) -> list[str]:
    flag = next(o for o in experiment.params if o.name == key)
    spelled = flag.opts[0]
    if RUN_OPTIONS[key].kind is bool:
        return [spelled]
    return [spelled, ",".join(map(str, value)) if isinstance(value, list) else str(value)]


@pytest.mark.parametrize("key", sorted(RUN_OPTIONS))
def test_every_click_option_reaches_the_config(key):
    """Parsed by click as a user types it, merged by ``from_sources``: the value is in the config."""
    if key == "per_label":
        args, expect = ["--per-label", "8,16"], {"sizes": [8, 16], "sampler": "per_label"}
    else:
        value = NAMED[key] if key in NAMED else _inside(RUN_OPTIONS[key])
        args, expect = _as_typed(key, value) + TOGETHER.get(key, []), {key: value}
    ctx = experiment.make_context("experiment", args)
    params = dict(ctx.params)
    assert set(params) - COMMAND_ONLY <= set(RUN_OPTIONS), "a click option that is neither a run option nor known"
    config = from_sources(params.pop("config_file"), {k: v for k, v in params.items() if k not in COMMAND_ONLY})
    for attribute, value in expect.items():
        assert getattr(config, attribute) == value, attribute


def test_every_run_option_has_a_click_option_and_unknown_ones_fail_loudly():
    dests = {o.name for o in experiment.params}
    assert set(RUN_OPTIONS) <= dests
    assert dests - set(RUN_OPTIONS) == COMMAND_ONLY
    with pytest.raises(EnsoError, match="^--colour is not a run option"):
        from_sources(None, {"colour": "red"})


def test_the_interval_refuses_nan():
    assert math.nan not in RUN_OPTIONS["beta"].interval and math.inf not in RUN_OPTIONS["beta"].interval
