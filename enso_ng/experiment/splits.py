"""The split plan: which rows are tested on and which train each size, per split seed.

The plan depends only on the labels, the official splits, the sampler and the seed, and for a selection
sampler on the vectors of one chosen representation (``--select-with``), never on the features a cell
trains on, so every featurizer and model is scored on the same indices and comparisons stay paired.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from enso_ng.errors import EnsoError
from enso_ng.experiment.samplers import SAMPLERS, Sampler, stratified_order


@dataclass(frozen=True)
class SplitPlan:
    seed: int
    test: np.ndarray
    #: the training pool (dataset rows) in the sampler's nested order
    order: np.ndarray
    #: labels of ``order``'s rows
    order_labels: np.ndarray
    #: where the test set came from: "official" or "holdout"
    test_source: str
    sampler: Sampler

    def train(self, size: int) -> np.ndarray:
        """Dataset rows of the training subset of ``size`` (in the sampler's unit)."""
        return self.order[self.sampler.subset(np.arange(len(self.order)), self.order_labels, size)]

    def shortfall(self, size: int) -> str | None:
        return self.sampler.shortfall(self.order_labels, size)


def stratified_holdout(labels: np.ndarray, test_size: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of a stratified test set: ``test_size`` is a fraction (< 1) or a count."""
    n = len(labels)
    n_test = int(round(test_size * n)) if test_size < 1 else int(test_size)
    if not 0 < n_test < n:
        raise EnsoError(f"--test-size {test_size} leaves no test or no training rows out of {n}")
    order = stratified_order(labels, rng)
    return np.sort(order[:n_test])


def plan_split(
    labels: np.ndarray,
    splits: np.ndarray,
    seed: int,
    test_size: float = 0.2,
    use_official_test: bool = True,
    sampler: str = "stratified",
    vectors: np.ndarray | None = None,
    limit: int | None = None,
) -> SplitPlan:
    """The plan for one split seed: the official test split where there is one, else a stratified hold-out.

    A selection sampler needs ``vectors`` (one row per dataset row) and ``limit``, how many texts to
    choose (the run's largest size); it sees only the pool's rows, so a test row is never chosen."""
    rng = np.random.default_rng(seed)
    official = np.flatnonzero(splits == "test")
    if use_official_test and len(official):
        test, source = official, "official"
    else:
        test, source = stratified_holdout(labels, test_size, rng), "holdout"
    pool = np.setdiff1d(np.arange(len(labels)), test, assume_unique=True)
    chosen = SAMPLERS.get(sampler)
    if chosen.selects:
        if vectors is None or limit is None:
            raise EnsoError(f"sampler {sampler!r} chooses from a representation's vectors: give vectors and limit")
        order = pool[chosen.order(labels[pool], rng, vectors[pool], limit)]
    else:
        order = pool[chosen.order(labels[pool], rng)]
    return SplitPlan(seed=seed, test=test, order=order, order_labels=labels[order], test_source=source, sampler=chosen)
