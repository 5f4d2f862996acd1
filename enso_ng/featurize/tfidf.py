"""TF-IDF: the cheap, strong baseline every learned representation must beat.

Fitted on the dataset's own texts without labels (all splits: IDF needs no labels, and this is how a
practitioner with an unlabelled pool would use it). Stored sparse.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from enso_ng.errors import EnsoError
from enso_ng.featurize.base import FEATURIZERS, Featurizer


@FEATURIZERS.register("tfidf")
class TfidfFeaturizer(Featurizer):
    name = "tfidf"
    summary = "TF-IDF of word n-grams, sublinear tf, L2-normalised, stored sparse"
    sparse = True
    options = {
        "analyzer": ("word", "word | char_wb"),
        "ngram_min": (1, "smallest n-gram"),
        "ngram_max": (2, "largest n-gram"),
        "min_df": (2, "drop terms in fewer documents than this"),
        "max_features": (50000, "keep the most frequent terms"),
        "sublinear_tf": (True, "1 + log(tf) instead of raw counts"),
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        from sklearn.feature_extraction.text import TfidfVectorizer

        if self.config["analyzer"] not in ("word", "char_wb", "char"):
            raise EnsoError(f"featurizer 'tfidf': analyzer must be word, char or char_wb, not {self.config['analyzer']!r}")
        self._vectorizer = TfidfVectorizer(
            analyzer=self.config["analyzer"],
            ngram_range=(int(self.config["ngram_min"]), int(self.config["ngram_max"])),
            min_df=self.config["min_df"],
            max_features=self.config["max_features"],
            sublinear_tf=self.config["sublinear_tf"],
            dtype=np.float32,
        )

    def fit(self, texts: Sequence[str]) -> "TfidfFeaturizer":
        try:
            self._vectorizer.fit(texts)
        except ValueError as exc:  # e.g. an empty vocabulary after min_df
            raise EnsoError(f"featurizer 'tfidf': {exc}") from None
        return self

    @property
    def dim(self) -> int:
        return len(self._vectorizer.vocabulary_)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self._vectorizer.transform(texts).astype(np.float32).tocsr()
