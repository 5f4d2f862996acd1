"""``mlp``: small torch MLPs on frozen features, every inner-CV candidate trained at once."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from enso_ng.experiment.models.base import DEFAULT_CRITERION, MODELS, StackedCV, TargetModel


@MODELS.register("mlp")
class MLP(TargetModel):
    """A small torch MLP on frozen features: one or two hidden layers, dropout, weight decay by inner CV.

    (``criterion`` ranks the candidates; see :mod:`enso_ng.experiment.criteria`.)

    Many tiny networks are cheap only if they are not trained one after another: every (weight decay,
    inner fold) model *and* the final model for each weight decay are trained together as one stacked
    network, each seeing only its own rows through a loss mask. One optimisation run per cell replaces
    (folds + 1) x candidates runs; the final model of the candidate with the best inner-CV accuracy is
    kept. Seeded and deterministic. Full-batch below ``batch_size`` rows, shared minibatches above.

    Sparse inputs (tf-idf) go through a sparse matmul and keep only the columns that occur in the
    training rows: a column never seen in training gets no gradient, so its weights would stay at their
    random initial values and only add noise at test time. Dropping them is the same as initialising
    them to zero, and makes the first layer as wide as the training vocabulary, not the whole one.
    """

    def __init__(
        self,
        hidden: int = 128,
        layers: int = 1,
        dropout: float = 0.2,
        weight_decays: Sequence[float] = (1e-1, 1e-2),
        steps: int = 200,
        batch_size: int = 1024,
        lr: float = 3e-3,
        cv: int = 3,
        criterion: str = DEFAULT_CRITERION,
        random_state: int = 0,
    ) -> None:
        self.criterion = criterion
        self.hidden = hidden
        self.layers = layers
        self.dropout = dropout
        self.weight_decays = weight_decays
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.cv = cv
        self.random_state = random_state

    score_kind = "logits"

    def fit(self, X: Any, y: np.ndarray) -> MLP:
        self.classes_, codes = np.unique(y, return_inverse=True)
        self.columns_ = np.unique(X.tocsr().indices) if sp.issparse(X) else None
        X = self._inputs(X)
        stack = StackedCV.plan(codes, self.weight_decays, self.cv, self.random_state)
        net = _StackedMLP(
            X.shape[1],
            self.hidden,
            self.layers,
            len(self.classes_),
            len(stack.values),
            self.dropout,
            torch.Generator().manual_seed(self.random_state),
        )
        net.train_masked(
            X,
            torch.as_tensor(codes),
            torch.as_tensor(stack.masks),
            torch.as_tensor(stack.values, dtype=torch.float32),
            self.steps,
            self.batch_size,
            self.lr,
            torch.Generator().manual_seed(self.random_state + 1),
        )
        logits = net.logits(_tensor(X)) if stack.folds else None  # (n, M, C)
        kept, wd, record = stack.choose(logits, codes, self.criterion)
        self.net_ = net.select(kept)
        self.best_params_ = {"weight_decay": wd, "hidden": self.hidden, "layers": self.layers, **record}
        return self

    def _inputs(self, X: Any) -> Any:
        return X.tocsr()[:, self.columns_] if self.columns_ is not None else X

    def predict_proba(self, X: Any) -> np.ndarray:
        return torch.softmax(self.net_.logits(_tensor(self._inputs(X)))[:, 0], dim=1).numpy()


def _tensor(X: Any) -> torch.Tensor:
    if sp.issparse(X):
        csr = X.tocsr()
        with warnings.catch_warnings():
            # torch warns on every CSR tensor ("beta", "invariant checks"); these come valid from scipy.
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(
                torch.as_tensor(csr.indptr, dtype=torch.int64),
                torch.as_tensor(csr.indices, dtype=torch.int64),
                torch.as_tensor(csr.data, dtype=torch.float32),
                size=csr.shape,
            )
    return torch.as_tensor(np.asarray(X, dtype=np.float32))


class _StackedMLP:
    """M independent MLPs stored as stacked tensors, so one matmul serves them all.

    The first layer of all models is one (n_in, M*h) matrix: a dense or sparse X times it gives every
    model's hidden units at once. Later layers are batched with einsum over the model axis.
    """

    def __init__(
        self, n_in: int, hidden: int, layers: int, n_out: int, models: int, dropout: float, generator: torch.Generator
    ) -> None:
        def uniform(shape: tuple, fan_in: int) -> torch.Tensor:
            bound = 1.0 / np.sqrt(fan_in)
            return ((torch.rand(shape, generator=generator) * 2 - 1) * bound).requires_grad_()

        self.M, self.h, self.dropout = models, hidden, dropout
        self.first = uniform((n_in, models * hidden), n_in)
        self.first_bias = uniform((models, hidden), n_in)
        self.hidden_layers = [
            (uniform((models, hidden, hidden), hidden), uniform((models, hidden), hidden)) for _ in range(layers - 1)
        ]
        self.out = uniform((models, hidden, n_out), hidden)
        self.out_bias = uniform((models, n_out), hidden)
        self.training = False
        self.generator = generator

    def parameters(self) -> list[torch.Tensor]:
        extra = [t for pair in self.hidden_layers for t in pair]
        return [self.first, self.first_bias, *extra, self.out, self.out_bias]

    def weights(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(weight, model axis) pairs that weight decay applies to (biases are not decayed)."""
        return [
            (self.first.view(self.first.shape[0], self.M, self.h), 1),
            (self.out, 0),
            *[(w, 0) for w, _ in self.hidden_layers],
        ]

    def _drop(self, h: torch.Tensor) -> torch.Tensor:
        """Inverted dropout with one mask per (row, unit) shared by the stacked models.

        Common random numbers: the candidates compared by inner CV see the same noise, so their
        comparison is not blurred by it, and drawing n x h numbers instead of n x M x h saves an eighth
        of the training time.
        """
        if not self.training or self.dropout == 0:
            return h
        keep = torch.rand((h.shape[0], 1, h.shape[2]), generator=self.generator) >= self.dropout
        return h * keep.to(h.dtype).div_(1 - self.dropout)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        h = (X @ self.first).view(X.shape[0], self.M, self.h) + self.first_bias
        h = self._drop(torch.relu(h))
        for weight, bias in self.hidden_layers:
            h = self._drop(torch.relu(torch.einsum("nmh,mhk->nmk", h, weight) + bias))
        return torch.einsum("nmh,mhc->nmc", h, self.out) + self.out_bias

    def logits(self, X: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.forward(X)

    def train_masked(
        self,
        X: Any,
        y: torch.Tensor,
        masks: torch.Tensor,
        decay: torch.Tensor,
        steps: int,
        batch_size: int,
        lr: float,
        generator: torch.Generator,
    ) -> None:
        """Adam on the sum of each model's masked mean cross-entropy, with decoupled per-model decay.

        ``X`` stays a numpy array or scipy matrix: minibatch rows are sliced there and converted alone.
        """
        # fused: one pass over each parameter per step, not one per Adam operation (faster on a wide
        # tf-idf first layer)
        optimizer = torch.optim.Adam(self.parameters(), lr=lr, fused=True)
        n = X.shape[0]
        full = _tensor(X) if n <= batch_size else None
        self.training = True
        for _ in range(steps):
            if full is None:
                idx = torch.randperm(n, generator=generator)[:batch_size]
                xb, yb, mb = _tensor(X[idx.numpy()]), y[idx], masks[:, idx]
            else:
                xb, yb, mb = full, y, masks
            logits = self.forward(xb)  # (b, M, C)
            nll = -torch.log_softmax(logits, dim=2).gather(2, yb.view(-1, 1, 1).expand(-1, self.M, 1)).squeeze(2)
            loss = ((nll * mb.T).sum(0) / mb.sum(1).clamp(min=1)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                for weight, axis in self.weights():
                    shape = [1] * weight.dim()
                    shape[axis] = self.M
                    weight.mul_(1 - lr * decay.view(shape))
        self.training = False

    def select(self, m: int) -> _StackedMLP:
        """A single-model view of model ``m``, for prediction."""
        single = object.__new__(_StackedMLP)
        single.M, single.h, single.dropout, single.training = 1, self.h, 0.0, False
        single.generator = self.generator
        with torch.no_grad():
            single.first = self.first.view(-1, self.M, self.h)[:, m].contiguous()
            single.first_bias = self.first_bias[m : m + 1].clone()
            single.hidden_layers = [(w[m : m + 1].clone(), b[m : m + 1].clone()) for w, b in self.hidden_layers]
            single.out = self.out[m : m + 1].clone()
            single.out_bias = self.out_bias[m : m + 1].clone()
        return single
