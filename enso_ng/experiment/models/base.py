"""The target-model registry and what every model shares: inner CV for hyper-parameters.

Models follow scikit-learn's estimator contract: ``__init__`` only stores parameters, ``fit(X, y)``
returns ``self``, fitted state ends in ``_``, randomness comes from ``random_state``. Each chooses its own
hyper-parameters by an inner stratified cross-validation on the training subset it is given and nothing
else, and exposes the chosen values as ``best_params_``. ``predict_proba`` (columns in ``classes_`` order)
serves the probability metrics; a model without it offers ``decision_function`` for ROC-AUC.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from enso_ng.errors import EnsoError
from enso_ng.experiment.cost import stored_values
from enso_ng.experiment.criteria import CRITERIA, accuracy, choose
from enso_ng.registry import Registry


@dataclass
class CellContext:
    """What a semi-supervised model may see beyond its labelled rows: the rest of the training pool, never
    the test rows (``unlabelled`` and ``test`` are disjoint by construction), and the dataset's other
    features files (a teacher may read other features than its student)."""

    dataset: str
    #: featurizer name -> that featurizer's decoded features of this dataset
    features: Callable[[str], Any]
    #: this cell's own feature matrix over every dataset row, as the model is given it
    X: Any
    #: the rows ``fit`` is given, in the same order (a teacher fits on the same rows as its student)
    train: np.ndarray
    unlabelled: np.ndarray
    test: np.ndarray

    def __post_init__(self) -> None:
        if np.intersect1d(self.unlabelled, self.test).size or np.intersect1d(self.unlabelled, self.train).size:
            raise ValueError("unlabelled rows must exclude the test and training rows")


@dataclass(frozen=True)
class ParamRange:
    """The values a numeric model parameter may take: ``test(value)``, described as ``text``."""

    test: Callable[[float], bool]
    text: str


POSITIVE = ParamRange(lambda v: v > 0, "positive")
NON_NEGATIVE = ParamRange(lambda v: v >= 0, "zero or more")
FOLDS = ParamRange(lambda v: v >= 2, "at least 2 (folds)")
FRACTION = ParamRange(lambda v: 0 <= v < 1, "at least 0 and below 1")


class TargetModel(ClassifierMixin, BaseEstimator):
    """What every target model shares, and what it declares it can do.

    scikit-learn's ``BaseEstimator`` gives ``get_params``/``set_params`` from ``__init__``'s signature, so a
    config file can set any parameter. The runner reads the capabilities below instead of probing.
    A model implements ``fit`` and either ``predict_proba`` or ``decision_function``; ``predict`` follows.
    """

    #: the features' layer count is passed as ``layers`` (multi-layer features are kept, not averaged)
    layer_aware: ClassVar[bool] = False
    #: ``fit_many`` fits several cells in one batch (faster than one by one)
    batched: ClassVar[bool] = False
    #: takes CSR matrices (tf-idf) as they are
    accepts_sparse: ClassVar[bool] = True
    #: trains on an encoder's token ids (a ``tokens`` features file, -1 padded) instead of vectors
    takes_tokens: ClassVar[bool] = False
    #: trains on each text's token vectors (a ``pooling=none`` features file, as ``TokenVectors``)
    takes_sequences: ClassVar[bool] = False
    #: the strategy a user weighs it as (frozen features, fine-tuned, few-shot, distilled); in config.json
    strategy: ClassVar[str] = "frozen features"
    #: gets a :class:`CellContext` through ``attach`` before ``fit`` (unlabelled pool rows, other features)
    semi_supervised: ClassVar[bool] = False

    #: what a model's inner-CV validation scores are (``logits``, ``proba`` or ``decision`` values): the
    #: criteria that need probabilities are refused for ``decision``
    score_kind: ClassVar[str] = "proba"

    #: parameters set from the features file by ``features_kwargs``, never by the configuration
    feature_params: ClassVar[tuple[str, ...]] = ()
    #: Parameters that take one of a few values, so a misspelt value fails before the run starts.
    param_choices: ClassVar[dict[str, tuple[Any, ...]]] = {}
    #: Numeric parameters with a range (``POSITIVE``, ``FOLDS``, ...; a list is checked value by value), so
    #: a value that cannot work (no steps, a negative tolerance) fails before the run starts.
    param_ranges: ClassVar[dict[str, ParamRange]] = {}

    @classmethod
    def requires(cls, params: dict[str, Any]) -> list[tuple[str, str]]:
        """(featurizer, model) pairs that must be in the same run (a distilled student's teacher)."""
        return []

    @classmethod
    def features_kwargs(cls, meta: Any) -> dict[str, Any]:
        """Parameters that come from the features file (its ``FeaturesMeta``), not from the configuration."""
        return {"layers": meta.layers} if cls.layer_aware else {}

    @property
    def has_proba(self) -> bool:
        return type(self).predict_proba is not TargetModel.predict_proba

    def predict_proba(self, X: Any) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} gives no probabilities")

    def decision_scores(self, X: Any) -> np.ndarray:
        """(n, classes) scores where larger means more likely: probabilities, or decision values."""
        if self.has_proba:
            return self.predict_proba(X)
        decision = np.asarray(self.decision_function(X), dtype=np.float64)
        return np.stack([-decision, decision], axis=1) if decision.ndim == 1 else decision

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.decision_scores(X).argmax(1)]

    def n_parameters(self) -> int:
        """Numeric values the fitted model stores (its public fitted state, walked recursively)."""
        return stored_values({k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")})

    @classmethod
    def fit_many(cls, models: list[TargetModel], Xs: list[Any], ys: list[np.ndarray]) -> list[TargetModel]:
        """Fit several cells' models; one by one unless the model overrides this (and sets ``batched``)."""
        return [model.fit(X, y) for model, X, y in zip(models, Xs, ys)]


class EncoderModel(TargetModel):
    """A model that trains the encoder itself: it reads token ids, and the encoder and its weights' sha256
    come from the features file (``bert_tokens``), never from the configuration."""

    takes_tokens = True
    feature_params = ("encoder", "encoder_sha256")

    @classmethod
    def features_kwargs(cls, meta: Any) -> dict[str, Any]:
        return {"encoder": meta.params["model"], "encoder_sha256": meta.params["weights_sha256"]}


MODELS: Registry[type[TargetModel]] = Registry("model")

#: the inner-CV criterion of every model that has one (evidence: README, "Choosing hyper-parameters")
DEFAULT_CRITERION = "macro_f1"


def cv_folds(
    y: np.ndarray, folds: int, random_state: int, allow_missing: bool = False
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds of ``y`` (train and validation indices, sorted), or none where that is impossible.

    Each class's rows are shuffled by ``random_state`` and dealt round-robin over the folds, the deal
    running on from one class to the next: every class is split as evenly as it can be, and fold sizes
    differ by at most one. (scikit-learn's StratifiedKFold gives folds of the same kind, but its input
    checks cost as much as a whole small fit here.)

    By default every class needs two examples, so each fold's training part sees every class. With
    ``allow_missing`` (what scikit-learn's GridSearchCV does, with a warning) a class with fewer examples
    than folds is simply absent from some training parts; a model that copes with that gets CV even at
    the smallest sizes.
    """
    y = np.asarray(y)
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    k = int(min(folds, counts.max() if allow_missing else counts.min()))
    if k < 2:
        return []
    rng = np.random.default_rng(random_state)
    order = np.concatenate([rng.permutation(np.flatnonzero(codes == c)) for c in range(len(counts))])
    fold_of = np.empty(len(y), dtype=np.int64)
    fold_of[order] = np.arange(len(y)) % k
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]


def inner_cv_choice(
    X: Any,
    y: np.ndarray,
    candidates: Sequence[Any],
    fit_predict: Callable[[Any, Any, np.ndarray, Any], np.ndarray],
    folds: int,
    random_state: int,
    default: Any,
    criterion: str,
    kind: str,
) -> tuple[Any, dict[str, Any]]:
    """Pick a candidate by its validation scores over stratified folds of (X, y), under ``criterion``.

    ``fit_predict(candidate, X_train, codes_train, X_valid)`` fits on class codes (0..K-1) and returns
    (n_valid, K) scores of the ``kind`` the model gives (``proba``, ``logits`` or ``decision``). With fewer
    than two examples in some class no stratified split exists; ``default`` is then used and the record
    says so (``cv_folds: 0``); a single candidate is used as it is. Candidates are ordered from the most to the least regularised.
    """
    if len(candidates) == 1:
        return candidates[0], {"cv_folds": 0}
    splits = cv_folds(y, folds, random_state)
    if not splits:
        return default, {"cv_folds": 0}
    codes = np.unique(y, return_inverse=True)[1]
    fold_score = CRITERIA.get(criterion).fold_score
    values, accuracies = np.zeros((len(candidates), len(splits))), np.zeros((len(candidates), len(splits)))
    for f, (train, valid) in enumerate(splits):
        truth, ones = codes[valid][None], np.ones((1, len(valid)))
        for i, candidate in enumerate(candidates):
            scores = np.asarray(fit_predict(candidate, X[train], codes[train], X[valid]), dtype=np.float64)[None]
            values[i, f] = fold_score(scores, truth, ones, kind)[0]
            accuracies[i, f] = accuracy(scores, truth, ones, kind)[0]
    chosen = choose(criterion, values, accuracies, [f"{c:g}" if isinstance(c, float) else str(c) for c in candidates])
    return candidates[chosen.index], chosen.record


def check_criterion(model: str, cls: type[TargetModel], criterion: Any) -> None:
    """A criterion must exist and suit the model's scores (log-loss needs probabilities)."""
    if criterion not in CRITERIA:
        raise EnsoError(f"model {model!r}: criterion {criterion!r} is not one of {', '.join(CRITERIA.names())}")
    if CRITERIA.get(criterion).needs_proba and cls.score_kind == "decision":
        usable = ", ".join(n for n in CRITERIA.names() if not CRITERIA.get(n).needs_proba)
        raise EnsoError(
            f"model {model!r}: criterion {criterion!r} needs probabilities, which {model} does not give ({usable})"
        )


@dataclass
class StackedCV:
    """The models of a stacked inner CV: for each candidate, one model per fold (trained on the fold's
    training rows) and a final one on all rows, so a network holding them all trains in one run.

    Model ``m`` is candidate ``m // per_candidate``, part ``m % per_candidate``; the last part is the final
    model. ``masks`` (models, rows) say which rows each model's loss sees.
    """

    candidates: list[Any]
    folds: list[tuple[np.ndarray, np.ndarray]]
    masks: np.ndarray
    #: each model's candidate value (e.g. its weight decay)
    values: list[Any]

    @classmethod
    def plan(cls, codes: np.ndarray, candidates: Sequence[Any], folds: int, random_state: int) -> StackedCV:
        candidates = list(candidates)
        splits = cv_folds(codes, folds, random_state) if len(candidates) > 1 else []
        masks, values = [], []
        for candidate in candidates:
            for train_idx, _ in splits:
                mask = np.zeros(len(codes), dtype=np.float32)
                mask[train_idx] = 1
                masks.append(mask)
                values.append(candidate)
            masks.append(np.ones(len(codes), dtype=np.float32))
            values.append(candidate)
        return cls(candidates, splits, np.stack(masks), values)

    @property
    def per_candidate(self) -> int:
        return len(self.folds) + 1

    def choose(self, logits: Any, codes: np.ndarray, criterion: str) -> tuple[int, Any, dict[str, Any]]:
        """(the kept model's index, its candidate, the CV record) from every model's (rows, models, classes)
        logits on all rows: the final model of the candidate that ``criterion`` ranks first on the folds."""
        if not self.folds:
            return self.per_candidate - 1, self.candidates[0], {"cv_folds": 0}
        logits = logits.detach().cpu().numpy() if hasattr(logits, "detach") else np.asarray(logits)
        fold_score = CRITERIA.get(criterion).fold_score
        values = np.zeros((len(self.candidates), len(self.folds)))
        accuracies = np.zeros_like(values)
        for c in range(len(self.candidates)):
            for p, (_, valid_idx) in enumerate(self.folds):
                scores = np.asarray(logits[valid_idx, c * self.per_candidate + p], dtype=np.float64)[None]
                truth, ones = codes[valid_idx][None], np.ones((1, len(valid_idx)))
                values[c, p] = fold_score(scores, truth, ones, "logits")[0]
                accuracies[c, p] = accuracy(scores, truth, ones, "logits")[0]
        labels = [f"{c:g}" if isinstance(c, float) else str(c) for c in self.candidates]
        chosen = choose(criterion, values, accuracies, labels)
        return chosen.index * self.per_candidate + self.per_candidate - 1, self.candidates[chosen.index], chosen.record
