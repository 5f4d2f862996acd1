"""TF-IDF: the cheap, strong baseline every learned representation must beat.

Fitted on the dataset's own texts without labels (all splits: IDF needs no labels, and this is how a
practitioner with an unlabelled pool would use it). Stored sparse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from enso_ng.errors import EnsoError
from enso_ng.featurize import word_counts
from enso_ng.featurize.base import Featurizer, register
from enso_ng.formats import SPARSE
from enso_ng.params import POSITIVE, Param


@register("tfidf")
class TfidfFeaturizer(Featurizer):
    summary = "TF-IDF of word n-grams, sublinear tf, L2-normalised, stored sparse"
    layout = SPARSE
    options = {
        "analyzer": Param(
            "word",
            "word n-grams, or character n-grams (inside word boundaries for char_wb)",
            choices=("word", "char_wb", "char"),
        ),
        "ngram_min": Param(1, "smallest n-gram", interval=POSITIVE),
        "ngram_max": Param(2, "largest n-gram", interval=POSITIVE),
        "min_df": Param(2, "drop terms in fewer documents than this", interval=POSITIVE),
        "max_features": Param(50000, "keep the most frequent terms", interval=POSITIVE),
        "sublinear_tf": Param(True, "1 + log(tf) instead of raw counts"),
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        from sklearn.feature_extraction.text import TfidfVectorizer

        if self.config["ngram_min"] > self.config["ngram_max"]:
            raise EnsoError(
                f"featurizer 'tfidf': ngram_min ({self.config['ngram_min']}) is above ngram_max "
                f"({self.config['ngram_max']})"
            )
        self._vectorizer = TfidfVectorizer(
            analyzer=self.config["analyzer"],
            ngram_range=(int(self.config["ngram_min"]), int(self.config["ngram_max"])),
            min_df=self.config["min_df"],
            max_features=self.config["max_features"],
            sublinear_tf=self.config["sublinear_tf"],
            dtype=np.float32,
        )

    def fit(self, texts: Sequence[str]) -> TfidfFeaturizer:
        try:
            self._vectorizer.fit(texts)
        except ValueError as exc:  # e.g. an empty vocabulary after min_df
            raise EnsoError(f"featurizer 'tfidf': {exc}") from None
        return self

    @property
    def dim(self) -> int:
        return len(self._vectorizer.vocabulary_)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        vectorizer = self._vectorizer
        if word_counts.supported(vectorizer):  # the same matrix as scikit-learn's transform, counted per batch
            X = vectorizer._tfidf.transform(word_counts.counts(vectorizer, texts), copy=False)
        else:
            X = vectorizer.transform(texts)
        return X.astype(np.float32).tocsr()
