"""``lightgbm``: gradient-boosted trees, the classical baseline for tf-idf (works on sparse input)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from enso_ng.errors import EnsoError
from enso_ng.experiment.models.base import DEFAULT_CRITERION, MODELS, TargetModel, inner_cv_choice
from enso_ng.params import POSITIVE, Interval, Param


@MODELS.register("lightgbm")
class LightGBM(TargetModel):
    """LightGBM with small-data settings; the number of leaves is chosen by inner CV.

    Leaves are kept small and the minimum leaf size scales with the training set, because these
    training sets have tens to thousands of rows, not the millions LightGBM's defaults assume.
    """

    param_spec = {
        "leaves": Param(help="leaves per tree inner CV tries", interval=Interval(2, None, text="at least 2")),
        "n_estimators": Param(help="boosting rounds", interval=POSITIVE),
        "learning_rate": Param(help="shrinkage of each tree", interval=POSITIVE),
    }

    def __init__(
        self,
        leaves: Sequence[int] = (7, 31),
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        cv: int = 3,
        criterion: str = DEFAULT_CRITERION,
        random_state: int = 0,
    ) -> None:
        self.leaves = leaves
        self.criterion = criterion
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.cv = cv
        self.random_state = random_state

    def _make(self, leaves: int, n: int):
        try:
            from lightgbm import LGBMClassifier
        except ImportError:
            raise EnsoError("model 'lightgbm' needs the lightgbm package: pip install lightgbm") from None
        return LGBMClassifier(
            num_leaves=leaves,
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            min_child_samples=max(2, min(20, n // 20)),
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.5,
            random_state=self.random_state,
            n_jobs=1,
            verbose=-1,
            deterministic=True,
            force_col_wise=True,
        )

    def _fit_one(self, leaves: int, X: Any, y: np.ndarray):
        X = X.astype(np.float32) if hasattr(X, "astype") else X
        return self._make(leaves, len(y)).fit(X, y)

    def fit(self, X: Any, y: np.ndarray) -> LightGBM:
        def fit_predict(leaves, X_tr, y_tr, X_va):
            return self._fit_one(leaves, X_tr, y_tr).predict_proba(X_va.astype(np.float32))

        leaves, record = inner_cv_choice(
            X, y, list(self.leaves), fit_predict, self.cv, self.random_state, self.leaves[0], self.criterion, "proba"
        )
        self.estimator_ = self._fit_one(leaves, X, y)
        self.classes_ = self.estimator_.classes_
        self.best_params_ = {"num_leaves": leaves, "n_estimators": self.n_estimators, **record}
        return self

    def n_parameters(self) -> int:
        """Per tree: a feature and a threshold per split, a value per leaf."""
        trees = self.estimator_.booster_.dump_model()["tree_info"]
        return int(sum(3 * t["num_leaves"] - 2 for t in trees))

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.estimator_.predict_proba(X.astype(np.float32))
