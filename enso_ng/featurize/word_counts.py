"""Word n-gram counts of a batch of texts, equal to scikit-learn's ``CountVectorizer`` with a fixed vocabulary.

scikit-learn counts one document at a time in Python (its n-gram joins, dictionary lookups and appends run
per token), which makes the tf-idf pair slower at prediction than its own fit suggests. Here each text is
still preprocessed and tokenized by the vectorizer's own callables, so tokens are the same by construction;
the n-grams, the vocabulary lookups and the counting then run over the whole batch at once (``map`` over C
functions, numpy), and scipy sums the duplicates. The result is the same CSR matrix, entry for entry, which
``tests/test_word_counts.py`` checks against scikit-learn on hostile texts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain, repeat
from typing import Any

import numpy as np
import scipy.sparse as sp


def supported(vectorizer: Any) -> bool:
    """Whether :func:`counts` reproduces this fitted vectorizer (word analyzer, fitted vocabulary)."""
    return vectorizer.analyzer == "word" and hasattr(vectorizer, "vocabulary_") and vectorizer.input == "content"


def counts(vectorizer: Any, texts: Sequence[str]) -> sp.csr_matrix:
    """The (texts, vocabulary) count matrix that ``vectorizer``'s ``CountVectorizer.transform`` would give:
    the vectorizer's dtype, canonical (sorted indices, no duplicates), binary where it is."""
    tokens, text_of = _tokens(vectorizer, texts)
    lookup = vectorizer.vocabulary_.get
    rows, cols = [], []
    min_n, max_n = vectorizer.ngram_range
    for n in range(min_n, max_n + 1):
        if len(tokens) < n:
            break
        # every run of n consecutive tokens; those that cross a text's end (or hold a boundary) are dropped
        grams = tokens if n == 1 else map(" ".join, zip(*(tokens[k:] for k in range(n))))
        ids = np.fromiter(map(lookup, grams, repeat(-1)), dtype=np.int64, count=len(tokens) - n + 1)
        first, last = text_of[: len(ids)], text_of[n - 1 :]
        keep = (first == last) & (first >= 0) & (ids >= 0)
        rows.append(first[keep])
        cols.append(ids[keep])
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    shape = (len(texts), len(vectorizer.vocabulary_))
    matrix = sp.csr_matrix((np.ones(len(row), dtype=vectorizer.dtype), (row, col)), shape=shape)
    matrix.sum_duplicates()  # canonical, as scikit-learn's output is (scipy's conversion already sums and sorts)
    if vectorizer.binary:
        matrix.data.fill(1)
    return matrix


#: the default token pattern (runs of two or more word characters), for which one pass over the whole
#: batch is exact: a boundary word between newlines is always a token of its own
_DEFAULT_PATTERN = r"(?u)\b\w\w+\b"
_MARK = "ensotextboundary"


def _tokens(vectorizer: Any, texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Every token of the batch in order, and the position of the text each came from (-1: a boundary).

    With the default pattern the preprocessed texts are joined by a boundary word and tokenized in one
    regex pass, which costs about half of one call per text; if a text itself holds the boundary word the
    count of boundaries shows it, and the batch is tokenized text by text instead."""
    preprocess = vectorizer.build_preprocessor()
    clean = [preprocess(_content(text, vectorizer)) for text in texts]
    stop = vectorizer.get_stop_words()
    if vectorizer.tokenizer is None and vectorizer.token_pattern == _DEFAULT_PATTERN and not stop:
        tokens = re.findall(vectorizer.token_pattern, f"\n{_MARK}\n".join(clean))
        boundary = np.fromiter(map(_MARK.__eq__, tokens), dtype=bool, count=len(tokens))
        if int(boundary.sum()) == max(len(clean) - 1, 0):
            text_of = np.cumsum(boundary)
            text_of[boundary] = -1
            return tokens, text_of
    tokenize = vectorizer.build_tokenizer()
    docs = [tokenize(text) for text in clean]
    if stop:
        docs = [[token for token in doc if token not in stop] for doc in docs]
    lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
    return list(chain.from_iterable(docs)), np.repeat(np.arange(len(docs), dtype=np.int64), lengths)


def _content(text: Any, vectorizer: Any) -> str:
    """What scikit-learn's ``decode`` makes of one input: bytes decoded, a missing value refused."""
    if isinstance(text, bytes):
        return text.decode(vectorizer.encoding, vectorizer.decode_error)
    if text is np.nan:
        raise ValueError("np.nan is an invalid document, expected byte or unicode string.")
    return text
