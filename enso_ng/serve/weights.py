"""A fitted target model as arrays, JSON and text, and back: one codec per model kind, by name.

Every codec writes numbers (safetensors), JSON or a library's own text format (LightGBM's model string),
so loading a folder never runs code; each rebuilds the model object the experiment fitted, so ``predict``
scores new texts with the code that scored the experiment's test rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from enso_ng.errors import EnsoError
from enso_ng.experiment.models import MODELS, TargetModel
from enso_ng.registry import Registry
from enso_ng.serve.folder import Codec, Parts, codec

CODECS: Registry[Codec] = Registry("model codec")


def codec_of(model: str) -> Codec:
    return codec(CODECS, model, "model")


def rebuild(name: str, params: dict[str, Any], parts: Parts) -> TargetModel:
    """A model of kind ``name`` with ``params``, its fitted state set from ``parts``."""
    model = MODELS.get(name)(**params)
    codec_of(name).load(model, parts)
    return model


def _labels(model: TargetModel) -> list[str]:
    return [str(c) for c in model.classes_]


def _set_labels(model: TargetModel, parts: Parts) -> None:
    model.classes_ = np.asarray(parts.json["classes"], dtype=object)
    model.best_params_ = parts.json.get("best_params", {})


# ------------------------------------------------------------------ weights in plain attributes (logreg, mlp)


def _save_attributes(model: TargetModel) -> Parts:
    """Every public fitted attribute (``name_``): arrays, lists of arrays, None, or JSON values."""
    parts = Parts(json={"classes": _labels(model), "best_params": getattr(model, "best_params_", {})})
    lists, nones, values = {}, [], {}
    for name, value in vars(model).items():
        if not name.endswith("_") or name.startswith("_") or name in ("classes_", "best_params_"):
            continue
        if value is None:
            nones.append(name)
        elif isinstance(value, np.ndarray):
            parts.arrays[name] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, np.ndarray) for v in value):
            lists[name] = len(value)
            parts.arrays.update({f"{name}{i}": v for i, v in enumerate(value)})
        elif isinstance(value, (bool, int, float, str, dict, np.generic)):
            values[name] = value
        else:
            raise EnsoError(f"model {type(model).__name__}: fitted attribute {name} has no safe encoding")
    parts.json.update(lists=lists, nones=nones, values=values)
    return parts


def _load_attributes(model: TargetModel, parts: Parts) -> None:
    _set_labels(model, parts)
    listed = {f"{name}{i}" for name, n in parts.json["lists"].items() for i in range(n)}
    for name, n in parts.json["lists"].items():
        setattr(model, name, [parts.arrays[f"{name}{i}"] for i in range(n)])
    for name in parts.json["nones"]:
        setattr(model, name, None)
    for name, value in parts.json["values"].items():
        setattr(model, name, value)
    for name, value in parts.arrays.items():
        if name not in listed:
            setattr(model, name, value)


for _name in ("logreg", "mlp"):
    CODECS.register(_name)(Codec(_save_attributes, _load_attributes))


# ------------------------------------------------------------------ knn: its training vectors and labels


def _save_knn(model: Any) -> Parts:
    estimator = model.estimator_
    parts = Parts(json={"classes": _labels(model), "best_params": model.best_params_})
    parts.arrays["X"] = estimator._fit_X
    parts.json["y"] = [str(v) for v in estimator.classes_[estimator._y]]
    return parts


def _load_knn(model: Any, parts: Parts) -> None:
    _set_labels(model, parts)
    y = np.asarray(parts.json["y"], dtype=object)
    model.estimator_ = model._make(int(model.best_params_["k"]), len(y)).fit(parts.arrays["X"], y)


CODECS.register("knn")(Codec(_save_knn, _load_knn))


# ------------------------------------------------------------------ svm: liblinear's coefficients


def _save_svm(model: Any) -> Parts:
    parts = Parts(json={"classes": _labels(model), "best_params": model.best_params_})
    parts.arrays.update(coef=model.estimator_.coef_, intercept=model.estimator_.intercept_)
    return parts


def _load_svm(model: Any, parts: Parts) -> None:
    from sklearn.svm import LinearSVC

    _set_labels(model, parts)
    estimator = LinearSVC(C=float(model.best_params_.get("C", 1.0)), max_iter=model.max_iter)
    estimator.coef_, estimator.intercept_ = parts.arrays["coef"], parts.arrays["intercept"]
    estimator.classes_ = model.classes_
    estimator.n_features_in_ = int(parts.arrays["coef"].shape[1])
    estimator.n_iter_ = 0
    model.estimator_ = estimator


CODECS.register("svm")(Codec(_save_svm, _load_svm))


# ------------------------------------------------------------------ lightgbm: its own text format


class _Booster:
    """LightGBM's booster read from its model string, with ``LGBMClassifier.predict_proba``'s output."""

    def __init__(self, text: str) -> None:
        import lightgbm

        self.booster_ = lightgbm.Booster(model_str=text)

    def predict_proba(self, X: Any) -> np.ndarray:
        proba = np.asarray(self.booster_.predict(X))
        return np.vstack([1.0 - proba, proba]).T if proba.ndim == 1 else proba


def _save_lightgbm(model: Any) -> Parts:
    parts = Parts(json={"classes": _labels(model), "best_params": model.best_params_})
    parts.texts["booster"] = model.estimator_.booster_.model_to_string()
    return parts


def _load_lightgbm(model: Any, parts: Parts) -> None:
    _set_labels(model, parts)
    model.estimator_ = _Booster(parts.texts["booster"])


CODECS.register("lightgbm")(Codec(_save_lightgbm, _load_lightgbm))
