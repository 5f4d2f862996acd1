"""How training subsets are drawn from the pool (samplers) and rebalanced before fitting (resamplers).

A sampler turns the pool of one split seed into a nested order: the subset for size s is a prefix-like
selection of it, so the 100-example subset contains the 50 and every featurizer and model sees the same
rows. ``size`` means examples for ``stratified`` and ``natural``, and examples per label for
``per_label`` (MTEB's k-examples-per-label protocol).

Selection samplers (``kcenter``, ``orthogonal``, ``typical``, ``margin``, ``entropy``; see
:mod:`selectors`) choose which texts to label from one representation's vectors instead of at random.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from enso_ng.experiment import selectors
from enso_ng.registry import Registry


@dataclass(frozen=True)
class Sampler:
    name: str
    #: what a size counts: "examples" or "examples per label"
    unit: str
    #: (labels of the pool, rng) -> a nested order of pool positions; a selection sampler's also takes
    #: the pool's vectors and how many positions to choose: (labels, rng, vectors, limit)
    order: Callable[..., np.ndarray]
    summary: str
    #: chooses from a representation's vectors (label selection), reading a label only once it is chosen
    selects: bool = False

    def subset(self, order: np.ndarray, labels: np.ndarray, size: int) -> np.ndarray:
        """Pool positions of the training subset of ``size`` (``labels`` are the pool's, in pool order)."""
        if self.unit == "examples":
            return order[:size]
        return order[_rank_within_class(order, labels) < size]

    def shortfall(self, labels: np.ndarray, size: int) -> str | None:
        """Why ``size`` cannot be drawn from a pool with these labels, or None."""
        classes, counts = np.unique(labels, return_counts=True)
        if self.unit == "examples":
            if size > len(labels):
                return f"larger than the training pool ({len(labels)} rows)"
            if self.name == "stratified" and size < len(classes):
                return f"smaller than the number of classes ({len(classes)})"
            return None
        if size > counts.min():
            return f"more per label than the rarest class has ({classes[counts.argmin()]!r}: {counts.min()})"
        return None


def _rank_within_class(order: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """For each position of ``order``, how many earlier positions hold the same label."""
    ranks = np.empty(len(order), dtype=np.int64)
    seen: dict = {}
    for i, label in enumerate(labels[order]):
        ranks[i] = seen.get(label, 0)
        seen[label] = ranks[i] + 1
    return ranks


def stratified_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every prefix is (close to) stratified and, once as long as the number of classes, holds every class.

    Within each class the items are shuffled and item j of n_c gets the key (j + u) / n_c, u ~ U(0, 1):
    sorting by key interleaves the classes in proportion. Each class's first item is moved to the front.
    """
    _, y = np.unique(labels, return_inverse=True)
    keys = np.empty(len(y), dtype=np.float64)
    for c in range(y.max() + 1 if len(y) else 0):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        keys[idx] = (np.arange(len(idx)) + rng.random(len(idx))) / len(idx)
        keys[idx[0]] = rng.random() - 1.0
    return np.argsort(keys, kind="stable")


def natural_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plain random order: subsets keep the natural class imbalance, rare classes may be missing."""
    return rng.permutation(len(labels))


def per_label_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Classes in turn, each in its own random order: the first k of every class form the size-k subset."""
    _, y = np.unique(labels, return_inverse=True)
    keys = np.empty(len(y), dtype=np.float64)
    for c in range(y.max() + 1 if len(y) else 0):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        keys[idx] = np.arange(len(idx)) + c / (y.max() + 1)
    return np.argsort(keys, kind="stable")


SAMPLERS: Registry[Sampler] = Registry("sampler")
for _sampler in (
    Sampler("stratified", "examples", stratified_order, "stratified, every class once the size allows (default)"),
    Sampler("natural", "examples", natural_order, "uniform random: keeps the natural class imbalance"),
    Sampler("per_label", "examples per label", per_label_order, "exactly k examples of every class (MTEB)"),
    Sampler("kcenter", "examples", selectors.kcenter_order, "greedy k-center cover of the pool (Enso's)", True),
    Sampler("orthogonal", "examples", selectors.orthogonal_order, "largest product of cosine distances (Enso's)", True),
    Sampler("typical", "examples", selectors.typical_order, "most typical text of each cluster (TypiClust)", True),
    Sampler("margin", "examples", selectors.margin_order, "active learning: smallest logreg margin first", True),
    Sampler("entropy", "examples", selectors.entropy_order, "active learning: largest logreg entropy first", True),
):
    SAMPLERS.register(_sampler.name)(_sampler)


def _oversample(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Positions with every class drawn up to the largest class's count (with replacement)."""
    classes, counts = np.unique(labels, return_counts=True)
    parts = []
    for cls, count in zip(classes, counts):
        idx = np.flatnonzero(labels == cls)
        parts.append(np.concatenate([idx, rng.choice(idx, counts.max() - count, replace=True)]))
    return np.sort(np.concatenate(parts))


def _undersample(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Positions with every class cut down to the smallest class's count (without replacement)."""
    classes, counts = np.unique(labels, return_counts=True)
    parts = [rng.choice(np.flatnonzero(labels == cls), counts.min(), replace=False) for cls in classes]
    return np.sort(np.concatenate(parts))


#: name -> (labels of the training subset, rng) -> positions into it (repeats allowed), or None for "none"
RESAMPLERS: Registry[Callable[[np.ndarray, np.random.Generator], np.ndarray] | None] = Registry("resampler")
RESAMPLERS.register("none")(None)
RESAMPLERS.register("oversample")(_oversample)
RESAMPLERS.register("undersample")(_undersample)
