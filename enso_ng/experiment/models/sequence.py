"""Sequence heads over stored token vectors: what they share, and ``attention``.

Mean pooling forgets word order and weighs every token alike. A sequence head reads each text's token
vectors (a ``pooling=none`` features file, :class:`~enso_ng.formats.TokenVectors`) and learns which to
weigh. Like ``mlp``, every inner-CV candidate is trained at once: each (weight decay, fold) model and the
final model of each weight decay are slices of one stacked network, each seeing only its rows through a
loss mask, so a cell costs one optimisation run, not (folds + 1) x candidates.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from enso_ng.device import device
from enso_ng.experiment.models.base import DEFAULT_CRITERION, MODELS, STORED, StackedCV, TargetModel
from enso_ng.formats import TOKEN_VECTORS, TokenVectors

#: texts per forward pass when predicting (memory stays flat in the number of texts)
PREDICT_ROWS = 256


def padded(X: TokenVectors, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(texts, longest, dim) float32 and its mask of real tokens, on ``dev``."""
    if not isinstance(X, TokenVectors):
        raise TypeError("sequence models take token vectors (a features file written with -o pooling=none)")
    values, mask = X.padded()
    return torch.as_tensor(values, device=dev), torch.as_tensor(mask, device=dev)


def masked_attention(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax of (batch, models, tokens) scores over each text's real tokens only: padding gets weight 0."""
    return torch.softmax(scores.masked_fill(~mask[:, None, :], float("-inf")), dim=2)


class StackedHead(torch.nn.Module):
    """M independent sequence models in stacked tensors; ``forward`` gives (batch, M, classes) logits."""

    models: int

    @abstractmethod
    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def decayed(self) -> list[tuple[torch.Tensor, int]]:
        """(weight, model axis of its view) pairs that weight decay applies to; biases are not decayed."""

    @abstractmethod
    def select(self, m: int) -> StackedHead:
        """Model ``m`` alone, as a one-model head (what a fitted model keeps)."""

    def after_step(self) -> None:
        """Restore what an optimiser step may not change (a structural zero)."""


def uniform(shape: tuple[int, ...], bound: float, generator: torch.Generator) -> torch.nn.Parameter:
    return torch.nn.Parameter((torch.rand(shape, generator=generator) * 2 - 1) * bound)


class SequenceModel(TargetModel):
    """Shared by the sequence heads: stacked training of the inner-CV candidates, batching over padded
    texts with masks, seeded and deterministic on the CPU (on CUDA as far as its kernels are)."""

    pairs = ""  # not on sentence pairs yet

    layouts: ClassVar[dict[str, str]] = {TOKEN_VECTORS: STORED}

    weight_decays: Sequence[float]
    steps: int
    batch_size: int
    lr: float
    cv: int
    criterion: str
    random_state: int
    score_kind: ClassVar[str] = "logits"

    @abstractmethod
    def _head(self, dim: int, classes: int, models: int, generator: torch.Generator) -> StackedHead: ...

    def _described(self) -> dict[str, Any]:
        """Fixed settings recorded with the chosen weight decay."""
        return {}

    def fit(self, X: TokenVectors, y: np.ndarray) -> SequenceModel:
        self.classes_, codes = np.unique(y, return_inverse=True)
        stack = StackedCV.plan(codes, self.weight_decays, self.cv, self.random_state)
        dev = device()
        head = self._head(
            X.dim, len(self.classes_), len(stack.values), torch.Generator().manual_seed(self.random_state)
        )
        head.to(dev)
        values, token_mask = padded(X, dev)
        self._train(
            head,
            values,
            token_mask,
            torch.as_tensor(codes, device=dev),
            torch.as_tensor(stack.masks, device=dev),
            torch.as_tensor(stack.values, dtype=torch.float32, device=dev),
            torch.Generator().manual_seed(self.random_state + 1),
        )
        logits = _logits(head, values, token_mask) if stack.folds else None  # (n, M, C)
        kept, wd, record = stack.choose(logits, codes, self.criterion)
        self.head_ = head.select(kept).cpu()
        self.best_params_ = {"weight_decay": wd, **self._described(), **record}
        return self

    def _train(
        self,
        head: StackedHead,
        values: torch.Tensor,
        token_mask: torch.Tensor,
        y: torch.Tensor,
        masks: torch.Tensor,
        decay: torch.Tensor,
        generator: torch.Generator,
    ) -> None:
        """Adam on the sum of each model's masked mean cross-entropy, for a fixed number of steps, with
        decoupled per-model weight decay. Full batch up to ``batch_size`` texts, seeded minibatches above;
        each batch is cut to its longest text, so padding costs only within a batch."""
        optimizer = torch.optim.Adam(head.parameters(), lr=self.lr)
        n, M = values.shape[0], head.models
        head.train()
        for _ in range(self.steps):
            if n > self.batch_size:
                idx = torch.randperm(n, generator=generator)[: self.batch_size].to(values.device)
                xb, tb, yb, mb = values[idx], token_mask[idx], y[idx], masks[:, idx]
                longest = int(tb.sum(1).max())
                xb, tb = xb[:, :longest], tb[:, :longest]
            else:
                xb, tb, yb, mb = values, token_mask, y, masks
            logits = head(xb, tb)  # (b, M, C)
            nll = -torch.log_softmax(logits, dim=2).gather(2, yb.view(-1, 1, 1).expand(-1, M, 1)).squeeze(2)
            loss = ((nll * mb.T).sum(0) / mb.sum(1).clamp(min=1)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                for weight, axis in head.decayed():
                    shape = [1] * weight.dim()
                    shape[axis] = M
                    weight.mul_(1 - self.lr * decay.view(shape))
            head.after_step()
        head.eval()

    def predict_proba(self, X: TokenVectors) -> np.ndarray:
        out = []
        for start in range(0, len(X), PREDICT_ROWS):
            values, mask = padded(X[start : start + PREDICT_ROWS], torch.device("cpu"))
            out.append(torch.softmax(_logits(self.head_, values, mask)[:, 0], dim=1).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)))


