"""A BERT-family encoder's fp32 graph run by ONNX Runtime: torch's vectors (cosine 0.9999998), faster.

Measured on the 2-core benchmark machine, ONNX Runtime ran MiniLM 1.5-2.3x faster than torch's fp32 eager
path with the same token-sorted batches (README, ``benchmarks/featurize.py``); it is exact, so it is the
fp32 path where it is faster, and ``precision=auto`` measures it beside the others.

The graph is exported once with ``torch.onnx.export`` (10-60 s) and cached under ``$ENSO_CACHE/onnx``,
keyed by the weights' sha256 and everything else that changes the graph (its inputs and outputs, the
torch and transformers versions). It is written atomically, and exported again when it does not load.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import logging
import shutil
import warnings
from pathlib import Path
from typing import Any

from enso_ng.errors import EnsoError
from enso_ng.workspace import atomic_path, user_cache

#: what ``pip install 'enso_ng[onnx]'`` brings: the runtime, and what torch's exporter needs
REQUIRED = ("onnxruntime", "onnxscript", "onnx")
INSTALL_HINT = "precision fp32-onnx needs ONNX Runtime and torch's exporter: pip install 'enso_ng[onnx]'"
GRAPH_FILE = "model.onnx"


def available() -> bool:
    try:
        for name in REQUIRED:
            importlib.import_module(name)
    except ImportError:
        return False
    return True


def require() -> None:
    if not available():
        raise EnsoError(INSTALL_HINT)


class OnnxEncoder:
    """Called like the torch encoder on a padded batch; returns the hidden states it was exported for:
    ``(last,)``, or every layer's (embeddings first) when ``all_layers``."""

    def __init__(self, model: Any, weights_sha256: str, input_names: list[str], all_layers: bool) -> None:
        import torch

        require()
        self.input_names = list(input_names)
        self.all_layers = all_layers
        self.folder = graph_folder(weights_sha256, self.input_names, all_layers)
        self.threads = torch.get_num_threads()
        try:
            self.session = self._session()
        except Exception:  # missing, partly written or damaged: onnxruntime raises several types
            _export(model, self.folder, self.input_names, all_layers)
            self.session = self._session()

    def _session(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads  # the same threads torch uses, so rates compare
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        return ort.InferenceSession(str(self.folder / GRAPH_FILE), options, providers=["CPUExecutionProvider"])

    def __call__(self, batch: dict[str, Any]) -> tuple[Any, ...]:
        import torch

        feeds = {name: batch[name].cpu().numpy() for name in self.input_names}
        (hidden,) = self.session.run(None, feeds)
        hidden = torch.from_numpy(hidden)
        return tuple(hidden.unbind(0)) if self.all_layers else (hidden,)


def graph_folder(weights_sha256: str, input_names: list[str], all_layers: bool) -> Path:
    """Where the graph of these weights, inputs and outputs lives for this torch and transformers."""
    import torch
    import transformers

    key = {
        "weights_sha256": weights_sha256,
        "inputs": list(input_names),
        "all_layers": all_layers,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return user_cache("onnx", f"{weights_sha256[:16]}-{digest[:16]}")


def _export(model: Any, folder: Path, input_names: list[str], all_layers: bool) -> None:
    """Export with dynamic batch and sequence axes, into a temporary folder renamed into place."""
    import torch

    graph = _Graph(model, input_names, all_layers).eval()
    # Two rows of different lengths, so the padding mask is traced as data, not assumed all ones.
    ids = torch.full((2, 7), 101, dtype=torch.long)
    mask = torch.ones((2, 7), dtype=torch.long)
    mask[1, 4:] = 0
    examples = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    args = tuple(examples[name] for name in input_names)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    shapes = tuple({0: batch, 1: seq} for _ in input_names)
    shutil.rmtree(folder, ignore_errors=True)
    with atomic_path(folder) as tmp, _quiet():
        tmp.mkdir(parents=True)
        torch.onnx.export(
            graph,
            args,
            str(tmp / GRAPH_FILE),
            input_names=list(input_names),
            output_names=["hidden"],
            dynamic_shapes=(shapes,),  # one entry: the forward's *tensors
            dynamo=True,
            verbose=False,
        )


class _Graph:
    """The encoder as a module with positional tensor inputs and one output tensor, as export wants."""

    def __new__(cls, model: Any, input_names: list[str], all_layers: bool) -> Any:
        import torch

        class Graph(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
                output = self.model(**dict(zip(input_names, tensors)), output_hidden_states=all_layers)
                return torch.stack(output.hidden_states) if all_layers else output.last_hidden_state

        return Graph()


@contextlib.contextmanager
def _quiet():
    """The exporter prints its steps and warns about optional operators; the user needs none of it."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
