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
from enso_ng.serve.folder import Codec, Parts, codec, plain

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


# ------------------------------------------------------------------ torch models: their tensors by name


def _arrays(prefix: str, tensors: dict[str, Any]) -> dict[str, np.ndarray]:
    """A state dict (or a dict of tensors) as named numpy arrays (copies: safetensors keeps no aliases)."""
    return {f"{prefix}{name}": value.detach().cpu().numpy().copy() for name, value in tensors.items()}


def _tensors(prefix: str, parts: Parts) -> dict[str, Any]:
    import torch

    return {
        k.removeprefix(prefix): torch.from_numpy(np.array(v)) for k, v in parts.arrays.items() if k.startswith(prefix)
    }


def _fitted(model: TargetModel) -> Parts:
    return Parts(json={"classes": _labels(model), "best_params": getattr(model, "best_params_", {})})


def _save_layer_mix(model: Any) -> Parts:
    parts = _fitted(model)
    parts.arrays.update(_arrays("mix.", model.params_))
    return parts


def _load_layer_mix(model: Any, parts: Parts) -> None:
    _set_labels(model, parts)
    model.params_ = _tensors("mix.", parts)


CODECS.register("layer_mix")(Codec(_save_layer_mix, _load_layer_mix))


def _save_sequence(model: Any) -> Parts:
    """A sequence head's tensors; its shape (token vector width, classes) to rebuild it."""
    parts = _fitted(model)
    parts.arrays.update(_arrays("head.", model.head_.state_dict()))
    head = model.head_
    parts.json["dim"] = int(head.lstm.input_size if hasattr(head, "lstm") else head.query.shape[1])
    return parts


def _load_sequence(model: Any, parts: Parts) -> None:
    import torch

    _set_labels(model, parts)
    head = model._head(int(parts.json["dim"]), len(model.classes_), 1, torch.Generator())
    head.load_state_dict(_tensors("head.", parts), strict=True)
    if hasattr(head, "generator"):
        head.generator = None  # predicting draws no dropout
    model.head_ = head.eval()


for _name in ("attention", "bilstm"):
    CODECS.register(_name)(Codec(_save_sequence, _load_sequence))


def _save_finetune(model: Any) -> Parts:
    """Every weight of the fine-tuned encoder and its head, and the encoder's architecture (its config)."""
    parts = _fitted(model)
    parts.arrays.update(_arrays("net.", model.net_.state_dict()))
    parts.json["config"] = model.net_.encoder.config.to_dict()
    return parts


def _load_finetune(model: Any, parts: Parts) -> None:
    from transformers import CONFIG_MAPPING, AutoModel

    from enso_ng.encoders import quiet_transformers
    from enso_ng.experiment.models.finetune import _Classifier

    _set_labels(model, parts)
    quiet_transformers()
    config = dict(parts.json["config"])
    encoder = AutoModel.from_config(CONFIG_MAPPING[config.pop("model_type")].from_dict(config))
    net = _Classifier(encoder, len(model.classes_), model.dropout)
    net.load_state_dict(_tensors("net.", parts), strict=True)
    model.net_ = net.to(_device()).eval()


def _device() -> Any:
    from enso_ng.device import device

    return device()


CODECS.register("finetune")(Codec(_save_finetune, _load_finetune))


def _save_setfit(model: Any) -> Parts:
    """The contrastively tuned sentence encoder's weights and the logistic head's coefficients."""
    parts = _fitted(model)
    head = model.model_.model_head
    parts.arrays.update(_arrays("body.", model.model_.model_body.state_dict()))
    parts.arrays.update(head_coef=head.coef_, head_intercept=head.intercept_, head_classes=np.asarray(head.classes_))
    return parts


def _load_setfit(model: Any, parts: Parts) -> None:
    """The base encoder (checked by its sha256) gives the architecture and tokenizer; the folder its weights."""
    try:
        from setfit import SetFitModel
    except ImportError:
        from enso_ng.experiment.models.setfit_model import MISSING

        raise EnsoError(MISSING) from None
    from transformers import AutoTokenizer

    from enso_ng.encoders import quiet_transformers, verified_folder
    from enso_ng.experiment.models.setfit_model import _quiet

    _set_labels(model, parts)
    folder = verified_folder(model.encoder, model.encoder_sha256, "setfit")
    quiet_transformers()
    model.tokenizer_ = AutoTokenizer.from_pretrained(str(folder))
    with _quiet():
        model.model_ = SetFitModel.from_pretrained(str(folder))
    model.model_.model_body.load_state_dict(_tensors("body.", parts), strict=True)
    head = model.model_.model_head
    head.coef_, head.intercept_ = parts.arrays["head_coef"], parts.arrays["head_intercept"]
    head.classes_ = parts.arrays["head_classes"]
    head.n_features_in_ = int(head.coef_.shape[1])
    head.n_iter_ = np.zeros(1, dtype=np.int32)


CODECS.register("setfit")(Codec(_save_setfit, _load_setfit))


# ------------------------------------------------------------------ distill: the student alone, its teacher recorded


def _save_distill(model: Any) -> Parts:
    """What is deployed is the student: its own codec's parts, under ``student.``; the teacher is named in
    the parameters and its inner-CV choice in ``best_params``, never stored."""
    student = codec_of(model.student).save(model.student_)
    parts = _fitted(model)
    parts.arrays.update({f"student.{k}": v for k, v in student.arrays.items()})
    parts.texts.update({f"student.{k}": v for k, v in student.texts.items()})
    parts.json.update(student_state=student.json, student_params=plain(model.student_.get_params()))
    return parts


def _load_distill(model: Any, parts: Parts) -> None:
    _set_labels(model, parts)
    student = Parts(
        arrays={k.removeprefix("student."): v for k, v in parts.arrays.items() if k.startswith("student.")},
        json=parts.json["student_state"],
        texts={k.removeprefix("student."): v for k, v in parts.texts.items() if k.startswith("student.")},
    )
    model.student_ = rebuild(model.student, parts.json["student_params"], student)


CODECS.register("distill")(Codec(_save_distill, _load_distill))
