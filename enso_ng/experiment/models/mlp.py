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

from enso_ng.experiment.criteria import CRITERIA, accuracy, choose
from enso_ng.experiment.models.base import (
    DEFAULT_CRITERION,
    FOLDS,
    FRACTION,
    MODELS,
    NON_NEGATIVE,
    POSITIVE,
    TargetModel,
    cv_folds,
)


@MODELS.register("mlp")
class MLP(TargetModel):
    """A small torch MLP on frozen features: one or two hidden layers, dropout, weight decay and the number
    of training steps by inner CV (``criterion`` ranks the weight decays).

    Many tiny networks are cheap only if they are not trained one after another. ``fit_many`` (the runner
    passes every split seed of one size) trains, as one stacked network, every (cell, inner fold, weight
    decay) model, each on its own fold's rows only (gathered, not masked, so no row is computed for a model
    that does not use it); every ``check_every`` steps each model's validation loss is measured, and a
    model stops improving after ``patience`` checks without a better one (its best checkpoint's validation
    scores rank the weight decays). Then one batched refit per cell on all its rows, at the chosen weight
    decay, for the mean over folds of that decay's best step count. Each cell draws its initial weights and
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
    param_choices = {"matmul_dtype": ("auto", "bfloat16", "float32")}
    param_ranges = {
        **dict.fromkeys(("hidden", "layers", "steps", "batch_size", "lr", "check_every", "patience"), POSITIVE),
        "dropout": FRACTION,
        "weight_decays": NON_NEGATIVE,
        "cv": FOLDS,
    }

    def __init__(
        self,
        hidden: int = 128,
        layers: int = 1,
        dropout: float = 0.2,
        weight_decays: Sequence[float] = (1e-1, 1e-2),
        steps: int = 200,
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
        #: takes bfloat16 where a timed product shows it faster here (DESIGN.md: measure, never flags).
        #: Not the default: with ``auto`` the dtype, and so the results, would depend on a timing
        self.matmul_dtype = matmul_dtype
        self.criterion = criterion
        self.hidden = hidden
        self.layers = layers
        self.dropout = dropout
        self.weight_decays = weight_decays
        #: the most steps a fold model trains (and the refit's, where no inner CV is possible)
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.cv = cv
        self.check_every = check_every
        self.patience = patience
        self.random_state = random_state

    def fit(self, X: Any, y: np.ndarray) -> MLP:
        return self.fit_many([self], [X], [y])[0]

    def _settings(self) -> tuple:
        return (
            self.hidden,
            self.layers,
            self.dropout,
            tuple(float(w) for w in self.weight_decays),
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
    chosen_decay, chosen_steps = [decays[0]] * len(cells), [settings.steps] * len(cells)
    records: list[dict[str, Any]] = [{"cv_folds": 0}] * len(cells)
    if k:
        # fold sizes differ by at most one: pad each fold's rows to a length set by (n, k) alone, so a
        # cell's tensors are the same whichever cells share its batch
        train_rows, valid_rows = n - n // k, -(-n // k)
        generators = [torch.Generator().manual_seed(c.model.random_state) for c in cells for _ in c.folds]
        fold_parts = [(c, train, valid) for c in cells for train, valid in c.folds]
        train_in = _Inputs.build([(c.X, t, t) for c, t, _ in fold_parts], train_rows)
        valid_in = _Inputs.build([(c.X, t, v) for c, t, v in fold_parts], valid_rows, like=train_in)
        net = _StackedMLP(train_in, settings, K, len(decays), generators)
        y_valid = _padded([c.codes[v] for c, _, v in fold_parts], valid_rows)
        best_steps, best_logits = net.train(
            train_in,
            _padded([c.codes[t] for c, t, _ in fold_parts], train_rows),
            torch.tensor([decays] * len(fold_parts)),
            settings,
            generators,
            max_steps=[settings.steps] * len(fold_parts),
            valid=(valid_in, y_valid),
        )
        fold_score = CRITERIA.get(settings.criterion).fold_score
        labels = [f"{d:g}" for d in decays]
        for i, cell in enumerate(cells):
            values, accuracies = np.zeros((len(decays), k)), np.zeros((len(decays), k))
            for f, (_, valid) in enumerate(cell.folds):
                g = i * k + f
                truth, ones = cell.codes[valid][None], np.ones((1, len(valid)))
                for p in range(len(decays)):
                    scores = best_logits[g, : len(valid), p].double().numpy()[None]
                    values[p, f] = fold_score(scores, truth, ones, "logits")[0]
                    accuracies[p, f] = accuracy(scores, truth, ones, "logits")[0]
            chosen = choose(settings.criterion, values, accuracies, labels)
            chosen_decay[i] = decays[chosen.index]
            # at least one step: with no finite validation loss no fold records a best step
            chosen_steps[i] = max(1, int(round(float(best_steps[i * k : (i + 1) * k, chosen.index].float().mean()))))
            records[i] = chosen.record
    everything = np.arange(n)
    generators = [torch.Generator().manual_seed(c.model.random_state + 1) for c in cells]
    full_in = _Inputs.build([(c.X, everything, everything) for c in cells], n)
    net = _StackedMLP(full_in, settings, K, 1, generators)
    net.train(
        full_in,
        _padded([c.codes for c in cells], n),
        torch.tensor(chosen_decay)[:, None],
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


def _padded(codes: list[np.ndarray], rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(G, rows) class codes and row weights (1 for a real row, 0 for padding)."""
    y, w = torch.zeros(len(codes), rows, dtype=torch.int64), torch.zeros(len(codes), rows)
    for g, c in enumerate(codes):
        y[g, : len(c)] = torch.as_tensor(c)
        w[g, : len(c)] = 1
    return y, w


