"""A featurizer's output as a model received it in the experiment: through the features file's layout codec.

The experiment never gives a model what ``transform`` returned: it reads the features file, whose codec
decides what a model sees (-1 padded token ids, :class:`~enso_ng.formats.TokenVectors` in the stored dtype,
float32 vectors), and the model's ``view`` pools it or not. ``enso train`` and ``enso predict`` pass a
block of texts through the same encode and decode, so a sequence head, a fine-tuned encoder or a layer mix
is given at prediction exactly the input it was measured on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from enso_ng.featurize import Featurizer
from enso_ng.formats import CODECS, DENSE, SPARSE, Features, FeaturesMeta, features_batch, features_schema


def as_features(featurizer: Featurizer, transformed: Any, params: dict[str, Any] | None = None) -> Features:
    """``transformed`` (a block of ``featurizer.transform``) decoded as its features file would hold it;
    ``params`` are the featurizer's recorded ones (computed when not given)."""
    rows = transformed.shape[0] if sp.issparse(transformed) else len(transformed)
    meta = FeaturesMeta(
        dataset="",
        dataset_fingerprint="",
        featurizer=featurizer.name,
        params=featurizer.params() if params is None else params,
        dim=int(featurizer.dim),
        rows=rows,
        layout=featurizer.layout,
        layers=int(featurizer.layers),
    )
    if meta.layout in (DENSE, SPARSE) and meta.layers == 1:  # stored as given (float32 vectors, a CSR matrix)
        X = transformed
    else:
        schema = features_schema(meta.layout, meta.dim, featurizer.dtype)
        nothing = [None] * rows
        batch = features_batch(meta.layout, schema, np.arange(rows), nothing, nothing, transformed)
        X, _ = CODECS[meta.layout].decode(Path("<texts>"), pa.Table.from_batches([batch]), meta)
    return Features(
        X=X, labels=np.empty(0, dtype=object), splits=np.empty(0, dtype=object), rows=np.arange(rows), meta=meta
    )


def model_input(model_cls: Any, featurizer: Featurizer, transformed: Any, params: dict[str, Any] | None = None) -> Any:
    """What ``model_cls`` is given for these texts: the model's own view of the decoded features."""
    return model_cls.view(as_features(featurizer, transformed, params))
