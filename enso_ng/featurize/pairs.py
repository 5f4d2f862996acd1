"""Sentence pairs in the featurize stage: both sides embedded in one pass over the distinct texts.

A pair dataset repeats its sentences (SICK builds many pairs from one sentence; a job description meets
many résumés), so each distinct text is embedded once and every row is rebuilt from two of those vectors:
its first text's, then its second's, side by side. How the two are combined ([u, v, |u-v|, u*v] and the
others) is the experiment stage's choice, so one features file serves every combination.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from enso_ng.errors import EnsoError
from enso_ng.formats import DENSE, SPARSE


def distinct_sides(firsts: Sequence[str], seconds: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The distinct texts of both columns in first-seen order, and each row's (first, second) index into them."""
    index: dict[str, int] = {}
    sides = np.empty((len(firsts), 2), dtype=np.int64)
    for row, pair in enumerate(zip(firsts, seconds)):
        for side, text in enumerate(pair):
            sides[row, side] = index.setdefault(text, len(index))
    return list(index), sides


def check_pairs(model: Any, dataset: str) -> None:
    """Pairs take one pooled vector per text: a featurizer that keeps token vectors, token ids or several
    layers is refused in one line (the combinations are defined on one vector per side)."""
    if model.layout not in (DENSE, SPARSE) or model.layers != 1:
        what = f"{model.layers} layers" if model.layers != 1 else f"{model.layout} features"
        raise EnsoError(
            f"{dataset} is a sentence-pair dataset: featurizer {model.name!r} writes {what} here, and pairs take "
            "one pooled vector per text (use pooling=mean or a single layer)"
        )


def pair_blocks(vectors: list[Any], sides: np.ndarray, block_rows: int) -> Iterator[Any]:
    """Rows of ``[u, v]`` (dense, or CSR for sparse featurizers) in blocks of ``block_rows``, from the distinct
    texts' vectors (given in blocks as ``transform`` returned them)."""
    sparse = sp.issparse(vectors[0])
    table = sp.vstack(vectors, format="csr") if sparse else np.concatenate([np.asarray(v) for v in vectors])
    for start in range(0, len(sides), block_rows):
        block = sides[start : start + block_rows]
        if sparse:
            yield sp.hstack([table[block[:, 0]], table[block[:, 1]]], format="csr")
        else:
            yield np.concatenate([table[block[:, 0]], table[block[:, 1]]], axis=1)
