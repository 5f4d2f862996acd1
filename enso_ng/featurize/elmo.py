"""ELMo: the character-CNN + biLSTM language model's three layers, pooled over tokens.

Uses the ``Elmo`` module of ``simple-elmo-pytorch`` (allennlp's implementation, which cannot install on
Python 3.11 any more). Options and weights come from a path or URL, in the original ``options.json`` +
hdf5 layout, so any published ELMo works. ``layers=mean`` averages the three layers (ELMo's scalar mix at
its initial, equal weights); ``layers=all`` stores each, for ``layer_mix`` to learn the weights.
``pooling=none`` stores each word's vector (of the chosen layer, or the mean of the three) for the sequence
heads.

The module's biLSTM is stateful (it starts each batch from the previous batch's final states, as a language
model reading a stream would); sentence vectors must not depend on which batch came before, so the states
are reset before every batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

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
from enso_ng.featurize.files import local_file
from enso_ng.featurize.tokens import tokenize
from enso_ng.params import POSITIVE, Param
from enso_ng.workspace import sha256_file

#: words the biLSTM reads per text; longer texts are cut
MAX_WORDS = 200

MISSING = "featurizer 'elmo' needs simple-elmo-pytorch and h5py, not installed by default: pip install 'enso_ng[elmo]'"


@register("elmo")
class ElmoFeaturizer(Featurizer):
    summary = "ELMo's three layers pooled over words, or each word's vector (options.json + weights.hdf5; extra 'elmo')"
    reloadable = ("_model",)
    options = {
        "options_file": Param("", "ELMo options.json, path or URL"),
        "weight_file": Param("", "ELMo weights (hdf5), path or URL"),
        "layers": Param(
            "mean",
            "mean (of the three layers) | all (store each) | 0, 1 or 2 (one layer)",
            check_rule=lambda v: v in ("mean", "all") or v.isdigit(),
            check_text="mean, all or a layer number",
        ),
        "pooling": Param(
            "mean", "over words; none stores each word's vector (for sequence models)", choices=("mean", "none")
        ),
        "batch_size": Param(32, "sentences per forward pass (does not change the vectors)", interval=POSITIVE),
        **TOKEN_VECTOR_OPTIONS,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        try:
            import h5py  # noqa: F401
            from simple_elmo_pytorch.models.elmo import Elmo  # noqa: F401
        except ImportError:
            raise EnsoError(MISSING) from None
        if not self.config["options_file"] or not self.config["weight_file"]:
            raise EnsoError("featurizer 'elmo': give -o options_file=PATH_OR_URL -o weight_file=PATH_OR_URL")
        self.options_path = local_file(str(self.config["options_file"]), "featurizer 'elmo': options_file")
        self.weight_path = local_file(str(self.config["weight_file"]), "featurizer 'elmo': weight_file")
        try:
            lstm = json.loads(self.options_path.read_text())["lstm"]
            self._width, n_layers = 2 * int(lstm["projection_dim"]), int(lstm["n_layers"]) + 1
        except (ValueError, KeyError, TypeError) as exc:
            raise EnsoError(f"featurizer 'elmo': {self.options_path} is not an ELMo options file ({exc})") from None
        choice = str(self.config["layers"])
        if choice not in ("mean", "all") and not (choice.isdigit() and int(choice) < n_layers):
            raise EnsoError(f"featurizer 'elmo': layers must be mean, all or 0..{n_layers - 1}, not {choice!r}")
        self.choice, self.layers = choice, (n_layers if choice == "all" else 1)
        token_vector_setup(self)
        if self.sequence and choice == "all":
            raise EnsoError(
                "featurizer 'elmo': pooling=none stores one layer's word vectors; choose layers=mean or 0.."
                f"{n_layers - 1}"
            )
        self._model = None
        self.capped = 0

    def params(self) -> dict[str, Any]:
        params = token_vector_params(self, {k: v for k, v in self.config.items() if k != "batch_size"})
        params["lstm_states"] = "reset"  # per batch; files made with carried-over states are rebuilt
        params["options_sha256"] = sha256_file(self.options_path)
        params["weights_sha256"] = sha256_file(self.weight_path)
        return params

    @property
    def dim(self) -> int:
        return self._width * self.layers

    def _load(self):
        if self._model is None:
            from simple_elmo_pytorch.models.elmo import Elmo

            try:
                self._model = Elmo(str(self.options_path), str(self.weight_path), 1, dropout=0.0).eval()
            except (OSError, KeyError, ValueError) as exc:
                raise EnsoError(f"featurizer 'elmo': cannot load {self.weight_path} ({exc})") from None
        return self._model

    def _words(self, text: str) -> list[str]:
        return tokenize(text, lower=False)

    def _longest(self) -> int:
        """Words the biLSTM reads per text: with token vectors stored, no more than are kept."""
        return min(MAX_WORDS, int(self.config["max_tokens"])) if self.sequence else MAX_WORDS

    def fit(self, texts: Sequence[str]) -> ElmoFeaturizer:
        """Nothing to learn; count the texts whose words ``pooling=none`` cuts, so the report is complete."""
        self.capped = capped_count(self, (len(self._words(t)) for t in dict.fromkeys(texts)), self._longest())
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray | list[np.ndarray]:
        import torch
        from simple_elmo_pytorch.models.elmo import batch_to_ids

        model = self._load()
        out: Any = [None] * len(texts) if self.sequence else np.zeros((len(texts), self.dim), dtype=np.float32)
        kept = [self._words(text)[: self._longest()] for text in texts]
        tokens = [words or ["."] for words in kept]  # the biLSTM needs a word; an empty text stores none
        order = np.argsort([len(t) for t in tokens], kind="stable")  # similar lengths pad little
        size = int(self.config["batch_size"])
        with torch.inference_mode():
            for start in range(0, len(order), size):
                idx = order[start : start + size]
                model._elmo_lstm._elmo_lstm.reset_states()  # each batch starts from zero states
                bilm = model._elmo_lstm(batch_to_ids([tokens[i] for i in idx]))
                layers = bilm["activations"]
                if self.choice == "mean":
                    layers = [torch.stack(layers).mean(0)]
                elif self.choice != "all":
                    layers = [layers[int(self.choice)]]
                # Word j of a row sits at position j + 1: position 0 and the one after the last word are
                # the sentence boundaries, never stored or pooled.
                words = bilm["mask"].sum(1) - 2
                if self.sequence:
                    hidden = layers[0].numpy()
                    lengths = [n if kept[i] else 0 for i, n in zip(idx, words.tolist())]
                    rows = token_rows(self, (hidden[j, 1 : 1 + n] for j, n in enumerate(lengths)), self.dim)
                    for i, row in zip(idx, rows):
                        out[i] = row
                    continue
                inside = torch.arange(layers[0].shape[1])[None, :]
                weights = ((inside >= 1) & (inside <= words[:, None])).unsqueeze(-1).float()
                pooled = [(layer * weights).sum(1) / weights.sum(1).clamp(min=1) for layer in layers]
                out[idx] = torch.stack(pooled, dim=1).flatten(1).numpy()
        return out

    def report(self) -> dict[str, Any]:
        return token_vector_report(self, self.capped)
