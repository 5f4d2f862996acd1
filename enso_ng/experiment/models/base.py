"""The target-model registry and what every model shares: inner CV for hyper-parameters.

Models follow scikit-learn's estimator contract: ``__init__`` only stores parameters, ``fit(X, y)``
returns ``self``, fitted state ends in ``_``, randomness comes from ``random_state``. Each chooses its own
hyper-parameters by an inner stratified cross-validation on the training subset it is given and nothing
else, and exposes the chosen values as ``best_params_``. ``predict_proba`` (columns in ``classes_`` order)
serves the probability metrics; a model without it offers ``decision_function`` for ROC-AUC.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from enso_ng.errors import EnsoError, either
from enso_ng.experiment.cost import stored_values
from enso_ng.experiment.criteria import CRITERIA, accuracy, choose
from enso_ng.formats import DENSE, SPARSE, TOKEN_IDS, TOKEN_VECTORS, Features
from enso_ng.params import FRACTION, POSITIVE_FINITE, Interval, Param
from enso_ng.registry import Registry

#: iterations or steps at most: a typo's extra zeros must not run for days
ITERATIONS = Interval(1, 1_000_000)
NON_NEGATIVE_FINITE = Interval(0, math.inf, high_open=True, text="zero or more (finite)")

#: how a model takes a features layout: as decoded, or through ``Features.pooled``
STORED, POOLED = "stored", "pooled"


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


class TargetModel:
    """What every target model shares, and what it declares it can do.

    ``get_params``/``set_params`` come from ``__init__``'s signature, as scikit-learn's estimators have them
    (so ``sklearn.base.clone`` works), without importing scikit-learn: ``enso predict`` with a torch or
    logreg model then starts without its 0.7-1 s import. The runner reads the capabilities below instead of
    probing. A model implements ``fit`` and either ``predict_proba`` or ``decision_function``; ``predict``
    follows.
    """

    _estimator_type: ClassVar[str] = "classifier"

    #: the features' layer count is passed as ``layers`` (multi-layer features are kept, not averaged)
    layer_aware: ClassVar[bool] = False
    #: ``fit_many`` fits several cells in one batch (faster than one by one)
    batched: ClassVar[bool] = False
    #: the features layouts (``formats.LAYOUTS``) it takes, and how: ``STORED`` (as decoded: a CSR matrix,
    #: -1 padded token ids, ``TokenVectors``) or ``POOLED`` (``Features.pooled``: layers averaged, token
    #: vectors as ``pooling=mean`` stores them); a file of another layout is skipped, saying why
    layouts: ClassVar[dict[str, str]] = {DENSE: POOLED, SPARSE: STORED, TOKEN_VECTORS: POOLED}
    #: the strategy a user weighs it as (frozen features, fine-tuned, few-shot, distilled); in config.json
    strategy: ClassVar[str] = "frozen features"
    #: gets a :class:`CellContext` through ``attach`` before ``fit`` (unlabelled pool rows, other features)
    semi_supervised: ClassVar[bool] = False
    #: how it takes a sentence-pair features file (:mod:`enso_ng.experiment.pairs`): ``"combined"`` (the run's
    #: ``pair`` combination), ``"sides"`` (``[u, v]`` as stored), ``"cross"`` (token ids of each pair as one
    #: input), or ``""``: it does not take pairs (refused)
    pairs: ClassVar[str] = "combined"

    #: what a model's inner-CV validation scores are (``logits``, ``proba`` or ``decision`` values): the
    #: criteria that need probabilities are refused for ``decision``
    score_kind: ClassVar[str] = "proba"

    #: parameters set from the features file by ``features_kwargs``, never by the configuration
    feature_params: ClassVar[tuple[str, ...]] = ()
    #: each ``__init__`` parameter's :class:`~enso_ng.params.Param` (help, type, choices or interval; the
    #: default is the signature's), merged over the class hierarchy: shared parameters are declared here
    param_spec: ClassVar[dict[str, Param]] = {
        "random_state": Param(help="the split seed of the cell (set by --seed, not by the configuration)"),
        "cv": Param(help="inner cross-validation folds", interval=Interval(2, 100, text="at least 2 (folds) and at most 100")),
        "criterion": Param(
            help="how inner CV chooses among candidates (the criteria listed below)",
            check_rule=lambda v: v in CRITERIA,
            check_text=lambda: either(CRITERIA.names()),
        ),
        "Cs": Param(help="inverse L2 strengths inner CV tries", interval=POSITIVE_FINITE),
        "max_iter": Param(help="solver iterations at most", interval=ITERATIONS),
        "weight_decays": Param(help="weight decays inner CV tries", interval=NON_NEGATIVE_FINITE),
        "steps": Param(help="optimiser steps at most", interval=ITERATIONS),
        "batch_size": Param(help="rows per optimiser step", interval=Interval(1, 2**24)),
        "lr": Param(help="learning rate", interval=POSITIVE_FINITE),
        "hidden": Param(help="units per hidden layer", interval=Interval(1, 65536)),
        "dropout": Param(help="dropout probability", interval=FRACTION),
    }

    @classmethod
    def spec(cls) -> dict[str, Param]:
        """Every ``__init__`` parameter's spec with the signature's default, in signature order; a parameter
        without one is a programming error (the registry-wide test in ``tests/test_params.py`` names it)."""
        declared: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            declared.update(vars(klass).get("param_spec", {}))
        out = {}
        signature = inspect.signature(cls.__init__).parameters
        for name in cls._param_names():
            if name not in declared:
                raise TypeError(f"model {cls.__name__}: parameter {name!r} has no entry in param_spec")
            out[name] = declared[name].with_default(signature[name].default)
        return out

    @classmethod
    def _param_names(cls) -> list[str]:
        return [
            name
            for name, parameter in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The ``__init__`` parameters as set (``deep`` is accepted for scikit-learn; no model nests one)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> TargetModel:
        known = self._param_names()
        for name, value in params.items():
            if name not in known:
                raise ValueError(f"model {type(self).__name__} has no parameter {name!r} (known: {', '.join(known)})")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

    @classmethod
    def view(cls, features: Features) -> Any:
        """What it trains on from a decoded features file of a layout it takes."""
        return features.X if cls.layouts.get(features.meta.layout) == STORED else features.pooled()

    @classmethod
    def requires(cls, params: dict[str, Any]) -> list[tuple[str, str]]:
        """(featurizer, model) pairs that must be in the same run (a distilled student's teacher)."""
        return []

    @classmethod
    def features_kwargs(cls, meta: Any) -> dict[str, Any]:
        """Parameters that come from the features file (its ``FeaturesMeta``), not from the configuration."""
        return {"layers": meta.layers} if cls.layer_aware else {}

    @classmethod
    def memory_bytes(cls, params: dict[str, Any], rows: int, dim: int, classes: int, cells: int) -> int | None:
        """About the most memory fitting ``cells`` cells of ``rows`` x ``dim`` features at once takes beyond the
        features, from the resolved ``params``: checked against what the machine has before a run starts.
        None where it is small or unknown (the default)."""
        return None

    @classmethod
    def check_params(cls, name: str, params: dict[str, Any]) -> None:
        """Rules beyond each parameter's spec (between parameters, or naming other models), checked with every
        parameter resolved before a run writes anything: a one-line ``EnsoError`` naming the option, so that a
        value bound to fail at fit time never reaches ``config.json``. Nothing by default."""

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

    layouts = {TOKEN_IDS: STORED}
    pairs = ""  # each encoder model declares its own pair use (finetune and setfit: "cross")
    feature_params = ("encoder", "encoder_sha256")
    param_spec = {
        "encoder": Param(help="the encoder (from the token-ids features file)"),
        "encoder_sha256": Param(help="its weights' sha256 (from the features file)"),
    }

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

    def scores(c: int, f: int) -> np.ndarray:
        train, valid = splits[f]
        return fit_predict(candidates[c], X[train], codes[train], X[valid])

    chosen = fold_choice(criterion, kind, scores, codes, splits, candidates)
    return candidates[chosen.index], chosen.record


def fold_choice(
    criterion: str,
    kind: str,
    scores: Callable[[int, int], Any],
    codes: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    candidates: Sequence[Any],
) -> Any:
    """The criterion's choice among candidates from ``scores(candidate, fold)``, each fold's (n_valid, K)
    validation scores of ``kind``: the one fold-scoring loop of every inner CV (called fold by fold, in
    candidate order within a fold, as fits that depend on their order would need)."""
    fold_score = CRITERIA.get(criterion).fold_score
    values, accuracies = np.zeros((len(candidates), len(folds))), np.zeros((len(candidates), len(folds)))
    for f, (_, valid) in enumerate(folds):
        truth, ones = codes[valid][None], np.ones((1, len(valid)))
        for c in range(len(candidates)):
            given = np.asarray(scores(c, f), dtype=np.float64)[None]
            values[c, f] = fold_score(given, truth, ones, kind)[0]
            accuracies[c, f] = accuracy(given, truth, ones, kind)[0]
    labels = [f"{c:g}" if isinstance(c, float) else str(c) for c in candidates]
    return choose(criterion, values, accuracies, labels)


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

        def scores(c: int, f: int) -> np.ndarray:
            return logits[self.folds[f][1], c * self.per_candidate + f]

        chosen = fold_choice(criterion, "logits", scores, codes, self.folds, self.candidates)
        return chosen.index * self.per_candidate + self.per_candidate - 1, self.candidates[chosen.index], chosen.record
