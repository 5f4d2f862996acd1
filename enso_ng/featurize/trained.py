"""Word vectors trained on the dataset's own texts with gensim: word2vec, fastText and doc2vec.

No download and no labels: the unlabelled pool (every text of the dataset) is the training corpus, which
is the question "is something trained on my own text enough?". Training runs on one worker with a fixed
seed and a hash function that does not change between processes, so the vectors are reproducible.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from enso_ng.featurize.base import Featurizer, register
from enso_ng.featurize.glove import PooledWordVectors
from enso_ng.featurize.tokens import tokenize
from enso_ng.params import POSITIVE, Param

_COMMON = {
    "vector_size": Param(100, "dimensions", interval=POSITIVE),
    "window": Param(5, "context words on each side", interval=POSITIVE),
    "min_count": Param(2, "ignore words rarer than this", interval=POSITIVE),
    "epochs": Param(10, "passes over the texts", interval=POSITIVE),
    "seed": Param(0, "random seed (training is single-threaded, so this fixes the vectors)"),
}


def stable_hash(text: str) -> int:
    """gensim seeds each word's initial vector with hash(word); Python's hash changes per process."""
    return zlib.crc32(text.encode("utf-8"))


def _gensim_args(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "vector_size": int(config["vector_size"]),
        "window": int(config["window"]),
        "min_count": int(config["min_count"]),
        "epochs": int(config["epochs"]),
        "seed": int(config["seed"]),
        "workers": 1,
        "hashfxn": stable_hash,
    }


class _TrainedWordVectors(PooledWordVectors):
    options = {
        **_COMMON,
        "pooling": Param("mean", "mean, or sif (frequency-weighted, first component removed)", choices=("mean", "sif")),
        "sif_a": Param(1e-3, "SIF's smoothing constant a", interval=POSITIVE),
    }

    def _train(self, corpus: list[list[str]]):
        raise NotImplementedError

    def fit(self, texts: Sequence[str]) -> _TrainedWordVectors:
        corpus = [tokenize(t) for t in dict.fromkeys(texts)]
        self._keyed = self._train(corpus).wv
        self._fit_pooling(texts)
        return self

    @property
    def dim(self) -> int:
        return int(self.config["vector_size"])


@register("word2vec")
class Word2VecFeaturizer(_TrainedWordVectors):
    summary = "word2vec (CBOW) trained on the dataset's own texts, pooled per text"

    def _train(self, corpus):
        from gensim.models import Word2Vec

        return Word2Vec(corpus, **_gensim_args(self.config))


@register("fasttext")
class FastTextFeaturizer(_TrainedWordVectors):
    summary = "fastText (subword n-grams: vectors for unseen words too) trained on the dataset's texts"

    def _train(self, corpus):
        from gensim.models import FastText

        return FastText(corpus, **_gensim_args(self.config))

    def _usable(self, tokens: list[str]) -> list[str]:
        # fastText builds a vector for any word from its character n-grams: no word is out of vocabulary.
        return tokens


@register("doc2vec")
class Doc2VecFeaturizer(Featurizer):
    summary = "doc2vec trained on the dataset's texts: one learned vector per text"
    options = {
        **_COMMON,
        "dm": Param(0, "0: PV-DBOW, word vectors trained alongside (better on short texts); 1: PV-DM", choices=(0, 1)),
    }

    @property
    def dim(self) -> int:
        return int(self.config["vector_size"])

    def fit(self, texts: Sequence[str]) -> Doc2VecFeaturizer:
        from gensim.models.doc2vec import Doc2Vec, TaggedDocument

        unique = list(dict.fromkeys(texts))
        self._index = {text: i for i, text in enumerate(unique)}
        corpus = [TaggedDocument(tokenize(t), [i]) for i, t in enumerate(unique)]
        dm = int(self.config["dm"])
        self._model = Doc2Vec(corpus, dm=dm, dbow_words=int(dm == 0), **_gensim_args(self.config))
        self._keyed = self._model.wv
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            j = self._index.get(text)
            if j is not None:  # every text of the dataset was a training document: use its learned vector
                out[i] = self._model.dv[j]
            else:
                self._model.random.seed(int(self.config["seed"]))
                out[i] = self._model.infer_vector(tokenize(text))
        return out

    def report(self) -> dict[str, Any]:
        return {"documents": len(self._index), "vocabulary": len(self._keyed.key_to_index)}