def _logits(head: StackedHead, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(n, M, C) logits on the CPU, computed in blocks of texts."""
    with torch.inference_mode():
        parts = [
            head(values[s : s + PREDICT_ROWS], mask[s : s + PREDICT_ROWS]).float().cpu()
            for s in range(0, values.shape[0], PREDICT_ROWS)
        ]
    return torch.cat(parts)


class _AttentionHead(StackedHead):
    """Per model: a query vector scores each token, a masked softmax weighs them, and the weighted sum of
    token vectors feeds a linear softmax classifier."""

    def __init__(self, dim: int, classes: int, models: int, generator: torch.Generator) -> None:
        super().__init__()
        self.models = models
        bound = 1.0 / np.sqrt(dim)
        self.query = uniform((models, dim), bound, generator)
        self.out = uniform((models, dim, classes), bound, generator)
        self.out_bias = uniform((models, classes), bound, generator)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weights = masked_attention((x @ self.query.T).transpose(1, 2), mask)  # (b, M, t)
        pooled = torch.bmm(weights, x)  # (b, M, d)
        return torch.bmm(pooled.transpose(0, 1), self.out).transpose(0, 1) + self.out_bias

    def decayed(self) -> list[tuple[torch.Tensor, int]]:
        return [(self.query, 0), (self.out, 0)]

    def select(self, m: int) -> _AttentionHead:
        single = _AttentionHead.__new__(_AttentionHead)
        torch.nn.Module.__init__(single)
        single.models = 1
        with torch.no_grad():
            single.query = torch.nn.Parameter(self.query[m : m + 1].detach().clone())
            single.out = torch.nn.Parameter(self.out[m : m + 1].detach().clone())
            single.out_bias = torch.nn.Parameter(self.out_bias[m : m + 1].detach().clone())
        return single


@MODELS.register("attention")
class Attention(SequenceModel):
    """``attention``: a learned query pools each text's token vectors (masked softmax), then a linear
    softmax classifier; weight decay by inner CV. Needs a ``pooling=none`` features file."""

    def __init__(
        self,
        weight_decays: Sequence[float] = (1e-1, 1e-2),
        steps: int = 300,
        batch_size: int = 256,
        lr: float = 1e-2,
        cv: int = 3,
        criterion: str = DEFAULT_CRITERION,
        random_state: int = 0,
    ) -> None:
        self.weight_decays = weight_decays
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.cv = cv
        self.criterion = criterion
        self.random_state = random_state

    def _head(self, dim: int, classes: int, models: int, generator: torch.Generator) -> StackedHead:
        return _AttentionHead(dim, classes, models, generator)


class _BiLSTMHead(StackedHead):
    """Per model: a one-layer BiLSTM of ``hidden`` units each way, attention pooling over its outputs
    (masked softmax), dropout, and a linear softmax classifier.

    The M models share one ``torch.nn.LSTM`` of M x hidden units whose recurrent weights are kept
    block-diagonal (zeroed off the blocks at the start and after every step), so each model's units see
    only their own state: M independent LSTMs in one fused kernel. Texts are packed by length, so the
    backward direction starts at each text's last real token and padding never enters the state.
    """

    def __init__(
        self, dim: int, hidden: int, classes: int, models: int, dropout: float, generator: torch.Generator
    ) -> None:
        super().__init__()
        self.models, self.hidden, self.dropout, self.generator = models, hidden, dropout, generator
        self.lstm = torch.nn.LSTM(dim, models * hidden, batch_first=True, bidirectional=True)
        bound = 1.0 / np.sqrt(hidden)
        with torch.no_grad():
            for param in self.lstm.parameters():
                param.copy_((torch.rand(param.shape, generator=generator) * 2 - 1) * bound)
        self.register_buffer("block", torch.block_diag(*[torch.ones(hidden, hidden)] * models).repeat(4, 1))
        self.keep_blocks()
        self.query = uniform((models, 2 * hidden), 1.0 / np.sqrt(2 * hidden), generator)
        self.out = uniform((models, 2 * hidden, classes), 1.0 / np.sqrt(2 * hidden), generator)
        self.out_bias = uniform((models, classes), 1.0 / np.sqrt(2 * hidden), generator)

    def recurrent(self) -> list[torch.Tensor]:
        return [self.lstm.weight_hh_l0, self.lstm.weight_hh_l0_reverse]

    def after_step(self) -> None:
        self.keep_blocks()

    def keep_blocks(self) -> None:
        with torch.no_grad():
            for weight in self.recurrent():
                weight.mul_(self.block)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(1).cpu()
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        states, _ = self.lstm(packed)
        states, _ = torch.nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=x.shape[1])
        b, t = states.shape[:2]  # (b, t, 2 directions x M x hidden) -> (b, t, M, 2 x hidden)
        states = states.view(b, t, 2, self.models, self.hidden).permute(0, 1, 3, 2, 4).reshape(b, t, self.models, -1)
        weights = masked_attention(torch.einsum("btmk,mk->bmt", states, self.query), mask)
        pooled = torch.einsum("bmt,btmk->bmk", weights, states)
        if self.training and self.dropout > 0:  # one mask per (text, unit), shared by the stacked models
            keep = torch.rand((b, 1, pooled.shape[2]), generator=self.generator) >= self.dropout
            pooled = pooled * keep.to(pooled.device, pooled.dtype) / (1 - self.dropout)
        return torch.einsum("bmk,mkc->bmc", pooled, self.out) + self.out_bias

    def decayed(self) -> list[tuple[torch.Tensor, int]]:
        lstm = [
            w.view(4, self.models, self.hidden, -1) for w in (self.lstm.weight_ih_l0, self.lstm.weight_ih_l0_reverse)
        ]
        recurrent = [w.view(4, self.models, self.hidden, -1) for w in self.recurrent()]
        return [*((w, 1) for w in lstm + recurrent), (self.query, 0), (self.out, 0)]

    def select(self, m: int) -> _BiLSTMHead:
        h, M = self.hidden, self.models
        single = _BiLSTMHead(self.lstm.input_size, h, self.out.shape[2], 1, 0.0, torch.Generator())
        single.generator = None  # predicting draws no dropout, and a fitted model pickles without it
        with torch.no_grad():
            for name, param in self.lstm.named_parameters():
                rows = param.view(4, M, h, -1)[:, m]  # this model's rows of each gate
                if name.startswith("weight_hh"):
                    rows = rows[:, :, m * h : (m + 1) * h]  # and only its own state's columns
                getattr(single.lstm, name).copy_(rows.reshape(getattr(single.lstm, name).shape))
            single.query.copy_(self.query[m : m + 1])
            single.out.copy_(self.out[m : m + 1])
            single.out_bias.copy_(self.out_bias[m : m + 1])
        return single


@MODELS.register("bilstm")
class BiLSTM(SequenceModel):
    """``bilstm``: a one-layer bidirectional LSTM (``hidden`` units each way) over the token vectors,
    attention pooling, dropout and a linear softmax head; weight decay by inner CV; a fixed budget of
    ``steps`` Adam steps on minibatches of ``batch_size`` texts. Needs a ``pooling=none`` features file."""

    def __init__(
        self,
        hidden: int = 32,
        dropout: float = 0.2,
        weight_decays: Sequence[float] = (1e-1, 1e-2),
        steps: int = 200,
        batch_size: int = 64,
        lr: float = 5e-3,
        cv: int = 3,
        criterion: str = DEFAULT_CRITERION,
        random_state: int = 0,
    ) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.weight_decays = weight_decays
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.cv = cv
        self.criterion = criterion
        self.random_state = random_state

    def _head(self, dim: int, classes: int, models: int, generator: torch.Generator) -> StackedHead:
        return _BiLSTMHead(dim, self.hidden, classes, models, self.dropout, generator)

    def _described(self) -> dict[str, Any]:
        return {"hidden": self.hidden, "steps": self.steps}
