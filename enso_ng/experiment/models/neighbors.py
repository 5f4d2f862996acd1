"""``knn``: k nearest neighbours by cosine similarity, k chosen by inner CV."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from enso_ng.experiment.models.base import DEFAULT_CRITERION, MODELS, TargetModel, inner_cv_choice
from enso_ng.params import POSITIVE, Param


@MODELS.register("knn")
class CosineKNN(TargetModel):
    """The classic non-parametric check on an embedding: do its nearest neighbours share a label?"""

    param_spec = {"ks": Param(help="neighbour counts inner CV tries", interval=POSITIVE)}

    def __init__(
        self,
        ks: Sequence[int] = (1, 3, 5, 9, 15, 25),
        cv: int = 3,
        criterion: str = DEFAULT_CRITERION,
        random_state: int = 0,
    ) -> None:
        self.ks = ks
        self.cv = cv
        self.criterion = criterion
        self.random_state = random_state

    def _make(self, k: int, n: int) -> Any:
        from sklearn.neighbors import KNeighborsClassifier  # here: importing scikit-learn costs predict's start

        return KNeighborsClassifier(n_neighbors=min(k, n), metric="cosine", algorithm="brute", weights="distance")

    def _fitted(self, k: int, X: Any, y: np.ndarray) -> Any:
        """scikit-learn warns that more classes than half the rows "could represent a regression problem":
        labels here are classes by construction, and on many-class data (a few rows a class) the warning
        only reached the user's terminal, once a fold."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
            return self._make(k, len(y)).fit(X, y)

    def fit(self, X: Any, y: np.ndarray) -> CosineKNN:
        def fit_predict(k, X_tr, y_tr, X_va):
            return self._fitted(k, X_tr, y_tr).predict_proba(X_va)

        # Distinct effective k only (a k above the fold's size would repeat the largest one), from the
        # most regularised (the most neighbours) to the least.
        candidates = sorted({min(k, max(1, len(y) * (self.cv - 1) // self.cv)) for k in self.ks}, reverse=True)
        k, record = inner_cv_choice(
            X, y, candidates, fit_predict, self.cv, self.random_state, min(5, len(y)), self.criterion, self.score_kind
        )
        self.estimator_ = self._fitted(k, X, y)
        self.classes_ = self.estimator_.classes_
        self.best_params_ = {"k": int(min(k, len(y))), **record}
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.estimator_.predict_proba(X)
