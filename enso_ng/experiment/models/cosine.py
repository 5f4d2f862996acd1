"""``cosine``: MTEB's pair classification, trained on nothing but thresholds on the pair's cosine similarity.

MTEB scores a pair task without training anything: the cosine similarity of the two texts' vectors and the
threshold that best separates the classes. Here the threshold is chosen on the cell's training rows only
(MTEB picks it on the rows it scores), so it sits beside the trained models on the same test rows: how much
does a classifier on the pair's features add over how close the two texts are? With more than two classes
(entailment, neutral, contradiction) the classes are ordered by their mean training similarity and cut into
consecutive intervals of similarity, the cuts chosen for the most training rows right.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from enso_ng.experiment.models.base import MODELS, TargetModel
from enso_ng.experiment.pairs import SIDES, sides


def cosine_similarity(X: Any) -> np.ndarray:
    """Each pair row's ``cos(u, v)`` (0 where a side is all zeros)."""
    u, v = sides(X)
    if sp.issparse(u):
        dot = np.asarray(u.multiply(v).sum(axis=1)).ravel()
        nu = np.sqrt(np.asarray(u.multiply(u).sum(axis=1)).ravel())
        nv = np.sqrt(np.asarray(v.multiply(v).sum(axis=1)).ravel())
    else:
        u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
        dot, nu, nv = (u * v).sum(1), np.linalg.norm(u, axis=1), np.linalg.norm(v, axis=1)
    return dot / np.maximum(nu * nv, 1e-12)


def best_cuts(scores: np.ndarray, codes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Cut points splitting sorted ``scores`` into consecutive intervals, one per class in ``order``, that get
    the most rows right (dynamic programming over the sorted rows: O(classes x rows))."""
    rank = np.argsort(scores, kind="stable")
    s, c = scores[rank], codes[rank]
    n, k = len(s), len(order)
    # right[p][i]: rows among the first i (sorted) of class order[p]
    right = np.stack([np.concatenate([[0], np.cumsum(c == cls)]) for cls in order])
    best = right[0].astype(np.int64)  # the first class takes rows [0, i)
    where = np.zeros((k, n + 1), dtype=np.int64)
    for p in range(1, k):
        # class p takes rows [j, i): best[j] + right[p][i] - right[p][j], maximised over j <= i
        gain = best - right[p]
        running, arg = np.maximum.accumulate(gain), np.zeros(n + 1, dtype=np.int64)
        arg_now = 0
        for i in range(n + 1):
            if gain[i] >= gain[arg_now]:
                arg_now = i
            arg[i] = arg_now
        best, where[p] = running + right[p], arg
    bounds, i = [], n  # walk back from all rows placed
    for p in range(k - 1, 0, -1):
        i = int(where[p][i])
        bounds.append(i)
    cuts = []
    for i in reversed(bounds):  # a cut between sorted rows i-1 and i: their midpoint
        lo = s[i - 1] if i > 0 else s[0] - 1.0
        hi = s[i] if i < n else s[-1] + 1.0
        cuts.append((lo + hi) / 2)
    return np.asarray(cuts, dtype=np.float64)


@MODELS.register("cosine")
class CosineThreshold(TargetModel):
    """The untrained answer to a pair task, next to the trained ones: a threshold on cosine similarity."""

    pairs = SIDES
    score_kind = "decision"

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, X: Any, y: np.ndarray) -> CosineThreshold:
        if X.shape[1] % 2:
            raise ValueError("cosine scores sentence pairs: its features must be a pair file ([u, v])")
        scores = cosine_similarity(X)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        means = np.array([scores[codes == c].mean() for c in range(len(self.classes_))])
        self.order_ = np.argsort(means, kind="stable")  # classes from least to most similar
        self.cuts_ = best_cuts(scores, codes, self.order_)
        self.best_params_ = {"thresholds": [round(float(t), 6) for t in self.cuts_]}
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Per class, the signed margin of the similarity inside that class's interval (positive inside)."""
        scores = cosine_similarity(X)[:, None]
        edges = np.concatenate([[-np.inf], self.cuts_, [np.inf]])
        margin = np.minimum(scores - edges[None, :-1], edges[None, 1:] - scores)  # in interval order
        out = np.empty_like(margin)
        out[:, self.order_] = margin
        return out

    @classmethod
    def check_params(cls, name: str, params: dict[str, Any]) -> None:
        return None
