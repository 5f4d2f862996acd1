"""The plain BERT encoder (and its fast tokenizer) in torch alone, read from the folder's own files.

Why: importing transformers' BERT costs about 2.5 s, half of a cold ``enso predict`` on one text through
torch (the rest is torch's own import and the work). The architecture is small and fixed: embeddings, then
post-LayerNorm blocks of self-attention and a GELU feed-forward. This module runs it on the folder's
safetensors weights and its ``tokenizer.json``, for folders that are exactly that architecture
(:func:`supports`); any other folder loads through transformers as before. It is exercised against
transformers' ``BertModel`` and ``AutoTokenizer`` on the default MiniLM (``tests/test_bert_native.py``):
the same ids, and every layer's hidden states within float32 rounding.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

#: what a folder's config.json must say for this implementation to be the model it describes
_REQUIRED = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute"}
#: config flags that change the architecture when true
_UNSUPPORTED_FLAGS = ("is_decoder", "add_cross_attention", "chunk_size_feed_forward")
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"


def supports(folder: Path) -> bool:
    """Whether ``folder`` is a plain BERT encoder with a fast tokenizer file and one safetensors file."""
    folder = Path(folder)
    if not all((folder / name).is_file() for name in ("config.json", WEIGHTS_FILE, TOKENIZER_FILE)):
        return False
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    defaults = {"position_embedding_type": "absolute"}
    return all(config.get(k, defaults.get(k)) == v for k, v in _REQUIRED.items()) and not any(
        config.get(flag) for flag in _UNSUPPORTED_FLAGS
    )


class Batch(dict):
    """Padded tensors by input name; ``to`` moves them, as transformers' ``BatchEncoding`` does."""

    def to(self, device: Any) -> Batch:
        return Batch({k: v.to(device) for k, v in self.items()})


class Tokenizer:
    """``tokenizer.json`` through the ``tokenizers`` library: the calls the bert featurizer makes of
    transformers' fast tokenizer (``tokenizer(texts, truncation=..., max_length=...)``, ``pad``,
    ``model_input_names``), with transformers' semantics: special tokens added, truncation only when asked
    (the file's own truncation and padding settings are overridden), right padding with the pad token."""

    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer as Fast

        self._fast = Fast.from_file(str(Path(folder) / TOKENIZER_FILE))
        self._fast.no_padding()
        self.pad_token_id = self._fast.token_to_id("[PAD]") or 0

    def __call__(self, texts: list[str], truncation: bool = False, max_length: int | None = None) -> dict[str, list]:
        if truncation and max_length:
            self._fast.enable_truncation(int(max_length))
        else:
            self._fast.no_truncation()
        encoded = self._fast.encode_batch(list(texts))
        return {
            "input_ids": [e.ids for e in encoded],
            "token_type_ids": [e.type_ids for e in encoded],
            "attention_mask": [e.attention_mask for e in encoded],
        }

    def pad(self, features: list[dict[str, list[int]]], padding: bool = True, return_tensors: str = "pt") -> Batch:
        import torch

        width = max((len(f["input_ids"]) for f in features), default=0)
        out = Batch()
        for name in features[0] if features else self.model_input_names:
            fill = self.pad_token_id if name == "input_ids" else 0
            rows = [list(f[name]) + [fill] * (width - len(f[name])) for f in features]
            out[name] = torch.tensor(rows, dtype=torch.long)
        return out


class Encoder:
    """``BertModel``'s forward in eval mode: ``model(input_ids=..., attention_mask=..., token_type_ids=...,
    output_hidden_states=...)`` gives ``last_hidden_state`` and, when asked, ``hidden_states`` (the
    embeddings first, then each layer's output)."""

    def __new__(cls, folder: Path) -> Any:
        import torch
        from safetensors.torch import load_file

        config = json.loads((Path(folder) / "config.json").read_text())
        weights = {k.removeprefix("bert."): v for k, v in load_file(str(Path(folder) / WEIGHTS_FILE)).items()}
        return _module(torch, SimpleNamespace(**config), weights)


def _module(torch: Any, config: Any, weights: dict[str, Any]) -> Any:
    F = torch.nn.functional
    heads, eps = int(config.num_attention_heads), float(getattr(config, "layer_norm_eps", 1e-12))

    class Bert(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = config
            # every tensor of the encoder (the pooler and position_ids are not used by its hidden states)
            self.params = torch.nn.ParameterDict(
                {
                    k.replace(".", "/"): torch.nn.Parameter(v, requires_grad=False)
                    for k, v in weights.items()
                    if k.startswith(("embeddings.", "encoder.")) and not k.endswith("position_ids")
                }
            )

        def w(self, name: str) -> Any:
            return self.params[name.replace(".", "/")]

        def linear(self, x: Any, name: str) -> Any:
            return F.linear(x, self.w(f"{name}.weight"), self.w(f"{name}.bias"))

        def norm(self, x: Any, name: str) -> Any:
            return F.layer_norm(x, x.shape[-1:], self.w(f"{name}.weight"), self.w(f"{name}.bias"), eps)

        def forward(
            self,
            input_ids: Any,
            attention_mask: Any = None,
            token_type_ids: Any = None,
            output_hidden_states: bool = False,
        ) -> SimpleNamespace:
            batch, length = input_ids.shape
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            positions = torch.arange(length, device=input_ids.device)
            x = (
                F.embedding(input_ids, self.w("embeddings.word_embeddings.weight"))
                + F.embedding(token_type_ids, self.w("embeddings.token_type_embeddings.weight"))
                + F.embedding(positions, self.w("embeddings.position_embeddings.weight"))[None]
            )
            x = self.norm(x, "embeddings.LayerNorm")
            # padded keys get no attention: a boolean mask, broadcast over heads and queries
            keep = None if attention_mask is None else attention_mask[:, None, None, :].bool()
            states = [x]
            for i in range(int(config.num_hidden_layers)):
                p = f"encoder.layer.{i}"

                def split(t: Any) -> Any:
                    return t.view(batch, length, heads, -1).transpose(1, 2)

                q, k, v = (split(self.linear(x, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
                context = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
                context = context.transpose(1, 2).reshape(batch, length, -1)
                x = self.norm(
                    self.linear(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm"
                )
                inner = F.gelu(self.linear(x, f"{p}.intermediate.dense"))
                x = self.norm(self.linear(inner, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
                states.append(x)
            return SimpleNamespace(last_hidden_state=x, hidden_states=tuple(states) if output_hidden_states else None)

    return Bert().eval()
