"""Scores of a fitted model on a set of rows, registered by name.

Every metric sees the same :class:`Predictions`: true and predicted labels, and the model's class
probabilities (or, for a model without them, its decision scores) as columns over the dataset's classes.
A metric that needs something the model does not give is not computed for it; nothing is made up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    fbeta_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from enso_ng.registry import Registry


@dataclass
class Predictions:
    y_true: np.ndarray
    y_pred: np.ndarray
    #: the dataset's classes, the column order of ``proba`` and ``scores``
    classes: np.ndarray
    #: (n, classes) probabilities, or None for a model without them
    proba: np.ndarray | None = None
    #: (n, classes) scores where larger means more likely: the probabilities, or decision values
    scores: np.ndarray | None = None


@dataclass(frozen=True)
class Metric:
    fn: Callable[[Predictions], float]
    #: "proba" (needs probabilities), "scores" (probabilities or decision values), or "" (labels only)
    needs: str = ""
    #: the direction every summary, ranking and default choice reads (recorded in the run's config.json)
    higher_is_better: bool = True
    #: which predictions it is defined for beyond ``needs`` (e.g. two classes only); None: all of them
    only_if: Callable[[Predictions], bool] | None = None
    #: run settings (``ExperimentConfig`` fields) passed to ``fn`` as keywords, e.g. ``beta`` for ``fbeta``
    settings: tuple[str, ...] = ()

    def applies(self, predictions: Predictions) -> bool:
        if self.needs and getattr(predictions, self.needs) is None:
            return False
        return self.only_if is None or self.only_if(predictions)

    def score(self, predictions: Predictions, config: Any = None) -> float:
        """The metric's value; its ``settings`` are read from the run configuration."""
        return self.fn(predictions, **{key: getattr(config, key) for key in self.settings})


METRICS: Registry[Metric] = Registry("metric")


def metric(
    name: str,
    needs: str = "",
    higher_is_better: bool = True,
    only_if: Callable[[Predictions], bool] | None = None,
    settings: tuple[str, ...] = (),
):
    """Register ``fn`` as the metric ``name``; adding a metric is adding one decorated function."""

    def register(fn: Callable[..., float]) -> Callable[..., float]:
        METRICS.register(name)(Metric(fn, needs, higher_is_better, only_if, tuple(settings)))
        return fn

    return register


@metric("accuracy")
def accuracy(p: Predictions) -> float:
    return float(accuracy_score(p.y_true, p.y_pred))


@metric("balanced_accuracy")
def balanced_accuracy(p: Predictions) -> float:
    """Mean per-class recall: what accuracy would be with balanced classes."""
    return float(balanced_accuracy_score(p.y_true, p.y_pred))


@metric("macro_f1")
def macro_f1(p: Predictions) -> float:
    """Unweighted mean of per-class F1 over the labels present in either array: rare classes count fully."""
    return float(f1_score(p.y_true, p.y_pred, average="macro", zero_division=0))


@metric("micro_f1")
def micro_f1(p: Predictions) -> float:
    return float(f1_score(p.y_true, p.y_pred, average="micro", zero_division=0))


@metric("macro_precision")
def macro_precision(p: Predictions) -> float:
    return float(precision_score(p.y_true, p.y_pred, average="macro", zero_division=0))


@metric("macro_recall")
def macro_recall(p: Predictions) -> float:
    return float(recall_score(p.y_true, p.y_pred, average="macro", zero_division=0))


@metric("f2")
def f2(p: Predictions) -> float:
    """Macro-averaged F2: recall weighted four times precision, for tasks where a miss costs more."""
    return float(fbeta_score(p.y_true, p.y_pred, beta=2.0, average="macro", zero_division=0))


@metric("fbeta", settings=("beta",))
def fbeta(p: Predictions, beta: float) -> float:
    """Macro-averaged F-beta at the run's ``--beta`` (recorded in config.json)."""
    return float(fbeta_score(p.y_true, p.y_pred, beta=beta, average="macro", zero_division=0))


def _binary(p: Predictions) -> bool:
    return len(p.classes) == 2


@metric("average_precision", needs="scores", only_if=_binary)
def average_precision(p: Predictions) -> float:
    """Area under the precision-recall curve of the second class (sorted order, scikit-learn's positive
    class); two-class tasks only: a multi-class average would hide which class it is about."""
    positive = p.y_true == p.classes[1]
    if not positive.any():
        return float("nan")
    return float(average_precision_score(positive, p.scores[:, 1]))


@metric("roc_auc", needs="scores")
def roc_auc(p: Predictions) -> float:
    """One-vs-rest ROC-AUC averaged over the classes that have positives and negatives in ``y_true``.

    A class absent from the rows has no defined AUC; averaging over the rest keeps the number honest.
    """
    values = []
    for column, cls in enumerate(p.classes):
        positive = p.y_true == cls
        if positive.any() and not positive.all():
            values.append(roc_auc_score(positive, p.scores[:, column]))
    return float(np.mean(values)) if values else float("nan")


@metric("log_loss", needs="proba", higher_is_better=False)
def cross_entropy(p: Predictions) -> float:
    return float(log_loss(p.y_true, np.clip(p.proba, 1e-15, 1.0), labels=p.classes))


class Diverged(ValueError):
    """A fit whose model gives non-finite probabilities or scores (a learning rate or C far too large): the
    cell is skipped with this reason, never scored, and the run goes on."""


def diverged(exc: BaseException) -> bool:
    """Whether a fit's exception says its own numbers went non-finite (the features are checked finite when
    read, so a NaN inside a fit is the fit's own): :class:`Diverged`, or scikit-learn's input check on it."""
    text = str(exc)
    return isinstance(exc, Diverged) or (
        isinstance(exc, ValueError) and ("contains NaN" in text or "contains infinity" in text)
    )


def _finite(values: np.ndarray, what: str) -> np.ndarray:
    if not np.isfinite(values).all():
        raise Diverged(f"the fit diverged: its {what} are not finite (lower the learning rate or C)")
    return values


def predictions(model, X, y_true: np.ndarray, classes: np.ndarray) -> Predictions:
    """A fitted model's predictions on X, with probabilities laid out over all of ``classes``; a model whose
    numbers are not finite raises :class:`Diverged`."""
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged model's overflow is said once, as its skip
        return _predictions(model, X, y_true, classes)


def _predictions(model, X, y_true: np.ndarray, classes: np.ndarray) -> Predictions:
    columns = np.searchsorted(classes, model.classes_)
    proba = scores = None
    if model.has_proba:
        proba = np.zeros((len(y_true), len(classes)))
        proba[:, columns] = _finite(np.asarray(model.predict_proba(X), dtype=np.float64), "probabilities")
        proba /= proba.sum(1, keepdims=True)  # float32 models sum to 1 only within rounding
        scores = proba
        y_pred = model.classes_[proba[:, columns].argmax(1)]
    else:
        decision = _finite(np.asarray(model.decision_scores(X), dtype=np.float64), "decision scores")
        # A class the model never saw ranks below everything it did see.
        scores = np.full((len(y_true), len(classes)), decision.min() - 1.0)
        scores[:, columns] = decision
        y_pred = model.classes_[decision.argmax(1)]
    return Predictions(y_true=y_true, y_pred=y_pred, classes=classes, proba=proba, scores=scores)
