"""Transfer across datasets: train on dataset A's pool, test on dataset B's test rows.

``enso experiment --train-on A --test-on B`` runs three kinds of cells on the same split seeds, so that
their differences are paired:

- ``B`` in domain: B's own pool at each size, B's test rows (the run's ordinary cells for B);
- ``A-to-B``: A's pool at each size (A's test rows never train), B's test rows;
- ``A-mix-B`` (``--mix N,...``): A's whole pool plus N of B's own pool labels, B's test rows: how many of
  the target's labels close the gap.

A's labels are matched to B's by name, or by ``--label-map fresh=positive,rotten=negative`` where they are
spelled differently (``plot=`` drops A's rows of that label); a label set that cannot be aligned is a
one-line error before anything runs. Both datasets must be featurized by the same featurizer, and one that
learns from the dataset's own texts (tf-idf, word2vec, ...) gives vectors in two spaces: skipped, saying so.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from enso_ng.errors import EnsoError
from enso_ng.experiment.config import ExperimentConfig
from enso_ng.experiment.samplers import Sampler
from enso_ng.experiment.splits import SplitPlan, plan_split
from enso_ng.formats import CORPUS_FEATURIZERS, Features, FeaturesMeta, read_labels_and_splits
from enso_ng.workspace import Workspace

TRANSFER, MIX = "transfer", "mix"


def transfer_name(train_on: str, test_on: str, mode: str) -> str:
    """The results' ``dataset`` of a transfer cell: both datasets, in a name the workspace accepts."""
    return f"{train_on}-{'to' if mode == TRANSFER else 'mix'}-{test_on}"


def parse_label_map(text: str | None) -> dict[str, str]:
    """``fresh=positive,rotten=negative`` as a dict (``plot=``: drop A's rows of label plot)."""
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        source, sep, target = item.partition("=")
        if not sep or not source.strip():
            raise EnsoError(f"--label-map {item!r}: expected A_LABEL=B_LABEL (or A_LABEL= to drop it)")
        out[source.strip()] = target.strip()
    return out


def aligned_labels(a_labels: np.ndarray, b_labels: np.ndarray, config: ExperimentConfig) -> np.ndarray:
    """A's labels in B's names (None for rows dropped by the map), or a one-line error naming the label that
    cannot be aligned: a label of A with no match in B, a label of B no label of A maps to, or a map key
    that is not a label of A."""
    a, b = config.train_on, config.test_on
    mapping = parse_label_map(config.label_map)
    a_set, b_set = set(a_labels.tolist()), set(b_labels.tolist())
    stray = sorted(set(mapping) - a_set)
    if stray:
        raise EnsoError(f"--label-map: {stray[0]!r} is not a label of {a} (its labels: {', '.join(sorted(a_set))})")
    names = {label: mapping.get(label, label) for label in a_set}
    for label in sorted(a_set):
        if names[label] and names[label] not in b_set:
            raise EnsoError(
                f"--label-map: {a} label {label!r} has no match among {b}'s labels ({', '.join(sorted(b_set))}); "
                f"map it ({label}=LABEL) or drop it ({label}=)"
            )
    reached = {n for n in names.values() if n}
    missing = sorted(b_set - reached)
    if missing:
        raise EnsoError(
            f"--label-map: {b} label {missing[0]!r} has no {a} label mapped to it ({a}'s labels: "
            f"{', '.join(sorted(a_set))}); a model trained on {a} could never predict it"
        )
    return np.array([names[label] or None for label in a_labels.tolist()], dtype=object)


def unusable(a: FeaturesMeta, b: FeaturesMeta) -> str | None:
    """Why A's and B's features of one featurizer cannot share a model; None where they can."""
    if a.featurizer in CORPUS_FEATURIZERS:
        return f"{a.featurizer} learns from each dataset's own texts: {a.dataset}'s and {b.dataset}'s vectors differ"
    if (a.layout, a.dim, a.layers, a.sides, a.params) != (b.layout, b.dim, b.layers, b.sides, b.params):
        return f"{a.dataset}'s and {b.dataset}'s {a.featurizer} files were made with other parameters or shapes"
    return None


