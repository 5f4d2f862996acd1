"""``svm``: a linear support vector machine (squared hinge, L2), C chosen by inner CV."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from enso_ng.experiment.models.base import DEFAULT_CRITERION, MODELS, TargetModel, inner_cv_choice

#: log-loss needs probabilities, which the SVM does not give
DEFAULT_SVM_CRITERION = DEFAULT_CRITERION


@MODELS.register("svm")
class LinearSVM(TargetModel):
    """One-vs-rest linear SVM (liblinear). No probabilities: ROC-AUC uses its decision values, and
    log-loss is not computed for it, nor used as an inner-CV criterion."""

    score_kind = "decision"

    def __init__(
        self,
        Cs: Sequence[float] = (0.01, 0.1, 1.0, 10.0),
        cv: int = 3,
        max_iter: int = 5000,
        criterion: str = DEFAULT_SVM_CRITERION,
        random_state: int = 0,
    ) -> None:
        self.Cs = Cs
        self.cv = cv
        self.max_iter = max_iter
        self.criterion = criterion
        self.random_state = random_state

    def _fit_one(self, C: float, X: Any, y: np.ndarray) -> Any:
        from sklearn.exceptions import ConvergenceWarning  # here: importing scikit-learn costs predict's start
        from sklearn.svm import LinearSVC

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return LinearSVC(C=C, max_iter=self.max_iter, random_state=self.random_state).fit(X, y)

    def fit(self, X: Any, y: np.ndarray) -> LinearSVM:
        K = len(np.unique(y))

        def fit_predict(C, X_tr, y_tr, X_va):
            decision = self._fit_one(C, X_tr, y_tr).decision_function(X_va)
            return np.stack([-decision, decision], 1) if K == 2 else decision

        C, record = inner_cv_choice(
            X, y, list(self.Cs), fit_predict, self.cv, self.random_state, 1.0, self.criterion, self.score_kind
        )
        self.estimator_ = self._fit_one(C, X, y)
        self.classes_ = self.estimator_.classes_
        converged = bool(np.all(np.asarray(self.estimator_.n_iter_) < self.max_iter))
        self.best_params_ = {"C": C, **record, "converged": converged}
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        return self.estimator_.decision_function(X)
