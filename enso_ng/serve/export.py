"""``enso train --onnx``: the encoder, its pooling and the head as one ONNX graph, scored by ONNX Runtime.

A service then needs no training stack: token ids in, each class's probability (or an SVM's margins) out.
What ONNX's standard operators express is exported: a pooled BERT-family encoder (one layer, mean, cls or
max pooling) with a linear or MLP head (logreg, mlp, svm, or a distilled student of those), every layer
pooled and mixed (layer_mix), a learned attention over the token vectors (attention), and a fine-tuned
encoder with its head (finetune). What is not, and why, is :data:`WHY_NOT`. The tokenizer's files travel
beside the graph (JSON and text), so the folder tokenizes by itself.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from enso_ng.errors import EnsoError
from enso_ng.featurize.bert import pool_tokens

ONNX_DIR = "onnx"
GRAPH_FILE = "scorer.onnx"
#: the tokenizer files copied beside the graph (those the encoder folder has)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
WHY_NOT = {
    "tfidf": "its tokenizer and n-gram vocabulary are string operations outside ONNX's standard operators",
    "glove": "its word lookup is a string operation outside ONNX's standard operators",
    "knn": "it would carry every training vector and a neighbour vote; score it with enso predict",
    "lightgbm": "trees need ONNX-ML operators and a converter (onnxmltools) this stack does not pin",
    "bilstm": "its packed sequences (each text's own length, read from the data) do not pass torch.export, "
    "which the ONNX exporter needs",
    "setfit": "it scores the text its token ids decode to, tokenized again by the sentence encoder: a graph of "
    "token ids would not be that scorer",
}
#: (featurizer, model) pairs the export expresses, and the encoder layers each needs
EXPORTED = {
    ("bert", "logreg"): "last",
    ("bert", "mlp"): "last",
    ("bert", "svm"): "last",
    ("bert", "distill"): "last",
    ("bert", "layer_mix"): "all",
    ("bert", "attention"): "last",
    ("bert_tokens", "finetune"): None,
}
#: a distilled student exports as its own kind
STUDENTS = ("logreg", "mlp", "svm")


def check_exportable(featurizer: str, model: str, params: dict[str, Any], model_params: dict[str, Any]) -> None:
    """One line, before training, where the pair (with these featurizer and model parameters) has no graph."""
    for name in (featurizer, model):
        if name in WHY_NOT:
            raise EnsoError(f"--onnx cannot express {name}: {WHY_NOT[name]}")
    if (featurizer, model) not in EXPORTED:
        pairs = ", ".join(f"{f} with {m}" for f, m in EXPORTED)
        raise EnsoError(f"--onnx exports {pairs}; not {featurizer} with {model}")
    student = model_params.get("student", "logreg")
    if model == "distill" and student not in STUDENTS:
        raise EnsoError(f"--onnx cannot express distill's student {student}: {WHY_NOT.get(student, 'not exported')}")
    layers = EXPORTED[(featurizer, model)]
    pooled = "none" if model == "attention" else params.get("pooling", "mean")
    if layers is not None and (str(params.get("layers", "last")) != layers or params.get("pooling", "mean") != pooled):
        needs = "pooling=none" if model == "attention" else "one pooled layer (pooling mean, cls or max)"
        raise EnsoError(f"--onnx exports {model} on bert with layers={layers} and {needs}")


def _head(model: Any) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """The head as (weight (in, out), bias) layers with ReLU between them, and what its output is."""
    model = getattr(model, "student_", model)  # a distilled model is its student
    name = type(model).__name__
    if name == "MLP":
        if model.columns_ is not None:
            raise EnsoError("--onnx: this mlp was fitted on sparse columns; export needs dense vectors")
        return [(np.asarray(w), np.asarray(b)) for w, b in zip(model.coefs_, model.intercepts_)], "proba"
    estimator = getattr(model, "estimator_", model)
    coef, intercept = np.asarray(estimator.coef_, dtype=np.float64), np.asarray(estimator.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:  # binary: one column of scores s, as [0, s] (logreg) or [-s, s] (svm)
        low = -coef if name == "LinearSVM" else np.zeros_like(coef)
        coef, intercept = (
            np.vstack([low, coef]),
            np.concatenate([-intercept if name == "LinearSVM" else [0.0], intercept]),
        )
    return [(coef.T, intercept)], "decision" if name == "LinearSVM" else "proba"


def export(folder: Path, featurizer: Any, model: Any, name: str) -> list[str]:
    """Write ``onnx/scorer.onnx`` and the tokenizer's files under ``folder``; their relative paths."""
    import torch

    from enso_ng.featurize.onnx import _quiet, require

    require()
    featurizer._load()
    names = list(featurizer._tokenizer.model_input_names)
    scorer = _scorer(featurizer, model, name, names)
    ids = torch.full((2, 7), 101, dtype=torch.long)
    mask = torch.ones((2, 7), dtype=torch.long)
    mask[1, 4:] = 0
    examples = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    target = folder / ONNX_DIR
    target.mkdir()
    with _quiet():
        torch.onnx.export(
            scorer.eval(),
            tuple(examples[n] for n in names),
            str(target / GRAPH_FILE),
            input_names=names,
            output_names=["scores"],
            dynamic_shapes=(tuple({0: batch, 1: seq} for _ in names),),
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    for stale in target.iterdir():  # the exporter may leave a .data file beside it when not embedded
        if stale.name != GRAPH_FILE:
            stale.unlink()
    copied = [GRAPH_FILE]
    for file in TOKENIZER_FILES:
        if (featurizer.folder / file).exists():
            shutil.copy(featurizer.folder / file, target / file)
            copied.append(file)
    return [f"{ONNX_DIR}/{file}" for file in copied]


def tokens_read(featurizer: Any) -> int:
    """How many tokens of a text the featurizer's encoder reads (what the graph's tokenizer keeps)."""
    config = featurizer.config
    if featurizer.name == "bert" and config.get("pooling") == "none":
        return min(int(config["max_length"]), int(config["max_tokens"]))
    return int(config["max_length"])


def _scorer(featurizer: Any, model: Any, name: str, input_names: list[str]) -> Any:
    """The pair as one torch module: the exported input names in, scores out."""
    import torch

    if name == "finetune":
        net = model.net_.cpu()
        return _Wrapped(
            lambda inputs: torch.softmax(net(inputs["input_ids"], inputs["attention_mask"]), 1), net, input_names
        )
    encoder, pooling = featurizer._model, str(featurizer.config["pooling"])
    normalize = bool(featurizer.config["normalize"])
    if name == "layer_mix":
        mix = {k: v.detach().clone() for k, v in model.params_.items()}

        def mixed(inputs: dict) -> Any:
            states = encoder(**inputs, output_hidden_states=True).hidden_states
            H = torch.stack([pool_tokens(h, inputs["attention_mask"], pooling, normalize) for h in states], dim=1)
            h = mix["gamma"] * torch.einsum("l,nld->nd", torch.softmax(mix["a"], 0), H)
            return torch.softmax(h @ mix["W"] + mix["b"], 1)

        return _Wrapped(mixed, encoder, input_names)
    if name == "attention":
        head, dtype = model.head_, getattr(torch, featurizer.dtype)

        def attended(inputs: dict) -> Any:
            tokens = encoder(**inputs).last_hidden_state.to(dtype).float()  # as pooling=none stored them
            return torch.softmax(head(tokens, inputs["attention_mask"].bool())[:, 0], 1)

        return _Wrapped(attended, torch.nn.ModuleList([encoder, head]), input_names)
    layers, kind = _head(model)
    return _Scorer(encoder, pooling, normalize, layers, kind, input_names)


def _Wrapped(forward: Any, modules: Any, input_names: list[str]) -> Any:
    """A module whose forward is ``forward(inputs by name)``, holding ``modules`` (their weights)."""
    import torch

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.held = modules

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return forward(dict(zip(input_names, tensors)))

    return Wrapped()


def _Scorer(encoder: Any, pooling: str, normalize: bool, layers: list, kind: str, input_names: list[str]) -> Any:
    import torch

    class Scorer(torch.nn.Module):
        """Token ids -> pooled, normalised vector -> head -> probabilities (or margins)."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.weights = torch.nn.ParameterList(
                [torch.nn.Parameter(torch.tensor(w, dtype=torch.float32)) for w, _ in layers]
            )
            self.biases = torch.nn.ParameterList(
                [torch.nn.Parameter(torch.tensor(b, dtype=torch.float32)) for _, b in layers]
            )

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            inputs = dict(zip(input_names, tensors))
            hidden = self.encoder(**inputs).last_hidden_state
            h = pool_tokens(hidden, inputs["attention_mask"], pooling, normalize)
            for i, (w, b) in enumerate(zip(self.weights, self.biases)):
                h = h @ w + b
                if i < len(self.weights) - 1:
                    h = torch.relu(h)
            return torch.softmax(h, dim=1) if kind == "proba" else h

    return Scorer()


class OnnxScorer:
    """A folder's exported graph run by ONNX Runtime, with the tokenizer copied beside it.

    The tokenizer is read by the ``tokenizers`` library itself (``tokenizer.json``), not through
    transformers: a cold ``enso predict --runtime onnx`` then imports neither torch nor transformers
    (README, "From answer to production"). A folder without ``tokenizer.json`` falls back to transformers.
    """

    def __init__(self, folder: Path, max_length: int, threads: int = 0) -> None:
        import onnxruntime as ort

        target = folder / ONNX_DIR
        if not (target / GRAPH_FILE).exists():
            raise EnsoError(f"{folder}: no ONNX graph; train it with enso train ... --onnx")
        self.tokenize = _fast_tokenizer(target, max_length) or _transformers_tokenizer(target, max_length)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(target / GRAPH_FILE), options, providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]

    def scores(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        rows = self.tokenize(list(texts))  # per text: {input name: ids}
        order = np.argsort([len(row["input_ids"]) for row in rows], kind="stable")
        out = None
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(rows[i]["input_ids"]) for i in idx)
            batch = {name: np.zeros((len(idx), width), dtype=np.int64) for name in self.names}
            for j, i in enumerate(idx):  # right-padded: pad id 0, attention 0, as BERT's tokenizers pad
                for name in self.names:
                    values = rows[i][name]
                    batch[name][j, : len(values)] = values
            (scores,) = self.session.run(None, batch)
            if out is None:
                out = np.empty((len(order), scores.shape[1]), dtype=np.float64)
            out[idx] = scores
        return out if out is not None else np.zeros((0, 0))


def _fast_tokenizer(target: Path, max_length: int):
    """Texts -> per-text ids with the ``tokenizers`` library, truncated to ``max_length``, unpadded."""
    from enso_ng.featurize.bert_native import TOKENIZER_FILE, Tokenizer

    if not (target / TOKENIZER_FILE).exists():
        return None
    tokenizer = Tokenizer(target)

    def tokenize(texts: list[str]) -> list[dict[str, list[int]]]:
        encoded = tokenizer(texts, truncation=True, max_length=max_length)
        return [{key: values[i] for key, values in encoded.items()} for i in range(len(texts))]

    return tokenize


def _transformers_tokenizer(target: Path, max_length: int):
    from transformers import AutoTokenizer

    from enso_ng.encoders import quiet_transformers

    quiet_transformers()
    tokenizer = AutoTokenizer.from_pretrained(str(target))

    def tokenize(texts: list[str]) -> list[dict[str, list[int]]]:
        encoded = tokenizer(texts, truncation=True, max_length=max_length)
        return [{key: encoded[key][i] for key in encoded.keys()} for i in range(len(texts))]

    return tokenize
