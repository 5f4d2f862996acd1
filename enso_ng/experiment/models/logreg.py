"""``logreg``: multinomial L2 logistic regression, C chosen by inner CV, the fits of many cells solved at once.

The model is scikit-learn's ``LogisticRegression(solver="lbfgs")`` objective (an unpenalised intercept;
one weight vector for two classes, one per class above), and the protocol is Enso's grid search over C
with 3-fold CV. What differs is how it is solved. The fold fits of every cell in a batch (the runner
passes all split seeds of one size) form one batch for :mod:`enso_ng.experiment.lbfgs`, one C after the
other, each warm-started from the previous C's solution; then one batched refit per cell at its chosen C.
A fold problem's products run over its own training rows only, and a stage starts from the previous
stage's objective and gradient with only the penalty changed: products dominate the cost, and neither
shortcut changes a number (``tests/test_convergence.py``).
The rows are centred; with n <= d the problem is posed in the span of the rows, in their Gram eigenbasis
(see :class:`_DenseBasis`). Each stage is preconditioned by the Hessian's diagonal at its starting
point, intercepts included. Float32 products; eigen-decompositions and final weights in float64.

Fitting and scoring are apart: the solver, and torch with it, is in
:mod:`enso_ng.experiment.models.logreg_solver`, imported when a model is fitted; scoring needs only the
weights, so ``enso predict`` with a fitted logreg starts without torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from enso_ng.experiment.models.base import DEFAULT_CRITERION, MODELS, TargetModel
from enso_ng.params import POSITIVE, Param

#: the refit's gradient bound and the dense fold fits', relative to the null model's gradient (see
#: ``logreg_solver._null_gradient``; chosen on SST-2, TREC and Banking77 at sizes on both sides of the feature
#: dimension: README, `enso experiment`, "Speed")
RTOL, CV_RTOL = 1e-2, 1e-1


@MODELS.register("logreg")
class LogisticRegressionCV(TargetModel):
    """Multinomial L2 logistic regression (L-BFGS); C chosen by stratified inner CV (``criterion``)."""

    batched = True
    param_spec = {
        "rtol": Param(
            help="the refit's gradient bound (and fold fits' on sparse rows), relative to the null model's gradient",
            interval=POSITIVE,
        ),
        "cv_rtol": Param(
            help="the fold fits' gradient bound on dense rows (they only rank C), relative to the null model's",
            interval=POSITIVE,
        ),
    }
    #: validation scores are logits: every criterion applies
    score_kind = "logits"

    def __init__(
        self,
        Cs: Sequence[float] = (0.1, 1.0, 10.0, 100.0, 1000.0),
        cv: int = 3,
        max_iter: int = 1000,
        rtol: float = RTOL,
        cv_rtol: float = CV_RTOL,
        criterion: str = DEFAULT_CRITERION,
        random_state: int = 0,
    ) -> None:
        self.Cs = Cs
        self.cv = cv
        self.max_iter = max_iter
        #: the refit stops when its largest gradient component is ``rtol`` times its value at the null model
        #: (zero weights, class-frequency intercepts): a bound that means the same for any number of
        #: classes, rows or dimensions (see ``logreg_solver._null_gradient``)
        self.rtol = rtol
        #: the same bound for the fold fits on dense rows, which only rank the C values; fold fits on
        #: sparse rows (see ``_SparseBasis``) use ``rtol``
        self.cv_rtol = cv_rtol
        #: how the fold scores choose C (:mod:`enso_ng.experiment.criteria`)
        self.criterion = criterion
        self.random_state = random_state

    def fit(self, X: Any, y: np.ndarray) -> LogisticRegressionCV:
        return self.fit_many([self], [X], [y])[0]

    @classmethod
    def fit_many(cls, models: list[LogisticRegressionCV], Xs: list[Any], ys: list[np.ndarray]) -> list:
        """Fit several cells at once (see :func:`enso_ng.experiment.models.logreg_solver.fit_many`)."""
        from enso_ng.experiment.models.logreg_solver import fit_many

        return fit_many(models, Xs, ys)

    def _settings(self) -> tuple:
        return tuple(float(c) for c in self.Cs), self.cv, self.max_iter, self.rtol, self.cv_rtol, self.criterion

    def decision_function(self, X: Any) -> np.ndarray:
        scores = np.asarray(X @ self.coef_.T) + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X: Any) -> np.ndarray:
        scores = np.asarray(X @ self.coef_.T, dtype=np.float64) + self.intercept_
        if scores.shape[1] == 1:
            scores = np.hstack([np.zeros_like(scores), scores])
        scores -= scores.max(1, keepdims=True)
        proba = np.exp(scores)
        return proba / proba.sum(1, keepdims=True)
