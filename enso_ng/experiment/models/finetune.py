"""``finetune``: the encoder itself trained end to end with a classification head.

The strategy a practitioner weighs against frozen features. It reads a ``bert_tokens`` features file
(token ids; the file names the encoder and its weights' sha256) and starts from exactly those weights.

Schedule (one rule for every size, so the learning curve is one protocol): batches of ``batch_size``,
``epochs = clip(ceil(epoch_budget / n), min_epochs, max_epochs)`` passes (small sets get more passes, as
few-sample fine-tuning needs), AdamW with decoupled weight decay, the encoder at ``lr`` and the freshly
initialised head at ``head_lr``, linear warm-up over the first ``warmup`` of the steps then linear decay to
zero. Model selection: a stratified ``valid_fraction`` of the training subset (never the test rows) is held
out, the model is scored on it after every epoch and the best epoch's weights are kept; where a class has
fewer than two examples no fold exists and the last epoch is kept. Mean pooling over the text's tokens,
as the frozen ``bert`` features are pooled. Seeded (head, dropout, batch order); CUDA with bf16 autocast
where present, the CPU otherwise (``precision="bf16"`` turns autocast on for the CPU too, where the CPU is
faster at it: measure with ``benchmarks/finetune.py``).

Recipe (issue 32: a fine-tune that starts from the encoder can keep what the linear probe on its own
features knows). With ``lp`` (default) the head is not started at random: it is fitted first as the
project's own logreg (the same inner-CV choice of C as frozen features + logreg) on the frozen encoder's
pooled vectors of the training rows, then loaded into the head, so before the first step the model
predicts as that probe does, and early steps no longer push a random head's noise into the encoder
("LP-FT", Kumar et al. 2022). ``layer_decay`` below 1 gives each encoder layer the rate of the layer above
it times the factor (the embeddings the lowest), ULMFiT's discriminative rates; ``unfreeze`` trains only
the top layer in the first epoch and one more layer each epoch after (embeddings last), ULMFiT's gradual
unfreezing. ``valid_fraction`` 0 (default) trains on every label and keeps the last epoch: holding out a
fifth of 50 rows to pick an epoch cost more than the choice gave (README, "Fine-tuning recipe").

Speed: the cost of a step is the number of (padded) tokens it pushes through the encoder, so batches are
drawn by length: each epoch shuffles the rows, cuts them into pools of ``length_pool`` batches, sorts each
pool by length and cuts it into batches, then shuffles the batches. Every row is still seen once per epoch
in a seeded random order of batches, but a batch of short texts is no longer padded to one long text: on
SST-2 sentences this halves the tokens per epoch (``length_pool=1`` gives plain random batches).
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch

from enso_ng.device import device
from enso_ng.encoders import DEFAULT_MODEL, quiet_transformers, verified_folder
from enso_ng.errors import EnsoError
from enso_ng.experiment.models.base import MODELS, EncoderModel, cv_folds
from enso_ng.experiment.pairs import CROSS
from enso_ng.params import FRACTION, NON_NEGATIVE, POSITIVE, Interval, Param

#: the training precisions: ``auto`` autocasts to bfloat16 on CUDA only
PRECISIONS = ("auto", "fp32", "bf16")
DECAY = Interval(0, 1, low_open=True, text="above 0 and at most 1")
#: a class the training rows lack (possible with a hold-out) starts this far (in logits) below the others
LOG_ABSENT = 10.0


class _Classifier(torch.nn.Module):
    """Encoder, mean pooling over real tokens, dropout, linear head."""

    def __init__(self, encoder: torch.nn.Module, classes: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(int(encoder.config.hidden_size), classes)

    def pooled(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.encoder(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.dropout(self.pooled(ids, mask, types)))

    def layers(self) -> list[list[torch.nn.Parameter]]:
        """The encoder's parameters bottom to top: the embeddings, then each transformer layer; anything
        else the encoder holds (a pooler mean pooling does not use) goes with the top layer."""
        stack = getattr(getattr(self.encoder, "encoder", None), "layer", None)
        embeddings = getattr(self.encoder, "embeddings", None)
        if stack is None or embeddings is None:
            raise EnsoError(
                f"finetune: layer_decay and unfreeze need an encoder with embeddings and a layer stack, "
                f"not {type(self.encoder).__name__}"
            )
        groups = [list(embeddings.parameters())] + [list(layer.parameters()) for layer in stack]
        seen = {id(p) for group in groups for p in group}
        groups[-1] += [p for p in self.encoder.parameters() if id(p) not in seen]
        return groups


@MODELS.register("finetune")
class FineTune(EncoderModel):
    strategy = "fine-tuned"
    #: a pair dataset's ``bert_tokens`` file holds each pair cross-encoded ([CLS] a [SEP] b [SEP]); the second
    #: text's tokens get token type 1, as the tokenizer gives them
    pairs = CROSS
    param_spec = {
        "lr": Param(help="the encoder's learning rate", interval=POSITIVE),
        "head_lr": Param(help="the classification head's learning rate", interval=POSITIVE),
        "weight_decay": Param(help="AdamW weight decay", interval=NON_NEGATIVE),
        "epoch_budget": Param(help="epochs x rows to aim for (small subsets get more epochs)", interval=POSITIVE),
        "min_epochs": Param(help="epochs at least", interval=POSITIVE),
        "max_epochs": Param(help="epochs at most", interval=POSITIVE),
        "warmup": Param(help="fraction of steps with a rising learning rate", interval=FRACTION),
        "valid_fraction": Param(help="training rows held out to choose the best epoch", interval=FRACTION),
        "length_pool": Param(help="batches sorted by length together", interval=POSITIVE),
        "precision": Param(help="training precision (auto: bf16 where it is faster here)", choices=PRECISIONS),
        "lp": Param(help="fit the head first as logreg on the frozen encoder's pooled vectors (LP-FT)"),
        "layer_decay": Param(help="each layer's rate is the one above it times this (1: one rate)", interval=DECAY),
        "unfreeze": Param(help="train the top layer first and one more layer each epoch (gradual unfreezing)"),
    }

    def __init__(
        self,
        encoder: str = DEFAULT_MODEL,
        encoder_sha256: str = "",
        lr: float = 5e-5,
        head_lr: float = 1e-3,
        weight_decay: float = 0.01,
        batch_size: int = 16,
        epoch_budget: int = 500,
        min_epochs: int = 3,
        max_epochs: int = 10,
        warmup: float = 0.1,
        dropout: float = 0.1,
        valid_fraction: float = 0.0,
        length_pool: int = 8,
        precision: str = "auto",
        lp: bool = True,
        layer_decay: float = 1.0,
        unfreeze: bool = False,
        random_state: int = 0,
    ) -> None:
        self.encoder = encoder
        self.encoder_sha256 = encoder_sha256
        self.lr = lr
        self.head_lr = head_lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epoch_budget = epoch_budget
        self.min_epochs = min_epochs
        self.max_epochs = max_epochs
        self.warmup = warmup
        self.dropout = dropout
        self.valid_fraction = valid_fraction
        self.length_pool = length_pool
        self.precision = precision
        self.lp = lp
        self.layer_decay = layer_decay
        self.unfreeze = unfreeze
        self.random_state = random_state

    def epochs(self, n: int) -> int:
        return int(min(self.max_epochs, max(self.min_epochs, math.ceil(self.epoch_budget / max(n, 1)))))

    def _load(self, classes: int) -> _Classifier:
        from transformers import AutoModel

        folder = verified_folder(self.encoder, self.encoder_sha256, "finetune")
        quiet_transformers()
        torch.manual_seed(self.random_state)  # the head's initial weights
        return _Classifier(AutoModel.from_pretrained(str(folder), use_safetensors=True), classes, self.dropout).to(device())

    def fit(self, X: Any, y: np.ndarray) -> FineTune:
        started = time.perf_counter()
        self.classes_, codes = np.unique(y, return_inverse=True)
        X = np.asarray(X)
        lengths = (X >= 0).sum(1)
        train, valid = self._holdout(codes)
        net = self._load(len(self.classes_))
        probe = self._fit_probe(net, X[train], codes[train]) if self.lp else {}
        epochs = self.epochs(len(train))
        per_epoch = math.ceil(len(train) / self.batch_size)
        optimizer, schedule = self._optimizer(net, epochs * per_epoch)
        generator = torch.Generator().manual_seed(self.random_state + 1)
        best, best_score, best_epoch, losses = None, -1.0, epochs, []
        layers = net.layers() if self.unfreeze else []
        for epoch in range(1, epochs + 1):
            for depth, params in enumerate(reversed(layers)):  # top layer first, one more each epoch
                for param in params:
                    param.requires_grad_(depth < epoch)
            net.train()
            torch.manual_seed(self.random_state + 1000 * epoch)  # dropout masks
            for rows in self._batches(train, lengths, generator):
                ids, mask = _batch(X[rows])
                with self._autocast():
                    logits = net(ids, mask, _types(net, ids, mask))
                    loss = torch.nn.functional.cross_entropy(logits.float(), _codes(codes[rows]))
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                losses.append(loss.item())
            if len(valid):
                score = float((self._scores(net, X[valid]).argmax(1) == codes[valid]).mean())
                if score > best_score:
                    best, best_score, best_epoch = copy.deepcopy(net.state_dict()), score, epoch
        if best is not None:
            net.load_state_dict(best)
        self.net_ = net.eval()
        self.best_params_ = {
            "epochs": epochs,
            "best_epoch": best_epoch,
            "steps": epochs * per_epoch,
            "train_loss": round(float(np.mean(losses[-per_epoch:])), 6),
            "first_loss": round(float(np.mean(losses[:per_epoch])), 6),
            "valid_rows": int(len(valid)),
            "valid_accuracy": round(best_score, 6) if len(valid) else None,
            **probe,
            "train_seconds": round(time.perf_counter() - started, 3),
        }
        return self

    @torch.no_grad()
    def _fit_probe(self, net: _Classifier, X: np.ndarray, codes: np.ndarray) -> dict[str, Any]:
        """LP-FT's first half: the head becomes logreg (inner-CV C) fitted on the frozen encoder's pooled
        vectors of the training rows, so the fine-tune starts where the linear probe is."""
        from enso_ng.experiment.models.logreg import LogisticRegressionCV

        started = time.perf_counter()
        vectors = self._pooled(net, X)
        probe = LogisticRegressionCV(random_state=self.random_state).fit(vectors, codes)
        K, coef, intercept = len(self.classes_), probe.coef_, probe.intercept_
        weight, bias = np.zeros((K, coef.shape[1])), np.full(K, float(intercept.min()) - LOG_ABSENT)
        present = probe.classes_.astype(np.int64)  # a class the training rows lack keeps a bias far below
        if len(present) == 2 and coef.shape[0] == 1:  # binary: softmax over (0, w.x + b) is the sigmoid
            weight[present[1]], bias[present[0]], bias[present[1]] = coef[0], 0.0, intercept[0]
        else:
            weight[present], bias[present] = coef, intercept
        net.head.weight.copy_(torch.as_tensor(weight, dtype=net.head.weight.dtype))
        net.head.bias.copy_(torch.as_tensor(bias, dtype=net.head.bias.dtype))
        return {"lp_C": probe.best_params_.get("C"), "lp_seconds": round(time.perf_counter() - started, 3)}

    def _pooled(self, net: _Classifier, X: np.ndarray) -> np.ndarray:
        """The encoder's mean-pooled vectors of token-id rows, in eval mode (no dropout), float64."""
        return self._each_batch(net, X, int(net.head.in_features), net.pooled)

    def _batches(self, rows: np.ndarray, lengths: np.ndarray, generator: torch.Generator) -> list[np.ndarray]:
        """One epoch's batches: a seeded shuffle, pools of ``length_pool`` batches sorted by length, the
        batches in a seeded random order (see the module docstring for why)."""
        order = rows[torch.randperm(len(rows), generator=generator).numpy()]
        pool = self.batch_size * max(1, self.length_pool)
        batches = []
        for start in range(0, len(order), pool):
            chunk = order[start : start + pool]
            if self.length_pool > 1:
                chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]

    def _autocast(self):
        where = device()
        enabled = where.type == "cuda" if self.precision == "auto" else self.precision == "bf16"
        return torch.autocast(where.type, dtype=torch.bfloat16, enabled=enabled)

    def _holdout(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stratified inner validation rows for model selection, from the training subset only."""
        folds = max(2, round(1 / self.valid_fraction)) if self.valid_fraction > 0 else 0
        split = cv_folds(codes, folds, self.random_state) if folds else []
        if not split:
            return np.arange(len(codes)), np.zeros(0, dtype=np.int64)
        return split[0]

    def _optimizer(self, net: _Classifier, steps: int):
        if self.layer_decay == 1.0:
            groups = [{"params": list(net.encoder.parameters()), "lr": self.lr}]
        else:  # the top layer at lr, each one below at the rate above it times layer_decay
            layers = net.layers()
            groups = [
                {"params": params, "lr": self.lr * self.layer_decay ** (len(layers) - 1 - i)}
                for i, params in enumerate(layers)
            ]
        groups.append({"params": list(net.head.parameters()), "lr": self.head_lr})
        # One fused kernel for the update of all 22M values (what Trainer uses by default): on short texts
        # the update was a quarter of a step's time with the per-tensor kernels, half that fused.
        optimizer = torch.optim.AdamW(groups, weight_decay=self.weight_decay, fused=True)
        warm = max(1, int(self.warmup * steps))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min((step + 1) / warm, max(0.0, (steps - step) / max(1, steps - warm)))
        )
        return optimizer, schedule

    def _scores(self, net: _Classifier, X: np.ndarray) -> np.ndarray:
        return self._each_batch(net, X, len(self.classes_), lambda *inputs: torch.softmax(net(*inputs).float(), 1))

    @torch.no_grad()
    def _each_batch(self, net: _Classifier, X: np.ndarray, width: int, step, batch: int = 64) -> np.ndarray:
        """``step(ids, mask, types)`` of token-id rows, in eval mode, ``batch`` rows of similar length at a
        time (little padding), returned in the rows' order as float64 (rows, width)."""
        net.eval()
        order = np.argsort((X >= 0).sum(1), kind="stable")
        out = np.zeros((len(X), width))
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            ids, mask = _batch(X[rows])
            with self._autocast():
                out[rows] = step(ids, mask, _types(net, ids, mask)).float().cpu().numpy()
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._scores(self.net_, np.asarray(X))


def _batch(ids: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """-1-padded rows trimmed to their longest, with the attention mask; padding becomes id 0."""
    mask = ids >= 0
    width = max(1, int(mask.sum(1).max()))
    ids, mask = ids[:, :width], mask[:, :width]
    where = device()
    return (
        torch.as_tensor(np.where(mask, ids, 0), device=where),
        torch.as_tensor(mask.astype(np.int64), device=where),
    )


def _types(net: _Classifier, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | None:
    """Token types of cross-encoded pairs (a pair dataset's ``bert_tokens`` rows: [CLS] a [SEP] b [SEP]), as
    the tokenizer gives them: 0 up to and including the first [SEP], 1 after it. The [SEP] id is each row's
    last real token (truncation keeps it), so no tokenizer is needed. None (the encoder's own zeros) for
    single texts, whose only [SEP] ends them, and for an encoder without token types."""
    if int(getattr(net.encoder.config, "type_vocab_size", 1)) < 2:
        return None
    last = mask.sum(1, keepdim=True).clamp(min=1) - 1
    is_sep = (ids == ids.gather(1, last)).to(torch.int64)
    after = (torch.cumsum(is_sep, dim=1) - is_sep) >= 1  # strictly after the first [SEP]
    types = (after & mask.bool()).to(torch.int64)
    return types if bool(types.any()) else None


def _codes(codes: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(codes, dtype=torch.int64, device=device())
