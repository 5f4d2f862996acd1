"""Label selection: which pool texts to send to the annotators, chosen from a representation's vectors.

Each strategy turns the pool's vectors into a nested order (the first s positions are the texts labelled
with a budget of s) and reads no label before its text is selected: ``kcenter``, ``orthogonal`` and
``typical`` read none at all, ``margin`` and ``entropy`` only those of the texts chosen in earlier rounds.
Only the first ``limit`` positions are chosen (the run's largest size); the rest of the pool follows in a
seeded random order. Every strategy chooses in whole rounds fixed in advance, so a larger ``limit`` never
changes the positions a smaller one chose (a resume that adds a size keeps the earlier subsets).

Nothing holds an n x n matrix: a pick compares one vector with the pool, clusters are fitted on a sample
and compared in blocks, so 100,000 rows cost a few hundred megabytes at most.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: rows compared with the centres at once (a block x k matrix at a time)
BLOCK = 4096
#: ``typical``: clusters of the first round; each round doubles them (TypiClust's k grows with the budget)
FIRST_CLUSTERS = 10
#: ``typical``: neighbours a point's typicality is measured on (TypiClust's)
NEIGHBOURS = 20
#: ``typical``: k-means is fitted on a sample of max(SAMPLE_MIN, SAMPLE_PER_CLUSTER * k) pool rows
SAMPLE_MIN, SAMPLE_PER_CLUSTER = 2000, 4
KMEANS_ITERATIONS = 8
#: active learning: the random texts labelled first, and each round's batch as a share of those labelled
SEED_SET, MIN_BATCH, BATCH_SHARE = 20, 10, 0.25


def _dense(X: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(X, dtype=np.float32)


def _completed(chosen: list[int] | np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """The chosen positions, then every other pool position in a random order: a permutation of the pool."""
    chosen = np.asarray(chosen, dtype=np.int64)
    rest = np.setdiff1d(np.arange(n), chosen)
    return np.concatenate([chosen, rng.permutation(rest)])


def kcenter_order(labels: np.ndarray, rng: np.random.Generator, X: np.ndarray, limit: int) -> np.ndarray:
    """Greedy k-center (Enso's): a random first text, then always the text farthest (Euclidean) from every
    text chosen so far, so the labelled set covers the pool with the smallest radius. Labels are not read."""
    X = _dense(X)
    n = len(X)
    squares = np.einsum("ij,ij->i", X, X)
    nearest = np.full(n, np.inf, dtype=np.float32)
    chosen = np.empty(min(limit, n), dtype=np.int64)
    pick = int(rng.integers(n))
    for i in range(len(chosen)):
        chosen[i] = pick
        distance = squares - 2 * (X @ X[pick]) + squares[pick]
        np.minimum(nearest, distance, out=nearest)
        nearest[chosen[: i + 1]] = -np.inf
        pick = int(np.argmax(nearest))
    return _completed(chosen, n, rng)


def orthogonal_order(labels: np.ndarray, rng: np.random.Generator, X: np.ndarray, limit: int) -> np.ndarray:
    """Enso's orthogonal sampler: a random first text, then the text whose product of cosine distances to
    the chosen ones is largest (summed as logarithms), so each pick points away from all the others."""
    X = _dense(X)
    n = len(X)
    unit = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    score = np.zeros(n, dtype=np.float64)
    chosen = np.empty(min(limit, n), dtype=np.int64)
    pick = int(rng.integers(n))
    for i in range(len(chosen)):
        chosen[i] = pick
        score += np.log(np.maximum(1.0 - unit @ unit[pick], 1e-12))
        score[chosen[: i + 1]] = -np.inf
        pick = int(np.argmax(score))
    return _completed(chosen, n, rng)


def _nearest_centre(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of each row's nearest centre, a block of rows at a time."""
    c2 = np.einsum("ij,ij->i", centres, centres)
    out = np.empty(len(X), dtype=np.int64)
    for start in range(0, len(X), BLOCK):
        block = X[start : start + BLOCK]
        out[start : start + BLOCK] = np.argmin(c2 - 2 * (block @ centres.T), axis=1)
    return out


def _kmeans(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Centres of k clusters of ``X`` (k-means++ start, a few Lloyd steps); an emptied centre stays put."""
    squares = np.einsum("ij,ij->i", X, X)
    centres = np.empty((k, X.shape[1]), dtype=np.float32)
    centres[0] = X[rng.integers(len(X))]
    nearest = np.maximum(squares - 2 * (X @ centres[0]) + centres[0] @ centres[0], 0)
    for j in range(1, k):
        total = nearest.sum()
        pick = int(rng.choice(len(X), p=nearest / total)) if total > 0 else int(rng.integers(len(X)))
        centres[j] = X[pick]
        np.minimum(nearest, np.maximum(squares - 2 * (X @ X[pick]) + squares[pick], 0), out=nearest)
    for _ in range(KMEANS_ITERATIONS):
        assign = _nearest_centre(X, centres)
        counts = np.bincount(assign, minlength=k)
        sums = np.zeros_like(centres, dtype=np.float64)
        np.add.at(sums, assign, X)
        filled = counts > 0
        moved = (sums[filled] / counts[filled, None]).astype(np.float32)
        if np.allclose(moved, centres[filled]):
            break
        centres[filled] = moved
    return centres


def _most_typical(X: np.ndarray) -> int:
    """The member whose mean distance to its nearest neighbours is smallest (TypiClust's typicality)."""
    if len(X) <= 2:
        return 0
    squares = np.einsum("ij,ij->i", X, X)
    k = min(NEIGHBOURS, len(X) - 1)
    spread = np.empty(len(X))
    for start in range(0, len(X), BLOCK):
        block = X[start : start + BLOCK]
        d = np.maximum(squares[start : start + BLOCK, None] - 2 * (block @ X.T) + squares[None], 0)
        d = np.sqrt(np.partition(d, k, axis=1)[:, 1 : k + 1])  # column 0: the point itself (distance 0)
        spread[start : start + BLOCK] = d.mean(axis=1)
    return int(np.argmin(spread))


def typical_order(labels: np.ndarray, rng: np.random.Generator, X: np.ndarray, limit: int) -> np.ndarray:
    """Cold start without labels (TypiClust): in rounds of 10, 20, 40, ... clusters, the most typical text
    of each cluster that holds no chosen text yet, largest clusters first, so a small budget covers the
    data's modes and a larger one its smaller modes. Clusters are fitted on a fresh sample each round."""
    X = _dense(X)
    n = len(X)
    chosen: list[int] = []
    k = FIRST_CLUSTERS
    while len(chosen) < min(limit, n):
        k_now = min(k, n)
        sample = rng.choice(n, min(n, max(SAMPLE_MIN, SAMPLE_PER_CLUSTER * k_now)), replace=False)
        sample = np.setdiff1d(sample, chosen)
        if len(sample) == 0:
            break
        centres = _kmeans(X[sample], min(k_now, len(sample)), rng)
        assign = _nearest_centre(X[sample], centres)
        covered = set(_nearest_centre(X[chosen], centres).tolist()) if chosen else set()
        sizes = np.bincount(assign, minlength=len(centres))
        added = 0
        for cluster in np.argsort(-sizes, kind="stable"):
            if len(chosen) >= k_now or sizes[cluster] == 0:
                break
            if cluster in covered:
                continue
            members = sample[assign == cluster]
            chosen.append(int(members[_most_typical(X[members])]))
            added += 1
        if not added or k_now == n:  # no cluster left uncovered (duplicates): the rest comes at random
            break
        k *= 2
    return _completed(chosen, n, rng)


def _margin(proba: np.ndarray) -> np.ndarray:
    """Uncertainty as the gap between the two most likely classes, negated: larger is less sure."""
    top = np.partition(proba, -2, axis=1)[:, -2:]
    return -(top[:, 1] - top[:, 0])


def _entropy(proba: np.ndarray) -> np.ndarray:
    return -(proba * np.log(np.maximum(proba, 1e-12))).sum(axis=1)


def _active(uncertainty: Callable[[np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    def order(labels: np.ndarray, rng: np.random.Generator, X: np.ndarray, limit: int) -> np.ndarray:
        """Active learning in rounds: SEED_SET random texts, then each round fits the batched logistic
        regression on the texts labelled so far (the only labels read) and adds the batch of pool texts it
        is least sure about, most uncertain first; rounds grow with the labelled set."""
        from enso_ng.experiment.models.logreg import LogisticRegressionCV
        from enso_ng.experiment.threads import one_thread

        with one_thread():  # many small fits: threads only contend
            return _rounds(uncertainty, LogisticRegressionCV, labels, rng, _dense(X), limit)

    return order


def _rounds(
    uncertainty: Callable[[np.ndarray], np.ndarray],
    model_cls: type,
    labels: np.ndarray,
    rng: np.random.Generator,
    X: np.ndarray,
    limit: int,
) -> np.ndarray:
    """The rounds of :func:`_active`'s order."""
    n = len(X)
    target = min(limit, n)
    chosen = [int(i) for i in rng.choice(n, min(SEED_SET, n), replace=False)]
    while len(chosen) < target:
        batch = min(max(MIN_BATCH, int(BATCH_SHARE * len(chosen))), n - len(chosen))
        rest = np.setdiff1d(np.arange(n), chosen)
        known = labels[chosen]
        if len(np.unique(known)) < 2:  # nothing to fit yet: keep labelling at random
            chosen.extend(int(i) for i in rng.choice(rest, batch, replace=False))
            continue
        model = model_cls(Cs=(1.0,), random_state=0).fit(X[chosen], known)
        scores = np.concatenate(
            [uncertainty(model.predict_proba(X[rest[s : s + BLOCK]])) for s in range(0, len(rest), BLOCK)]
        )
        chosen.extend(int(i) for i in rest[np.argsort(-scores, kind="stable")[:batch]])
    return _completed(chosen, n, rng)


margin_order = _active(_margin)
entropy_order = _active(_entropy)
