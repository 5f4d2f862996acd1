"""A loaded model folder: texts in, one score per class out, by the featurizer and model that were trained."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from enso_ng.errors import EnsoError
from enso_ng.formats import ModelManifest
from enso_ng.serve.folder import open_folder, read_parts

if TYPE_CHECKING:  # imported where used: the ONNX runtime path needs neither torch nor scikit-learn
    from enso_ng.experiment.models import TargetModel
    from enso_ng.featurize import Featurizer

FEATURIZER_PREFIX, MODEL_PREFIX = "featurizer", "model"


@dataclass
class Pipeline:
    manifest: ModelManifest
    featurizer: Featurizer | None
    model: TargetModel | None
    #: the exported ONNX graph, when predicting through ONNX Runtime instead
    onnx: Any = None

    @property
    def labels(self) -> list[str]:
        return list(self.manifest.labels)

    @property
    def score_kind(self) -> str:
        """``proba`` (probabilities, summing to one) or ``decision`` (an SVM's margins)."""
        return str(self.manifest.model["scores"])

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """(texts, classes) scores in :attr:`labels` order."""
        texts = list(texts)
        if self.onnx is not None:
            return self.onnx.scores(texts)
        from enso_ng.serve.features import model_input

        self.featurizer.prepare(texts)  # precision=auto: measured once, on the first texts scored
        X = model_input(type(self.model), self.featurizer, self.featurizer.transform(texts), self.recorded)
        return np.asarray(self.model.decision_scores(X), dtype=np.float64)

    @property
    def runtime(self) -> str:
        """What scores: ``onnx`` (the exported graph) or ``torch`` (the rebuilt featurizer and model)."""
        return "onnx" if self.onnx is not None else "torch"

    @property
    def recorded(self) -> dict[str, Any]:
        """The featurizer's parameters as training recorded them."""
        return dict(self.manifest.featurizer["params"])

    @classmethod
    def load(cls, folder: Path, precision: str | None = None, runtime: str = "torch") -> Pipeline:
        """Verify every file of ``folder``, check the encoder it references, and rebuild both parts (or,
        with ``runtime="onnx"``, open its exported graph: no encoder or training stack needed; ``"auto"``
        takes the graph where the folder has one, ONNX Runtime is installed and no precision is asked for:
        it starts in about a second where torch needs several, and scores within 1e-5 of it)."""
        manifest = open_folder(Path(folder))
        if runtime == "auto":
            runtime = "onnx" if "onnx" in manifest.exports and precision is None and _has_onnxruntime() else "torch"
        if runtime == "onnx":
            from enso_ng.serve.export import OnnxScorer

            if "onnx" not in manifest.exports:
                raise EnsoError(f"{folder}: no ONNX graph in this folder; train it again with enso train ... --onnx")
            tokens = manifest.exports["onnx"].get("max_length", manifest.featurizer["params"]["max_length"])
            return cls(manifest, None, None, OnnxScorer(folder, int(tokens)))
        from enso_ng.serve import featurizers, weights

        spec, model_spec = manifest.featurizer, manifest.model
        params = featurizers.bundled_params(Path(folder), spec.get("encoder"), spec["params"])
        featurizer = featurizers.rebuild(
            spec["name"], params, read_parts(folder, FEATURIZER_PREFIX), precision=precision
        )
        _same_weights(folder, spec["params"], featurizer.params())
        model_params = dict(model_spec["params"])
        if "encoder" in model_params and params.get("model") != spec["params"].get("model"):
            model_params["encoder"] = params["model"]  # a fine-tuned encoder's base, bundled in the folder
        _takes(folder, model_spec["name"], model_params)
        model = weights.rebuild(model_spec["name"], model_params, read_parts(folder, MODEL_PREFIX))
        if [str(c) for c in model.classes_] != manifest.labels:
            raise EnsoError(f"{folder}: the model's classes differ from the manifest's labels; retrain it")
        return cls(manifest, featurizer, model)


def _takes(folder: Path, name: str, params: dict[str, Any]) -> None:
    """The manifest's model parameters are ones its model takes (a resealed manifest is still data: a key
    of its own met the model's constructor as a TypeError)."""
    from enso_ng.experiment.models import MODELS

    unknown = sorted(set(params) - set(MODELS.get(name).spec()))
    if unknown:
        raise EnsoError(f"{folder}: model {name} takes no parameter {', '.join(unknown)}; retrain it with enso train")


def _has_onnxruntime() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def _same_weights(folder: Path, trained: dict[str, Any], now: dict[str, Any]) -> None:
    """Every weights checksum the featurizer recorded at training must be what it loaded now."""
    for key, digest in trained.items():
        if key.endswith("sha256") and now.get(key) != digest:
            raise EnsoError(
                f"{folder}: the featurizer's {key.removesuffix('_sha256')} are not those it was trained with "
                f"(sha256 {str(digest)[:12]}...); install or put back the same files"
            )
