"""The split plan: which rows are tested on and which train each size, per split seed.

The plan depends only on the labels, the official splits and the seed, never on the features, so every
featurizer and model is scored on the same indices and comparisons between them are paired.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from enso_ng.errors import EnsoError


@dataclass(frozen=True)
class SplitPlan:
    seed: int
    test: np.ndarray
    #: training pool in nested, stratified order: the subset of size n is ``order[:n]``
    order: np.ndarray
    #: where the test set came from: "official" or "holdout"
    test_source: str

    def train(self, size: int) -> np.ndarray:
        return self.order[:size]


def nested_stratified_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An ordering of ``labels`` whose every prefix is (close to) stratified.

    Within each class the items are shuffled and item j of n_c gets the key (j + u) / n_c, u ~ U(0, 1):
    sorting by key interleaves the classes in proportion, so a prefix of length n holds about n * p_c
    items of class c. Each class's first item is moved to the front, so any prefix at least as long as
    the number of classes contains every class. Prefixes nest by construction: the 100 contain the 50.
    """
    _, y = np.unique(labels, return_inverse=True)
    keys = np.empty(len(y), dtype=np.float64)
    for c in range(y.max() + 1 if len(y) else 0):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        keys[idx] = (np.arange(len(idx)) + rng.random(len(idx))) / len(idx)
        keys[idx[0]] = rng.random() - 1.0
    return np.argsort(keys, kind="stable")


def stratified_holdout(labels: np.ndarray, test_size: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of a stratified test set: ``test_size`` is a fraction (< 1) or a count."""
    n = len(labels)
    n_test = int(round(test_size * n)) if test_size < 1 else int(test_size)
    if not 0 < n_test < n:
        raise EnsoError(f"--test-size {test_size} leaves no test or no training rows out of {n}")
    order = nested_stratified_order(labels, rng)
    return np.sort(order[:n_test])


def plan_split(labels: np.ndarray, splits: np.ndarray, seed: int, test_size: float = 0.2,
               use_official_test: bool = True) -> SplitPlan:
    """The plan for one split seed: the official test split where there is one, else a stratified hold-out."""
    rng = np.random.default_rng(seed)
    official = np.flatnonzero(splits == "test")
    if use_official_test and len(official):
        test, source = official, "official"
    else:
        test, source = stratified_holdout(labels, test_size, rng), "holdout"
    pool = np.setdiff1d(np.arange(len(labels)), test, assume_unique=True)
    order = pool[nested_stratified_order(labels[pool], rng)]
    return SplitPlan(seed=seed, test=test, order=order, test_source=source)
