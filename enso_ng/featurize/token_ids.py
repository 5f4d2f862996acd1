"""Token ids of a BERT-family encoder: the input of models that fine-tune the encoder itself.

Stages meet only through files, so the text reaches a fine-tuned model as a features file of token ids
(one list per row, truncated to ``max_length``) whose parameters name the encoder and the sha256 of its
weights. The experiment stage loads that same encoder and refuses different weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from enso_ng.encoders import DEFAULT_MODEL, quiet_transformers, resolve_model_folder, weights_sha256
from enso_ng.featurize.base import Featurizer, register
from enso_ng.formats import TOKEN_IDS
from enso_ng.params import POSITIVE, Param


@register("bert_tokens")
class BertTokens(Featurizer):
    summary = "token ids for fine-tuning a BERT-family encoder (models finetune, setfit); default MiniLM-L6"
    model_option = "model"
    layout = TOKEN_IDS
    pairs = "cross"
    options = {
        "model": Param(DEFAULT_MODEL, "Hugging Face model id or local folder"),
        "max_length": Param(128, "tokens per text; longer texts are truncated and counted", interval=POSITIVE),
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.folder = resolve_model_folder(str(self.config["model"]))
        self._tokenizer = None
        self.truncated = 0

    def params(self) -> dict[str, Any]:
        return {**self.config, "weights_sha256": weights_sha256(self.folder)}

    def _load(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            quiet_transformers()
            self._tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
        return self._tokenizer

    @property
    def dim(self) -> int:
        return int(self.config["max_length"])

    def transform(self, texts: Sequence[str] | Sequence[tuple[str, str]]) -> list[list[int]]:
        if texts and isinstance(texts[0], tuple):
            return self._pairs(texts)  # type: ignore[arg-type]
        ids = self._load()(list(texts), truncation=False)["input_ids"]
        limit = int(self.config["max_length"])
        self.truncated += sum(len(row) > limit for row in ids)
        # Truncation keeps the final [SEP]: the encoder saw every text end that way in pre-training.
        return [row if len(row) <= limit else row[: limit - 1] + row[-1:] for row in ids]

    def _pairs(self, pairs: Sequence[tuple[str, str]]) -> list[list[int]]:
        """Cross-encoding, as the tokenizer pairs two texts: ``[CLS] a [SEP] b [SEP]``; a pair too long is cut
        from the longer text first (``longest_first``), both texts keeping their [SEP]."""
        tokenizer, limit = self._load(), int(self.config["max_length"])
        firsts, seconds = [a for a, _ in pairs], [b for _, b in pairs]
        ids = tokenizer(firsts, seconds, truncation=False)["input_ids"]
        long = [i for i, row in enumerate(ids) if len(row) > limit]
        self.truncated += len(long)
        if long:
            cut = tokenizer([firsts[i] for i in long], [seconds[i] for i in long], truncation="longest_first",
                            max_length=limit)["input_ids"]  # fmt: skip
            for i, row in zip(long, cut):
                ids[i] = row
        return ids

    def report(self) -> dict[str, Any]:
        return {"truncated": self.truncated, "max_length": self.config["max_length"]}