@dataclass(frozen=True)
class MixedPlan:
    """A's whole pool plus the first ``size`` of B's pool (B's sampler, B's nested order), B's test rows."""

    seed: int
    test: np.ndarray
    a_pool: np.ndarray
    b: SplitPlan
    offset: int
    test_source: str

    @property
    def order(self) -> np.ndarray:
        return np.concatenate([self.a_pool, self.b.order + self.offset])

    @property
    def sampler(self) -> Sampler:
        return self.b.sampler

    def train(self, size: int) -> np.ndarray:
        return np.concatenate([self.a_pool, self.b.train(size) + self.offset])

    def shortfall(self, size: int) -> str | None:
        return self.b.shortfall(size)


@dataclass(frozen=True)
class Side:
    """One dataset's labels and splits (A's in B's names, its dropped rows removed) and its kept rows."""

    labels: np.ndarray
    splits: np.ndarray
    kept: np.ndarray


def sides_of(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], config: ExperimentConfig):
    mapped = aligned_labels(a[0], b[0], config)
    kept = np.flatnonzero(mapped != None)  # noqa: E711 (an object array: elementwise)
    return Side(mapped[kept], a[1][kept], kept), Side(b[0], b[1], np.arange(len(b[0])))


def transfer_plans(a: Side, b: Side, config: ExperimentConfig, mode: str, seeds) -> dict[int, Any]:
    """Per seed, the plan of a transfer cell over the joined rows (A's kept rows, then B's): B's test rows
    (offset past A's) as ``plan_split`` gives them for B alone, so an in-domain cell of B at the same seed
    tests on the very same rows; training rows from A's pool (never A's test rows), and for ``MIX`` B's pool."""
    offset = len(a.labels)
    out: dict[int, Any] = {}
    for seed in seeds:
        on_a = plan_split(a.labels, a.splits, seed, config.test_size, config.official_test, config.sampler)
        on_b = plan_split(b.labels, b.splits, seed, config.test_size, config.official_test, config.sampler)
        test = on_b.test + offset
        if mode == TRANSFER:
            out[seed] = SplitPlan(seed, test, on_a.order, on_a.order_labels, on_b.test_source, on_a.sampler)
        else:
            out[seed] = MixedPlan(seed, test, on_a.order, on_b, offset, on_b.test_source)
    return out


def joined(fa: Features, fb: Features, a: Side) -> Features:
    """A's kept rows then B's, as one features table (labels in B's names); B's metadata, whose featurizer
    cost is the one a prediction on B's texts pays."""
    Xa = fa.X[a.kept]
    X = sp.vstack([Xa, fb.X], format="csr") if sp.issparse(fb.X) else np.concatenate([np.asarray(Xa), fb.X])
    labels = np.concatenate([a.labels, fb.labels])
    splits = np.concatenate([np.full(len(a.kept), "train", dtype=object), fb.splits])
    rows = np.concatenate([fa.rows[a.kept], fb.rows + len(fa.rows)])  # B's rows numbered after A's
    return dataclasses.replace(fb, X=X, labels=labels, splits=splits, rows=rows, _mean=None)


def label_sides(workspace: Workspace, config: ExperimentConfig, featurizer: str) -> tuple[Side, Side]:
    """Both datasets' aligned label sides, read from their features files' label columns (no vectors)."""
    a = read_labels_and_splits(workspace.features_path(config.train_on, featurizer))
    b = read_labels_and_splits(workspace.features_path(config.test_on, featurizer))
    return sides_of(a, b, config)


def modes(config: ExperimentConfig) -> list[tuple[str, list[int]]]:
    """(mode, sizes) of the run's transfer cells: A's sizes, and the ``--mix`` counts of B's labels."""
    return [(TRANSFER, list(config.sizes)), *([(MIX, list(config.mix))] if config.mix else [])]
