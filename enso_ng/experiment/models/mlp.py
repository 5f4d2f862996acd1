"""``mlp``: small torch MLPs on frozen features, the inner CV of every cell of a batch trained at once."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from enso_ng.experiment.models.base import (
    DEFAULT_CRITERION,
    ITERATIONS,
    MODELS,
    TargetModel,
    cv_folds,
    fold_choice,
)
from enso_ng.params import Interval, Param


@MODELS.register("mlp")
class MLP(TargetModel):
    """A small torch MLP on frozen features: one or two hidden layers, dropout, weight decay and the number
    of training steps by inner CV (``criterion`` ranks the weight decays).

    Many tiny networks are cheap only if they are not trained one after another. ``fit_many`` (the runner
    passes every split seed of one size) trains, as one stacked network, every (cell, inner fold, weight
    decay) model, each on its own fold's rows only (gathered, not masked, so no row is computed for a model
    that does not use it); every ``check_every`` steps each model's validation loss is measured, and a
    model is done after ``patience`` checks without a better one (its best checkpoint's validation
    scores rank the weight decays) and leaves the stack, so a batch costs the sum of its models' steps.
    Then one batched refit per cell on all its rows, at the chosen weight decay, for as many passes over
    them as the mean over folds of that decay's best step count made over a fold's rows. Each cell draws its initial weights and
    dropout masks from its own generators, and every model's stopping depends on its own losses only, so a
    cell's result does not depend on the other cells of its batch (on one thread, as the runner fits; up to
    float32 rounding on dense features, ~3e-8 in the weights). Full-batch below ``batch_size`` rows.

    Sparse inputs (tf-idf) keep only the columns that occur in a model's training rows: a column never
    seen in training gets no gradient, so its weights would stay at their random initial values and only
    add noise at validation and test time. Dropping them is the same as initialising them to zero. The
    models' rows form one block-diagonal sparse matrix, so one sparse matmul serves them all.
    """

    batched = True
    score_kind = "logits"
    param_spec = {
        "layers": Param(help="hidden layers", interval=Interval(1, 8)),
        "check_every": Param(help="steps between validation checks", interval=ITERATIONS),
        "patience": Param(help="checks without a better validation loss before a model stops", interval=ITERATIONS),
        "matmul_dtype": Param(help="dtype of the training products", choices=("auto", "bfloat16", "float32")),
        "epochs": Param(
            help="passes over a model's rows at most (the refit's length where no inner CV is possible)",
            interval=ITERATIONS,
        ),
        "steps": Param(
            help="optimiser steps at most, a hard budget over epochs (default: none)", interval=ITERATIONS, type=int
        ),
    }

    def __init__(
        self,
        hidden: int = 128,
        layers: int = 1,
        dropout: float = 0.2,
        weight_decays: Sequence[float] = (1e-1, 1e-2),
        epochs: int = 200,
        steps: int | None = None,
        batch_size: int = 1024,
        lr: float = 1e-2,
        cv: int = 3,
        check_every: int = 5,
        patience: int = 3,
        criterion: str = DEFAULT_CRITERION,
        matmul_dtype: str = "float32",
        random_state: int = 0,
    ) -> None:
        #: the training products' dtype (autocast; weights, optimiser and prediction stay float32): ``auto``
        #: takes bfloat16 where a timed product shows it faster here (README, "Speed": measure, never flags).
        #: Not the default: with ``auto`` the dtype, and so the results, would depend on a timing
        self.matmul_dtype = matmul_dtype
        self.criterion = criterion
        self.hidden = hidden
        self.layers = layers
        self.dropout = dropout
        self.weight_decays = weight_decays
        #: the most passes over its rows a fold model trains (early stopping usually ends it first), and the
        #: refit's length where no inner CV is possible. Counted in passes, not steps, so that the cap means
        #: the same at any number of rows: a step is one batch of ``batch_size`` rows, and a cap of 200 steps
        #: (once the default) bound the fold models at 4,928 Banking77 rows (issue 27)
        self.epochs = epochs
        #: a hard budget in optimiser steps on top of ``epochs`` (quick runs), none by default
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.cv = cv
        self.check_every = check_every
        self.patience = patience
        self.random_state = random_state

    def fit(self, X: Any, y: np.ndarray) -> MLP:
        return self.fit_many([self], [X], [y])[0]

    @classmethod
    def memory_bytes(cls, params: dict[str, Any], rows: int, dim: int, classes: int, cells: int) -> int:
        """Every (cell, fold, weight decay) network of a batch is trained at once: float32 weights, their
        gradients and Adam's two moments (16 bytes a parameter), and each layer's activations and gradients."""
        hidden, layers = int(params["hidden"]), int(params["layers"])
        networks = cells * len(params["weight_decays"]) * (int(params["cv"]) + 1)
        weights = dim * hidden + (layers - 1) * hidden * hidden + hidden * classes
        activations = 2 * min(rows, int(params["batch_size"])) * (hidden * layers + classes)
        return networks * (16 * weights + 4 * activations)

    def _settings(self) -> tuple:
        return (
            self.hidden,
            self.layers,
            self.dropout,
            tuple(float(w) for w in self.weight_decays),
            self.epochs,
            self.steps,
            self.batch_size,
            self.lr,
            self.cv,
            self.check_every,
            self.patience,
            self.criterion,
            self.matmul_dtype,
        )

    @classmethod
    def fit_many(cls, models: list[MLP], Xs: list[Any], ys: list[np.ndarray]) -> list[MLP]:
        """Fit several cells' models (same settings) in batches of cells with the same shapes."""
        if len({m._settings() for m in models}) != 1:
            raise ValueError("fit_many needs mlp models with the same settings")
        cells = []
        for model, X, y in zip(models, Xs, ys):
            model.classes_, codes = np.unique(y, return_inverse=True)
            folds = cv_folds(codes, model.cv, model.random_state)
            cells.append(_Cell(model, X.tocsr() if sp.issparse(X) else _dense(X), codes, folds))
        groups: dict[tuple, list[_Cell]] = {}
        for cell in cells:
            key = (len(cell.codes), len(cell.model.classes_), len(cell.folds), sp.issparse(cell.X))
            groups.setdefault(key, []).append(cell)
        for members in groups.values():
            _fit_group(models[0], members)
        return models

    def max_steps(self, rows: int) -> int:
        """The most optimiser steps a model on ``rows`` rows trains: ``epochs`` passes of ``batch_size`` rows a
        step (one step a pass in full batch), within ``steps`` where that is set. Without inner CV it is also the
        refit's length: 200 steps up to 1,024 rows, as before, and 200 passes above (1,000 steps at 4,928 rows)."""
        # bounded as ``steps`` is: batch_size=1 (a typo) would make a cap of millions of steps
        cap = min(self.epochs * self.steps_a_pass(rows), int(ITERATIONS.high))
        return cap if self.steps is None else min(cap, self.steps)

    def steps_a_pass(self, rows: int) -> int:
        """Optimiser steps in one pass over ``rows`` rows: one in full batch, one per ``batch_size`` rows above."""
        return -(-max(rows, 1) // self.batch_size)

    def refit_steps(self, fold_steps: float, fold_rows: int, rows: int) -> int:
        """The refit's length on ``rows`` rows for folds' mean best ``fold_steps`` on ``fold_rows`` rows: the same
        number of passes over the rows (a fold trains on fewer rows, so above ``batch_size`` it takes fewer
        steps a pass), within :meth:`max_steps`, and at least one step (no finite validation loss: no best)."""
        passes = fold_steps / self.steps_a_pass(fold_rows)
        return max(1, min(int(round(passes * self.steps_a_pass(rows))), self.max_steps(rows)))

    def _inputs(self, X: Any) -> Any:
        if self.columns_ is not None:
            return X.tocsr()[:, self.columns_]
        return np.asarray(X, dtype=np.float32)

    def predict_proba(self, X: Any) -> np.ndarray:
        h = self._inputs(X)
        for weight, bias in zip(self.coefs_[:-1], self.intercepts_[:-1]):
            h = np.maximum(np.asarray(h @ weight) + bias, 0)
        logits = (h @ self.coefs_[-1] + self.intercepts_[-1]).astype(np.float64)
        logits -= logits.max(1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(1, keepdims=True)


@dataclass
class _Cell:
    model: MLP
    X: Any  # float32 array or CSR matrix
    codes: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]


def _dense(X: Any) -> np.ndarray:
    return np.ascontiguousarray(X, dtype=np.float32)


def _fit_group(settings: MLP, cells: list[_Cell]) -> None:
    """Inner CV of every cell (all folds and weight decays at once), then every cell's refit at once."""
    n, K, k = len(cells[0].codes), len(cells[0].model.classes_), len(cells[0].folds)
    decays = [float(w) for w in settings.weight_decays]
    D = len(decays)
    chosen_decay, chosen_steps = [decays[0]] * len(cells), [settings.max_steps(n)] * len(cells)
    records: list[dict[str, Any]] = [{"cv_folds": 0}] * len(cells)
    if k:
        # fold sizes differ by at most one: pad each fold's rows to a length set by (n, k) alone, so a
        # cell's tensors are the same whichever cells share its batch. One model per (cell, fold, decay);
        # a fold's decays share its cell's seed, so they start from the same weights and see the same
        # batches and dropout masks (common random numbers for the comparison the inner CV makes)
        train_rows, valid_rows = n - n // k, -(-n // k)
        parts = [(c, train, valid, d) for c in cells for train, valid in c.folds for d in decays]
        generators = [torch.Generator().manual_seed(c.model.random_state) for c, *_ in parts]
        train_in = _Inputs.build([(c.X, t, t) for c, t, _, _ in parts], train_rows)
        valid_in = _Inputs.build([(c.X, t, v) for c, t, v, _ in parts], valid_rows, like=train_in)
        net = _StackedMLP(train_in, settings, K, generators)
        best_steps, best_logits = net.train(
            train_in,
            _padded([c.codes[t] for c, t, _, _ in parts], train_rows),
            torch.tensor([d for *_, d in parts]),
            settings,
            generators,
            max_steps=[settings.max_steps(train_rows)] * len(parts),
            valid=(valid_in, _padded([c.codes[v] for c, _, v, _ in parts], valid_rows)),
        )
        for i, cell in enumerate(cells):
            scores = functools.partial(_fold_logits, best_logits, (i * k) * D, D, cell)
            chosen = fold_choice(settings.criterion, "logits", scores, cell.codes, cell.folds, decays)
            chosen_decay[i] = decays[chosen.index]
            steps = best_steps[i * k * D : (i + 1) * k * D].view(k, D)[:, chosen.index]
            chosen_steps[i] = settings.refit_steps(float(steps.float().mean()), train_rows, n)
            records[i] = chosen.record
    everything = np.arange(n)
    generators = [torch.Generator().manual_seed(c.model.random_state + 1) for c in cells]
    full_in = _Inputs.build([(c.X, everything, everything) for c in cells], n)
    net = _StackedMLP(full_in, settings, K, generators)
    net.train(
        full_in,
        _padded([c.codes for c in cells], n),
        torch.tensor(chosen_decay),
        settings,
        generators,
        max_steps=chosen_steps,
    )
    for i, cell in enumerate(cells):
        model = cell.model
        model.coefs_, model.intercepts_ = net.snapshot[i]
        model.columns_ = full_in.columns[i]
        model.best_params_ = {
            "weight_decay": chosen_decay[i],
            "steps": chosen_steps[i],
            "hidden": settings.hidden,
            "layers": settings.layers,
            **records[i],
        }


def _fold_logits(logits: torch.Tensor, first: int, decays: int, cell: _Cell, p: int, f: int) -> np.ndarray:
    """The validation logits of decay ``p`` on fold ``f`` of a cell whose models start at ``first``."""
    return logits[first + f * decays + p, : len(cell.folds[f][1])].double().numpy()


def _padded(codes: list[np.ndarray], rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(G, rows) class codes and row weights (1 for a real row, 0 for padding)."""
    y, w = torch.zeros(len(codes), rows, dtype=torch.int64), torch.zeros(len(codes), rows)
    for g, c in enumerate(codes):
        y[g, : len(c)] = torch.as_tensor(c)
        w[g, : len(c)] = 1
    return y, w


@dataclass
class _Inputs:
    """The rows of G models, each padded to ``rows``: a (G, rows, d) tensor for dense features, a
    block-diagonal CSR matrix over each model's own columns for sparse ones (model g's rows use only
    columns ``offsets[g]:offsets[g + 1]`` of the stacked first layer)."""

    dense: torch.Tensor | None
    blocks: list[sp.csr_matrix] | None
    columns: list[np.ndarray | None]
    rows: int

    @classmethod
    def build(cls, parts: list[tuple[Any, np.ndarray, np.ndarray]], rows: int, like: _Inputs | None = None) -> _Inputs:
        """``parts``: (cell features, the rows whose columns the model keeps, the rows it holds)."""
        if not sp.issparse(parts[0][0]):
            dense = torch.zeros(len(parts), rows, parts[0][0].shape[1])
            for g, (X, _, held) in enumerate(parts):
                dense[g, : len(held)] = torch.from_numpy(X[held])
            return cls(dense, None, [None] * len(parts), rows)
        blocks, columns, seen = [], [], {}
        for g, (X, kept, held) in enumerate(parts):
            key = (id(X), kept.tobytes(), held.tobytes())  # a fold's decays hold the same rows: built once
            if key not in seen:
                cols = like.columns[g] if like is not None else np.unique(X[kept].indices)
                block = X[held][:, cols].tocsr()
                block.resize((rows, len(cols)))  # empty padding rows
                seen[key] = block, cols
            blocks.append(seen[key][0])
            columns.append(seen[key][1])
        return cls(None, blocks, columns, rows)

    def subset(self, keep: list[int]) -> _Inputs:
        """The inputs of models ``keep`` only (in that order)."""
        if self.dense is not None:
            return _Inputs(self.dense[keep], None, [None] * len(keep), self.rows)
        return _Inputs(None, [self.blocks[g] for g in keep], [self.columns[g] for g in keep], self.rows)

    @property
    def dims(self) -> list[int]:
        """Each model's first-layer rows (its columns, where sparse)."""
        if self.dense is not None:
            return [self.dense.shape[2]] * self.dense.shape[0]
        return [b.shape[1] for b in self.blocks]

    def take(self, index: torch.Tensor | None) -> torch.Tensor | _SparseRows:
        """The (G, b) rows ``index`` of each model (all rows for None), as a tensor the first layer takes."""
        if self.dense is not None:
            if index is None:
                return self.dense
            return self.dense[torch.arange(len(index))[:, None], index]
        blocks = self.blocks if index is None else [b[i.numpy()] for b, i in zip(self.blocks, index)]
        csr = sp.block_diag(blocks, format="csr", dtype=np.float32)
        return _SparseRows(_bags(csr), _bags(csr.T.tocsr()))


def _bags(csr: sp.csr_matrix) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A CSR matrix as ``embedding_bag`` takes it: column indices, row pointers, values."""
    return (
        torch.as_tensor(csr.indices, dtype=torch.int64),
        torch.as_tensor(csr.indptr, dtype=torch.int64),
        torch.as_tensor(csr.data, dtype=torch.float32),
    )


def _bag_sum(bags: tuple[torch.Tensor, torch.Tensor, torch.Tensor], weight: torch.Tensor) -> torch.Tensor:
    indices, indptr, values = bags
    return torch.nn.functional.embedding_bag(
        indices, weight, indptr, mode="sum", per_sample_weights=values, include_last_offset=True
    )


@dataclass
class _SparseRows:
    """The block-diagonal rows of the models (as CSR bags) and their transpose.

    The first layer is a weighted sum of weight rows per input row (``embedding_bag``), and its gradient
    the same sum over the transpose: each output row and each weight row's gradient then sums only its
    own terms, in order, so a model's numbers do not depend on which models share its batch (the built-in
    backward of a sparse product rounds differently with the batch's size).
    """

    rows: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    columns: tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class _SparseProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, X: _SparseRows) -> torch.Tensor:
        ctx.X = X
        return _bag_sum(X.rows, weight)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return _bag_sum(ctx.X.columns, grad), None


#: a model's dropout masks are drawn from a pool of this many times its rows (see ``_StackedMLP._drop``)
DROPOUT_POOL = 4


class _StackedMLP:
    """G models stored as stacked tensors, so one product serves them all.

    Dense: the first layer is (G, d, h), one batched matmul of each model's rows with its weights.
    Sparse: it is (sum of the models' column counts, h), multiplied by the block-diagonal matrix of the
    models' rows. Later layers are batched matmuls over the models. A model that is done (stopped early,
    or at its step count) leaves the stack: the tensors and the optimiser's state shrink to the models
    still training, so a batch costs the sum of its models' steps, not its slowest model's steps times G
    (on tf-idf at 1,000 rows the strong decay's models stop after ~35 of up to 200 steps).
    """

    def __init__(self, inputs: _Inputs, settings: MLP, n_out: int, generators: list[torch.Generator]) -> None:
        dims, h = inputs.dims, settings.hidden
        self.G, self.h, self.dropout = len(dims), h, settings.dropout

        def uniform(shape: tuple, fan_in: int, g: int) -> torch.Tensor:
            bound = 1.0 / np.sqrt(max(fan_in, 1))
            return (torch.rand(shape, generator=generators[g]) * 2 - 1) * bound

        # every model draws its own weights from its cell's generator, in a fixed order
        first, first_bias, hidden, out, out_bias = [], [], [], [], []
        for g, d in enumerate(dims):
            first.append(uniform((d, h), d, g))
            first_bias.append(uniform((h,), d, g))
            hidden.append([(uniform((h, h), h, g), uniform((h,), h, g)) for _ in range(settings.layers - 1)])
            out.append(uniform((h, n_out), h, g))
            out_bias.append(uniform((n_out,), h, g))
        self.dims = list(dims)
        self.sparse = inputs.dense is None
        self.first = (torch.cat(first) if self.sparse else torch.stack(first)).requires_grad_()
        self.first_bias = torch.stack(first_bias).requires_grad_()
        self.hidden_layers = [
            (
                torch.stack([hid[i][0] for hid in hidden]).requires_grad_(),
                torch.stack([hid[i][1] for hid in hidden]).requires_grad_(),
            )
            for i in range(settings.layers - 1)
        ]
        self.out = torch.stack(out).requires_grad_()
        self.out_bias = torch.stack(out_bias).requires_grad_()
        self.snapshot: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        self._pool: torch.Tensor | None = None

    def parameters(self) -> list[torch.Tensor]:
        extra = [t for pair in self.hidden_layers for t in pair]
        return [self.first, self.first_bias, *extra, self.out, self.out_bias]

    def _set_parameters(self, params: list[torch.Tensor]) -> None:
        self.first, self.first_bias, *extra, self.out, self.out_bias = params
        self.hidden_layers = [(extra[i], extra[i + 1]) for i in range(0, len(extra), 2)]

    def forward(self, X: torch.Tensor | _SparseRows, generators: list[torch.Generator] | None) -> torch.Tensor:
        """(G, b, classes) logits; dropout masks from each model's generator when training."""
        if isinstance(X, _SparseRows):
            z = _SparseProduct.apply(self.first, X).view(self.G, -1, self.h) + self.first_bias[:, None]
        else:
            z = _affine(self.first_bias, X, self.first)
        z = self._drop(torch.relu(z), generators)
        for weight, bias in self.hidden_layers:
            z = self._drop(torch.relu(_affine(bias, z, weight)), generators)
        return _affine(self.out_bias, z, self.out)

    def _drop(self, z: torch.Tensor, generators: list[torch.Generator] | None) -> torch.Tensor:
        """Inverted dropout, one mask per (row, unit) from each model's generator.

        Each row's mask is a random row of the model's pool of masks (``DROPOUT_POOL`` x the rows; drawn
        once per training run): one step's masks for 15 groups x 667 rows x 128 units took 7.4 ms as fresh
        random numbers and 0.6 ms from the pool (measured), more than the products cost on glove.
        """
        if generators is None or self.dropout == 0:
            return z
        b = z.shape[1]
        if self._pool is None:
            self._pool = torch.stack(
                [torch.rand((DROPOUT_POOL * b, self.h), generator=gen) >= self.dropout for gen in generators]
            ).to(z.dtype) / (1 - self.dropout)
        size = self._pool.shape[1]
        index = torch.stack([torch.randint(size, (b,), generator=gen) for gen in generators])
        index += torch.arange(self.G)[:, None] * size
        return z * self._pool.view(self.G * size, self.h).index_select(0, index.view(-1)).view(self.G, b, self.h)

    def _add_penalty(self, scale: torch.Tensor) -> None:
        """Add each model's L2 gradient, ``scale[g]`` x its weights (not biases), to the gradients: the
        derivative of scikit-learn's ``alpha / 2 * ||W||^2 / rows``, without a pass to square them."""
        with torch.no_grad():
            if self.sparse:
                rows = torch.repeat_interleave(scale, torch.as_tensor(self.dims))
                self.first.grad.addcmul_(self.first, rows[:, None])
            else:
                self.first.grad.addcmul_(self.first, scale[:, None, None])
            for weight, _ in self.hidden_layers:
                weight.grad.addcmul_(weight, scale[:, None, None])
            self.out.grad.addcmul_(self.out, scale[:, None, None])

    def _keep(self, keep: list[int], optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        """Shrink the stack to models ``keep``; returns the optimiser over the new tensors, with their state
        carried over (Adam's moments and step count), so each kept model trains on as before: bit for bit
        on sparse features (multi-tensor Adam), within float32 rounding on dense ones (fused Adam rounds
        with the stack's size; measured up to 6e-8 in the weights)."""
        index = torch.as_tensor(keep)
        if self.sparse:
            starts = np.concatenate([[0], np.cumsum(self.dims)])
            first_index = torch.as_tensor(np.concatenate([np.arange(starts[g], starts[g + 1]) for g in keep]))
        old = self.parameters()
        picks = [first_index if self.sparse else index] + [index] * (len(old) - 1)
        new = [p.detach()[i].clone().requires_grad_() for p, i in zip(old, picks)]
        carried = type(optimizer)(new, **optimizer.defaults)
        for p, q, i in zip(old, new, picks):
            state = optimizer.state.get(p)
            if state:
                carried.state[q] = {key: value if key == "step" else value[i].clone() for key, value in state.items()}
        self._set_parameters(new)
        self.dims = [self.dims[g] for g in keep]
        self.G = len(keep)
        if self._pool is not None:
            self._pool = self._pool[index]
        return carried

    def train(
        self,
        inputs: _Inputs,
        targets: tuple[torch.Tensor, torch.Tensor],
        decay: torch.Tensor,
        settings: MLP,
        generators: list[torch.Generator],
        max_steps: list[int],
        valid: tuple[_Inputs, tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Adam on the sum of every model's mean cross-entropy over its own rows.

        With ``valid``, every model's validation loss is checked every ``check_every`` steps; a model whose
        loss has not improved for ``patience`` checks is done, and leaves the stack. Returns each model's
        best step (G,) and its validation logits there (G, rows, classes). Without ``valid``, model g's
        weights are kept in ``snapshot[g]`` after ``max_steps[g]`` steps, and it leaves the stack.
        """
        y, w = targets
        # fused Adam (one pass over each parameter per step) rounds a sparse model's wide first layer
        # differently with the batch around it (~1e-7 after 30 steps, measured); multi-tensor Adam does not
        optimizer = torch.optim.Adam(self.parameters(), lr=settings.lr, **{"foreach" if self.sparse else "fused": True})
        # scikit-learn's L2 (``alpha``): alpha / 2 * ||W||^2 per batch, divided by the model's rows. Coupled
        # to Adam's scaling, it pulls a weight with little gradient (a rare tf-idf word) firmly to zero:
        # decoupled decay (AdamW) left such weights free and lost 7 points on tf-idf (trec, 1,000 rows)
        scale = decay / w.sum(1).clamp(min=1)
        alive = list(range(self.G))  # the original model number of each row of the stack
        real = w.sum(1).long()
        auto = settings.matmul_dtype == "auto"
        bf16 = _bf16_is_faster() if auto else settings.matmul_dtype == "bfloat16"
        if valid is not None:
            valid_in, (yv, wv) = valid
            best = torch.full((self.G,), float("inf"))
            best_step = torch.zeros(self.G, dtype=torch.int64)
            best_logits = torch.zeros(self.G, yv.shape[1], int(self.out.shape[-1]))
            bad = torch.zeros(self.G, dtype=torch.int64)
        full = xv = None
        last = max(max_steps)
        for step in range(1, last + 1):
            if inputs.rows > settings.batch_size:
                index = torch.stack(
                    [torch.randperm(int(r), generator=gen)[: settings.batch_size] for r, gen in zip(real, generators)]
                )
                xb, yb, wb = inputs.take(index), y.gather(1, index), w.gather(1, index)
            else:
                full = inputs.take(None) if full is None else full
                xb, yb, wb = full, y, w
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = self.forward(xb, generators)
            loss = (_nll(logits.float(), yb) * wb).sum(1) / wb.sum(1)
            optimizer.zero_grad()
            loss.sum().backward()
            self._add_penalty(scale)
            optimizer.step()
            done: list[int] = []
            if valid is None:
                for g, model in enumerate(alive):
                    if step == max_steps[model]:
                        self.snapshot[model] = self._weights(g)
                        done.append(g)
            elif step % settings.check_every == 0 or step == last:  # the last step always counts
                xv = valid_in.take(None) if xv is None else xv
                with torch.inference_mode():
                    logits = self.forward(xv, None)
                    vloss = (_nll(logits, yv) * wv).sum(1) / wv.sum(1)
                for g, model in enumerate(alive):
                    if vloss[g] < best[model]:
                        best[model], best_step[model], best_logits[model] = vloss[g], step, logits[g]
                        bad[model] = 0
                    else:
                        bad[model] += 1
                        if bad[model] >= settings.patience:
                            done.append(g)
            if done:
                keep = [g for g in range(len(alive)) if g not in done]
                if not keep:
                    break
                optimizer = self._keep(keep, optimizer)
                alive = [alive[g] for g in keep]
                inputs, y, w, real, scale = inputs.subset(keep), y[keep], w[keep], real[keep], scale[keep]
                generators = [generators[g] for g in keep]
                full = None
                if valid is not None:
                    valid_in, yv, wv, xv = valid_in.subset(keep), yv[keep], wv[keep], None
        return (best_step, best_logits) if valid is not None else (torch.empty(0), torch.empty(0))

    def _weights(self, g: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Model g of the stack, as (weights, biases) per layer in numpy (what prediction needs)."""
        with torch.no_grad():
            if self.sparse:
                start = sum(self.dims[:g])
                first = self.first[start : start + self.dims[g]]
            else:
                first = self.first[g]
            weights = [first, *[wt[g] for wt, _ in self.hidden_layers], self.out[g]]
            biases = [self.first_bias[g], *[b[g] for _, b in self.hidden_layers], self.out_bias[g]]
            return [t.numpy().copy() for t in weights], [t.numpy().copy() for t in biases]


def _affine(bias: torch.Tensor, X: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(G, b, out) ``X @ weight + bias`` per model. One fused ``baddbmm`` in float32; under bfloat16
    autocast the product alone runs in bfloat16 and the float32 bias is added after it (``baddbmm``
    would round the bias and the sum to bfloat16 too)."""
    if torch.is_autocast_enabled("cpu"):
        return torch.bmm(X, weight) + bias[:, None]
    return torch.baddbmm(bias[:, None], X, weight)


@functools.cache
def _bf16_is_faster() -> bool:
    """Whether a bfloat16 batched product of this model's typical shape beats float32 here (timed once per
    process, best of 3): AMX makes it ~2x faster on some machines of this kind, others are slower."""
    a, b = torch.rand(8, 512, 384), torch.rand(8, 384, 256)

    def best(dtype: torch.dtype) -> float:
        x, y = a.to(dtype), b.to(dtype)
        torch.bmm(x, y)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            torch.bmm(x, y)
            times.append(time.perf_counter() - t0)
        return min(times)

    return best(torch.bfloat16) < 0.8 * best(torch.float32)


def _nll(logits: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """(G, b) cross-entropy of (G, b, classes) logits against (G, b) class codes."""
    return torch.logsumexp(logits, dim=2) - logits.gather(2, codes[:, :, None]).squeeze(2)
