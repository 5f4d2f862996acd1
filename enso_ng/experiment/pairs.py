"""Sentence pairs in the experiment stage: the declared combination of each row's two vectors.

A pair features file stores each row as ``[u, v]``, its first text's vector then its second's
(``FeaturesMeta.sides`` = 2). The run's ``pair`` option (``-o pair=senteval``) says how a model sees them,
so every frozen-features model works on pairs unchanged:

- ``senteval``: ``[u, v, |u-v|, u*v]``, SentEval's SNLI features (InferSent);
- ``diffprod``: ``[|u-v|, u*v]``, SentEval's MRPC and SICK-E features: symmetric in the two texts;
- ``concat``: ``[u, v]``, as stored.

A model that declares ``pairs = SIDES`` (``cosine``) reads ``[u, v]`` whatever the option says. One that
declares ``pairs = CROSS`` (``finetune``, ``setfit``) reads a pair dataset's token ids, each pair
cross-encoded as one input (``[CLS] a [SEP] b [SEP]``, written by ``bert_tokens``); one that declares no
pair use (a distilled student, ``layer_mix``, the sequence heads) is refused in one line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from enso_ng.formats import Features

#: how a model takes pair features: through the run's combination, as the two stored sides, or as token ids
#: of each pair cross-encoded into one input (the ``"pairs": "cross"`` report of a ``bert_tokens`` file)
COMBINED, SIDES, CROSS = "combined", "sides", "cross"


def sides(X: Any) -> tuple[Any, Any]:
    """``(u, v)``: the two halves of pair rows ``[u, v]`` (dense or CSR)."""
    half = X.shape[1] // 2
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        return X[:, :half], X[:, half:]
    return X[:, :half], X[:, half:]


def _stack(parts: list[Any]) -> Any:
    if sp.issparse(parts[0]):
        return sp.hstack(parts, format="csr")
    return np.concatenate(parts, axis=1).astype(np.float32, copy=False)


def _absdiff(u: Any, v: Any) -> Any:
    return abs(u - v)


def _product(u: Any, v: Any) -> Any:
    return u.multiply(v) if sp.issparse(u) else u * v


#: combination name -> the function of (u, v) giving the model's rows
COMBINATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "senteval": lambda u, v: _stack([u, v, _absdiff(u, v), _product(u, v)]),
    "diffprod": lambda u, v: _stack([_absdiff(u, v), _product(u, v)]),
    "concat": lambda u, v: _stack([u, v]),
}
#: a combination's width in stored pair widths (``[u, v]``): what a memory estimate plans for
WIDTH = {"senteval": 2, "diffprod": 1, "concat": 1}


def combine(X: Any, combination: str) -> Any:
    """The rows a model is given for pair rows ``X`` (``[u, v]``) under ``combination``."""
    return COMBINATIONS[combination](*sides(X))


def pair_view(features: Features, takes: str, combination: str) -> Features:
    """``features`` as a model that ``takes`` pairs (``COMBINED`` or ``SIDES``) sees them: a single-text file
    unchanged; a pair file combined by ``combination``, or as stored for a ``SIDES`` model."""
    if features.meta.sides != 2 or takes == SIDES:
        return features
    X = combine(features.X, combination)
    meta = dataclasses.replace(features.meta, dim=int(X.shape[1]))
    return dataclasses.replace(features, X=X, meta=meta, _mean=None)