@dataclass
class _Inputs:
    """The rows of G groups (a group: the models that train on the same rows), each padded to ``rows``:
    a (G, rows, d) tensor for dense features, a block-diagonal CSR matrix over each group's own columns
    for sparse ones (group g's rows use only columns ``offsets[g]:offsets[g + 1]`` of the stacked first
    layer)."""

    dense: torch.Tensor | None
    blocks: list[sp.csr_matrix] | None
    columns: list[np.ndarray | None]
    rows: int

    @classmethod
    def build(cls, parts: list[tuple[Any, np.ndarray, np.ndarray]], rows: int, like: _Inputs | None = None) -> _Inputs:
        """``parts``: (cell features, the rows whose columns the group keeps, the rows it holds)."""
        if not sp.issparse(parts[0][0]):
            dense = torch.zeros(len(parts), rows, parts[0][0].shape[1])
            for g, (X, _, held) in enumerate(parts):
                dense[g, : len(held)] = torch.from_numpy(X[held])
            return cls(dense, None, [None] * len(parts), rows)
        blocks, columns = [], []
        for g, (X, kept, held) in enumerate(parts):
            cols = like.columns[g] if like is not None else np.unique(X[kept].indices)
            block = X[held][:, cols].tocsr()
            block.resize((rows, len(cols)))  # empty padding rows
            blocks.append(block)
            columns.append(cols)
        return cls(None, blocks, columns, rows)

    @property
    def dims(self) -> list[int]:
        """Each group's first-layer rows (its columns, where sparse)."""
        if self.dense is not None:
            return [self.dense.shape[2]] * self.dense.shape[0]
        return [b.shape[1] for b in self.blocks]

    def take(self, index: torch.Tensor | None) -> torch.Tensor | _SparseRows:
        """The (G, b) rows ``index`` of each group (all rows for None), as a tensor the first layer takes."""
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
    """The block-diagonal rows of the groups (as CSR bags) and their transpose.

    The first layer is a weighted sum of weight rows per input row (``embedding_bag``), and its gradient
    the same sum over the transpose: each output row and each weight row's gradient then sums only its
    own terms, in order, so a group's numbers do not depend on which groups share its batch (the built-in
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


#: a group's dropout masks are drawn from a pool of this many times its rows (see ``_StackedMLP._drop``)
DROPOUT_POOL = 4


class _StackedMLP:
    """G groups x P models, stored as stacked tensors so one matmul serves them all.

    Dense: the first layer is (G, d, P*h), one batched matmul of each group's rows with its P models'
    weights side by side. Sparse: it is (sum of the groups' column counts, P*h), multiplied by the
    block-diagonal matrix of the groups' rows. Later layers are batched with einsum over (group, model).
    """

    def __init__(self, inputs: _Inputs, settings: MLP, n_out: int, P: int, generators: list[torch.Generator]) -> None:
        dims, h = inputs.dims, settings.hidden
        self.G, self.P, self.h, self.dropout = len(dims), P, h, settings.dropout

        def uniform(shape: tuple, fan_in: int, g: int) -> torch.Tensor:
            bound = 1.0 / np.sqrt(max(fan_in, 1))
            return (torch.rand(shape, generator=generators[g]) * 2 - 1) * bound

        # every group draws its own weights from its cell's generator, in a fixed order
        first, first_bias, hidden, out, out_bias = [], [], [], [], []
        for g, d in enumerate(dims):
            first.append(uniform((d, P * h), d, g))
            first_bias.append(uniform((P, h), d, g))
            hidden.append([(uniform((P, h, h), h, g), uniform((P, h), h, g)) for _ in range(settings.layers - 1)])
            out.append(uniform((P, h, n_out), h, g))
            out_bias.append(uniform((P, n_out), h, g))
        self.dims = dims
        self.sparse = inputs.dense is None
        self.row_group = torch.repeat_interleave(torch.arange(self.G), torch.as_tensor(dims))
        self.first = (torch.stack(first) if inputs.dense is not None else torch.cat(first)).requires_grad_()
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

    def forward(self, X: torch.Tensor | _SparseRows, generators: list[torch.Generator] | None) -> torch.Tensor:
        """(G, b, P, classes) logits; dropout masks from each group's generator when training."""
        G, P, h = self.G, self.P, self.h
        if isinstance(X, _SparseRows):
            z = _SparseProduct.apply(self.first, X).view(G, -1, P, h)
        else:
            z = torch.bmm(X, self.first).view(G, X.shape[1], P, h)
        z = self._drop(torch.relu(z + self.first_bias[:, None]), generators)
        for weight, bias in self.hidden_layers:
            z = self._drop(torch.relu(torch.einsum("gbph,gphk->gbpk", z, weight) + bias[:, None]), generators)
        return torch.einsum("gbph,gphc->gbpc", z, self.out) + self.out_bias[:, None]

    def _drop(self, z: torch.Tensor, generators: list[torch.Generator] | None) -> torch.Tensor:
        """Inverted dropout, one mask per (row, unit) shared by a group's models: common random numbers,
        so the weight decays compared by inner CV see the same noise.

        Each row's mask is a random row of the group's pool of masks (``DROPOUT_POOL`` x the rows; drawn
        once per training run): one step's masks for 15 groups x 667 rows x 128 units took 7.4 ms as fresh
        random numbers and 0.6 ms from the pool (measured), more than the products cost on glove.
        """
        if generators is None or self.dropout == 0:
            return z
        b = z.shape[1]
        if self._pool is None:
            self._pool = torch.stack(
                [torch.rand((DROPOUT_POOL * b, 1, self.h), generator=gen) >= self.dropout for gen in generators]
            ).to(z.dtype) / (1 - self.dropout)
        size = self._pool.shape[1]
        index = torch.stack([torch.randint(size, (b,), generator=gen) for gen in generators])
        index += torch.arange(self.G)[:, None] * size
        return z * self._pool.view(self.G * size, 1, self.h).index_select(0, index.view(-1)).view(self.G, b, 1, self.h)

    def _squares(self) -> torch.Tensor:
        """(G, P): each model's sum of squared weights (not biases), what its L2 penalty multiplies."""
        if self.first.dim() == 3:
            first = self.first.view(self.G, -1, self.P, self.h).pow(2).sum((1, 3))
        else:
            per_row = self.first.view(-1, self.P, self.h).pow(2).sum(2)
            first = torch.zeros(self.G, self.P).index_add(0, self.row_group, per_row)
        rest = sum((w.pow(2).sum((2, 3)) for w, _ in self.hidden_layers), torch.zeros(self.G, self.P))
        return first + rest + self.out.pow(2).sum((2, 3))

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
        loss has not improved for ``patience`` checks is done (it may go on training with the others, but
        its record is closed), and training ends when all are. Returns each model's best step (G, P) and
        its validation logits there (G, rows, P, classes). Without ``valid``, group g's weights are kept in
        ``snapshot[g]`` after ``max_steps[g]`` steps.
        """
        y, w = targets
        # fused Adam (one pass over each parameter per step) rounds a sparse group's wide first layer
        # differently with the batch around it (~1e-7 after 30 steps, measured); multi-tensor Adam does not
        optimizer = torch.optim.Adam(self.parameters(), lr=settings.lr, **{"foreach" if self.sparse else "fused": True})
        # scikit-learn's L2 (``alpha``): alpha / 2 * ||W||^2 per batch, divided by the batch's rows. Coupled
        # to Adam's scaling, it pulls a weight with little gradient (a rare tf-idf word) firmly to zero:
        # decoupled decay (AdamW) left such weights free and lost 7 points on tf-idf (trec, 1,000 rows)
        penalty = 0.5 * decay / w.sum(1, keepdim=True).clamp(min=1)
        real = w.sum(1).long()
        full = inputs.take(None) if inputs.rows <= settings.batch_size else None
        auto = settings.matmul_dtype == "auto"
        bf16 = _bf16_is_faster() if auto else settings.matmul_dtype == "bfloat16"
        if valid is not None:
            xv, (yv, wv) = valid[0].take(None), valid[1]
            best = torch.full((self.G, self.P), float("inf"))
            best_step = torch.zeros(self.G, self.P, dtype=torch.int64)
            best_logits = torch.zeros(self.G, yv.shape[1], self.P, int(self.out.shape[-1]))
            bad = torch.zeros(self.G, self.P, dtype=torch.int64)
            active = torch.ones(self.G, self.P, dtype=torch.bool)
        for step in range(1, max(max_steps) + 1):
            if full is None:
                index = torch.stack(
                    [torch.randperm(int(r), generator=gen)[: settings.batch_size] for r, gen in zip(real, generators)]
                )
                xb, yb, wb = inputs.take(index), y.gather(1, index), w.gather(1, index)
            else:
                xb, yb, wb = full, y, w
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = self.forward(xb, generators)
            loss = (_nll(logits.float(), yb) * wb[:, :, None]).sum(1) / wb.sum(1)[:, None]
            optimizer.zero_grad()
            (loss.sum() + (penalty * self._squares()).sum()).backward()
            optimizer.step()
            if valid is None:
                for g in range(self.G):
                    if step == max_steps[g]:
                        self.snapshot[g] = self._weights(g)
            elif step % settings.check_every == 0 or step == max(max_steps):  # the last step always counts
                with torch.inference_mode():
                    logits = self.forward(xv, None)
                    vloss = (_nll(logits, yv) * wv[:, :, None]).sum(1) / wv.sum(1)[:, None]
                improved = active & (vloss < best)
                best = torch.where(improved, vloss, best)
                best_step = torch.where(improved, step, best_step)
                best_logits = torch.where(improved[:, None, :, None], logits, best_logits)
                bad = torch.where(improved, 0, bad + active.long())
                active &= bad < settings.patience
                if not active.any():
                    break
        return (best_step, best_logits) if valid is not None else (torch.empty(0), torch.empty(0))

    def _weights(self, g: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Group g's first model, as (weights, biases) per layer in numpy (what prediction needs)."""
        with torch.no_grad():
            if self.first.dim() == 3:
                first = self.first[g, :, : self.h]
            else:
                start = sum(self.dims[:g])
                first = self.first[start : start + self.dims[g], : self.h]
            weights = [first, *[wt[g, 0] for wt, _ in self.hidden_layers], self.out[g, 0]]
            biases = [self.first_bias[g, 0], *[b[g, 0] for _, b in self.hidden_layers], self.out_bias[g, 0]]
            return [t.numpy().copy() for t in weights], [t.numpy().copy() for t in biases]


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
    """(G, b, P) cross-entropy of (G, b, P, classes) logits against (G, b) class codes."""
    picked = logits.gather(3, codes[:, :, None, None].expand(-1, -1, logits.shape[2], 1)).squeeze(3)
    return torch.logsumexp(logits, dim=3) - picked
