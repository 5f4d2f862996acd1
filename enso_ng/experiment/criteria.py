"""Inner-CV criteria: how the validation scores of a model's candidates become one choice.

A criterion scores each candidate on each fold's validation rows, then chooses. Candidates come ordered
from the most to the least regularised, so "ties go to the first" means "to the stronger penalty". Folds
of 15 to 35 rows make validation accuracy coarse: several candidates tie, and the most regularised of
them can be one that predicts nearly a single class (issue 14; the evidence for the default is in the
README, "Choosing hyper-parameters", measured by ``benchmarks/criterion.py``). Every model with inner CV
takes ``criterion`` as a parameter (``-o logreg.criterion=log_loss``) and records each candidate's mean
score under it in ``params``.

Scores arrive batched: ``scores`` is (M, n, K) for M fold problems over n rows and K classes, ``codes``
(M, n) the true classes and ``valid`` (M, n) 1 where a row is in that fold's validation part. What
``scores`` holds is the model's ``kind``: ``logits`` (a softmax gives probabilities), ``proba``, or
``decision`` values (no probabilities: criteria that need them are refused when the run is configured).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from enso_ng.registry import Registry

#: probabilities below this are clipped before the log, as scikit-learn's ``log_loss`` does
EPS = 1e-15
#: candidates whose mean scores differ by no more than this are tied (the tie rules below use it too)
FLAT = 1e-12


@dataclass(frozen=True)
class Criterion:
    name: str
    #: (scores, codes, valid, kind) -> (M,) per-fold values
    fold_score: Callable[[np.ndarray, np.ndarray, np.ndarray, str], np.ndarray]
    #: choose among (candidates, folds) values
    rule: Callable[[np.ndarray, bool], int]
    higher_is_better: bool = True
    needs_proba: bool = False
    help: str = ""

    def choose(self, values: np.ndarray) -> int:
        """The chosen candidate's index, given each candidate's per-fold values (candidates, folds)."""
        return self.rule(np.asarray(values, dtype=np.float64), self.higher_is_better)


CRITERIA: Registry[Criterion] = Registry("criterion")


def _masked_mean(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return (values * valid).sum(1) / np.maximum(valid.sum(1), 1)


def _correct(scores: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """1 where the true class scores highest (a tie with another class counts as correct, as argmax of a
    float32 tie would be an accident of order)."""
    true = np.take_along_axis(scores, codes[..., None], axis=2)[..., 0]
    return (true >= scores.max(2)).astype(np.float64)


def accuracy(scores: np.ndarray, codes: np.ndarray, valid: np.ndarray, kind: str) -> np.ndarray:
    return _masked_mean(_correct(scores, codes), valid)


def log_loss(scores: np.ndarray, codes: np.ndarray, valid: np.ndarray, kind: str) -> np.ndarray:
    """Mean negative log-likelihood of the true class: it rewards calibrated confidence, so a candidate that
    predicts one class everywhere pays for every row of the others, even when its accuracy ties."""
    scores = np.asarray(scores, dtype=np.float64)
    if kind == "logits":
        shifted = scores - scores.max(2, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(2, keepdims=True))
    elif kind == "proba":
        logp = np.log(np.clip(scores, EPS, 1.0))
    else:
        raise ValueError(f"log_loss needs probabilities or logits, not {kind} scores")
    nll = -np.take_along_axis(logp, codes[..., None], axis=2)[..., 0]
    return _masked_mean(nll, valid)


def macro_f1(scores: np.ndarray, codes: np.ndarray, valid: np.ndarray, kind: str) -> np.ndarray:
    """F1 per class, averaged over the classes present in the fold's truth or predictions (scikit-learn's
    ``f1_score(average="macro")``): a one-class predictor scores about 1/K of a balanced one."""
    M, K = scores.shape[0], scores.shape[2]
    predicted = scores.argmax(2)
    valid = np.broadcast_to(valid, predicted.shape).astype(np.float64).ravel()
    offset = (np.arange(M) * K)[:, None]  # one bincount for all problems: problem m's classes at m*K..

    def counts(classes: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return np.bincount((classes + offset).ravel(), weights=weights, minlength=M * K).reshape(M, K)

    codes = np.broadcast_to(codes, predicted.shape)
    tp = counts(codes, valid * (predicted == codes).ravel())
    denominator = counts(predicted, valid) + counts(codes, valid)  # 2 tp + fp + fn
    present = denominator > 0
    f1 = np.where(present, 2 * tp / np.maximum(denominator, 1), 0.0)
    return f1.sum(1) / np.maximum(present.sum(1), 1)


def _best_first(values: np.ndarray, higher: bool) -> int:
    """The best mean; ties to the first (most regularised) candidate."""
    means = values.mean(1) if higher else -values.mean(1)
    return int(np.flatnonzero(means >= means.max() - FLAT)[0])


def _best_last(values: np.ndarray, higher: bool) -> int:
    """The best mean; ties to the last (least regularised) candidate."""
    means = values.mean(1) if higher else -values.mean(1)
    return int(np.flatnonzero(means >= means.max() - FLAT)[-1])


def _one_standard_error(values: np.ndarray, higher: bool) -> int:
    """Breiman's rule: the most regularised candidate within one standard error (across folds) of the best."""
    signed = values if higher else -values
    means = signed.mean(1)
    best = int(np.argmax(means))
    folds = values.shape[1]
    se = signed[best].std(ddof=1) / np.sqrt(folds) if folds > 1 else 0.0
    return int(np.flatnonzero(means >= means[best] - se - FLAT)[0])


def register(criterion: Criterion) -> Criterion:
    return CRITERIA.register(criterion.name)(criterion)


register(Criterion("accuracy", accuracy, _best_first, help="mean fold accuracy; ties to the most regularised"))
register(
    Criterion("accuracy_weak_ties", accuracy, _best_last, help="mean fold accuracy; ties to the least regularised")
)
register(
    Criterion(
        "accuracy_1se",
        accuracy,
        _one_standard_error,
        help="the most regularised candidate within one standard error of the best mean accuracy",
    )
)
register(
    Criterion(
        "log_loss",
        log_loss,
        _best_first,
        higher_is_better=False,
        needs_proba=True,
        help="mean fold log-loss (lowest)",
    )
)
register(Criterion("macro_f1", macro_f1, _best_first, help="mean fold macro-F1; ties to the most regularised"))


@dataclass
class Choice:
    """What inner CV chose and why: recorded in a result's ``params``."""

    index: int
    record: dict


def choose(criterion: str, values: np.ndarray, accuracies: np.ndarray, labels: list[str]) -> Choice:
    """Apply ``criterion`` to per-candidate, per-fold ``values``; the record holds every candidate's mean.

    ``accuracies`` (candidates, folds) keeps ``cv_accuracy`` (the chosen candidate's mean fold accuracy)
    in every record, whatever the criterion, so runs stay comparable.
    """
    chosen = CRITERIA.get(criterion)
    index = chosen.choose(values)
    means = np.asarray(values, dtype=np.float64).mean(1)
    record = {
        "cv_folds": int(values.shape[1]),
        "criterion": criterion,
        "cv_scores": {label: round(float(m), 6) for label, m in zip(labels, means)},
        "cv_accuracy": round(float(np.asarray(accuracies).mean(1)[index]), 6),
    }
    if len(means) > 1 and np.ptp(means) <= FLAT:
        #: every candidate scored the same: the criterion's tie rule chose, not the data (README, "flat")
        record["cv_flat"] = True
    return Choice(index, record)
