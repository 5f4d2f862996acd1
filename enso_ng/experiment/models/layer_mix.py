"""``layer_mix``: a learned softmax-weighted mix of an encoder's layers, then logistic regression.

ELMo's scalar mix: which layer carries the task is learned, not guessed. Features stored with every
layer (layers x dim, flattened) are mixed as gamma * sum_l softmax(a)_l h_l and fed to a multinomial
L2 logistic regression; a, gamma and the classifier are fitted jointly with L-BFGS, C by inner CV.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from enso_ng.errors import EnsoError
from enso_ng.experiment.models.base import DEFAULT_CRITERION, MODELS, STORED, TargetModel, inner_cv_choice
from enso_ng.formats import DENSE
from enso_ng.params import POSITIVE, Param


@MODELS.register("layer_mix")
class LayerMix(TargetModel):
    layer_aware = True
    pairs = ""  # not on sentence pairs yet
    feature_params = ("layers",)
    param_spec = {"layers": Param(help="layers per row (from the features file)", interval=POSITIVE)}
    layouts = {DENSE: STORED}
    score_kind = "logits"

    def __init__(
        self,
        layers: int = 1,
        Cs: Sequence[float] = (0.1, 1.0, 10.0, 100.0),
        cv: int = 3,
        max_iter: int = 200,
        criterion: str = DEFAULT_CRITERION,
        random_state: int = 0,
    ) -> None:
        self.criterion = criterion
        self.layers = layers
        self.Cs = Cs
        self.cv = cv
        self.max_iter = max_iter
        self.random_state = random_state

    def _stack(self, X: Any) -> torch.Tensor:
        if sp.issparse(X):
            raise EnsoError("layer_mix needs dense multi-layer features, not sparse ones")
        X = np.asarray(X, dtype=np.float32)
        if self.layers < 2 or X.shape[1] % self.layers:
            raise EnsoError(f"layer_mix needs features with several layers (got {self.layers} for width {X.shape[1]})")
        return torch.as_tensor(X).view(X.shape[0], self.layers, -1)

    def _fit_one(self, C: float, H: torch.Tensor, codes: np.ndarray, K: int) -> dict[str, torch.Tensor]:
        n, _, d = H.shape
        params = {"a": torch.zeros(self.layers), "gamma": torch.ones(()), "W": torch.zeros(d, K), "b": torch.zeros(K)}
        for value in params.values():
            value.requires_grad_()
        y = torch.as_tensor(codes)
        lam = 1.0 / (C * n)
        optimizer = torch.optim.LBFGS(
            list(params.values()),
            max_iter=self.max_iter,
            line_search_fn="strong_wolfe",
            tolerance_grad=1e-5,
            history_size=10,
        )

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(self._logits(params, H), y) + 0.5 * lam * params["W"].pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        return {k: v.detach() for k, v in params.items()}

    @staticmethod
    def _logits(params: dict[str, torch.Tensor], H: torch.Tensor) -> torch.Tensor:
        mixed = params["gamma"] * torch.einsum("l,nld->nd", torch.softmax(params["a"], 0), H)
        return mixed @ params["W"] + params["b"]

    def fit(self, X: Any, y: np.ndarray) -> LayerMix:
        H = self._stack(X)
        self.classes_, codes = np.unique(y, return_inverse=True)
        K = len(self.classes_)

        def fit_predict(C, H_tr, y_tr, H_va):
            with torch.no_grad():
                return self._logits(self._fit_one(C, H_tr, y_tr, K), H_va).numpy()

        C, record = inner_cv_choice(
            H, codes, list(self.Cs), fit_predict, self.cv, self.random_state, 1.0, self.criterion, self.score_kind
        )
        self.params_ = self._fit_one(C, H, codes, K)
        weights = torch.softmax(self.params_["a"], 0).tolist()
        self.best_params_ = {"C": C, **record, "layer_weights": [round(w, 4) for w in weights]}
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        with torch.no_grad():
            return torch.softmax(self._logits(self.params_, self._stack(X)), 1).numpy().astype(np.float64)
