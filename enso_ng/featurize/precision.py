"""Which numeric path embeds fastest on this machine without changing the vectors: measured, not guessed.

CPU flags do not predict it: bf16 ran 2.5x faster than fp32 on one CPU with AVX512-BF16 and slower on
another (README). So ``precision=auto`` times every candidate on a sample of the actual texts, keeps those
whose vectors stay within cosine ``MIN_COSINE`` of fp32, takes the fastest, and caches that decision per
machine, library versions, threads, weights and the options that change the work, so it is paid once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from enso_ng.errors import EnsoError
from enso_ng.featurize import onnx
from enso_ng.workspace import atomic_path, user_cache

PRECISIONS = ("fp32", "fp32-onnx", "bf16", "fp16", "auto")
#: the vectors of a candidate whose minimum cosine to fp32 falls below this are not offered by ``auto``
MIN_COSINE = 0.9995
#: texts ``auto`` times each candidate on: a few seconds in all, once per machine and model
SAMPLE_TEXTS = 128
#: fewer distinct texts than this are not timed (and nothing is cached): fp32 for them. A decision timed on
#: the two texts of one ``enso predict`` call once chose fp32-onnx on noise and stuck for every later run
MIN_SAMPLE_TEXTS = 16
ROUNDS = 2

#: (precision, warming up) -> the sample's vectors at that precision (a few texts' when warming up)
Embed = Callable[[str, bool], Any]


def check(precision: str, device: Any, who: str) -> None:
    """A precision this machine cannot run fails when the featurizer is built, in one line."""
    if precision == "fp16" and device.type != "cuda":
        raise EnsoError(f"{who}: precision fp16 needs a CUDA GPU; use bf16 or auto on a CPU")
    if precision == "fp32-onnx":
        if device.type != "cpu":  # the CPU runtime: on a GPU torch is the faster exact path
            raise EnsoError(
                f"{who}: precision fp32-onnx runs on the CPU; on {device.type} use fp32, bf16, fp16 or auto"
            )
        onnx.require()


def candidates(device: Any) -> list[str]:
    """What ``auto`` measures here: fp32 always (the reference), ONNX Runtime where installed (CPU), bf16,
    and fp16 on CUDA."""
    found = ["fp32"]
    if device.type == "cpu" and onnx.available():
        found.append("fp32-onnx")
    found.append("bf16")
    if device.type == "cuda":
        found.append("fp16")
    return found


def choose(key: dict[str, Any], options: list[str], embedder: Callable[[], Embed]) -> dict[str, Any]:
    """The cached decision for ``key``, else one measured now with ``embedder()`` and cached.

    ``embedder`` is called only on a cache miss (it loads the model and tokenizes the sample), and returns
    a function embedding that sample at a given precision.
    """
    path = user_cache("precision", hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24] + ".json")
    try:
        record = json.loads(path.read_text())
        if record.get("key") == key and record.get("chosen") in options:
            return {**record, "cached": True}
    except (OSError, ValueError):
        pass  # none yet, or damaged: measure again
    record = {"key": key, **measure(embedder(), options), "measured": datetime.now(UTC).isoformat(timespec="seconds")}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    return {**record, "cached": False}


def measure(embed: Embed, options: list[str]) -> dict[str, Any]:
    """Time each candidate, interleaved (so a load change on a shared machine hits all alike), best of
    ``ROUNDS`` after an untimed pass on a few texts (loading a graph, first-call kernels); the fastest
    within ``MIN_COSINE`` of fp32 wins."""
    for precision in options:
        embed(precision, True)
    seconds = dict.fromkeys(options, float("inf"))
    vectors: dict[str, np.ndarray] = {}
    texts = 0
    for _ in range(ROUNDS):
        for precision in options:
            started = time.perf_counter()
            X = embed(precision, False)
            seconds[precision] = min(seconds[precision], time.perf_counter() - started)
            texts = len(X)
            vectors.setdefault(precision, _rows(X))
    cosines = {p: _min_cosine(vectors["fp32"], vectors[p]) for p in options}
    rates = {p: round(texts / s, 1) for p, s in seconds.items()}
    eligible = [p for p in options if cosines[p] >= MIN_COSINE]
    chosen = max(eligible, key=lambda p: rates[p])
    rejected = sorted(set(options) - set(eligible))
    why = f"the fastest of {', '.join(eligible)} on {texts} sampled texts"
    if rejected:
        why += f"; {', '.join(rejected)} left out (minimum cosine to fp32 below {MIN_COSINE})"
    return {
        "chosen": chosen,
        "texts_per_second": rates,
        "min_cosine": {p: round(c, 9) for p, c in cosines.items()},
        "sample_texts": texts,
        "threshold": MIN_COSINE,
        "why": why,
    }


def _rows(X: Any) -> np.ndarray:
    """One vector per row to compare: token vectors (``pooling=none``) are compared token by token."""
    return np.concatenate(X) if isinstance(X, list) else np.asarray(X)


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.min((a * b).sum(1) / np.maximum(norms, 1e-12)))
