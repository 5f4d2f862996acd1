"""The batch word counter gives scikit-learn's matrix, entry for entry, for every vectorizer it accepts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from enso_ng.featurize import word_counts
from enso_ng.featurize.tfidf import TfidfFeaturizer

CORPUS = [
    "The film was great, great fun",
    "the FILM was not great",
    "Ὀδυσσεύς ΟΔΥΣΣΕΥΣ σοφός ΣΟΦΟΣ",
    "İstanbul ıstanbul ISTANBUL",
    "café cafe CAFÉ naïve",
    "东京 東京 tōkyō",
    "emoji 🎬 film 🎬🎬 great",
    "",
    "a",
    "x y z",
    "line one\nline two\n\nline three",
    "tabs\tand\r\nreturns great fun",
    "under_score snake_case great_fun 42 4242",
    "the film the film the film the film",
]

#: texts that hold the boundary word the one-pass tokenizer joins with, alone and inside others
HOSTILE = [
    word_counts._MARK,
    f"great {word_counts._MARK} fun",
    f"\n{word_counts._MARK}\n",
    f"film{word_counts._MARK}film",
]

VECTORIZERS = {
    "default tfidf": lambda: TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, dtype=np.float32),
    "trigrams": lambda: CountVectorizer(ngram_range=(1, 3)),
    "bigrams only": lambda: CountVectorizer(ngram_range=(2, 3)),
    "unigrams, binary": lambda: CountVectorizer(binary=True),
    "no lowercase, accents stripped": lambda: CountVectorizer(lowercase=False, strip_accents="unicode", ngram_range=(1, 2)),
    "stop words": lambda: CountVectorizer(stop_words="english", ngram_range=(1, 2)),
    "other pattern": lambda: CountVectorizer(token_pattern=r"(?u)\b\w+\b", ngram_range=(1, 2)),
    "max_features": lambda: CountVectorizer(ngram_range=(1, 2), max_features=7),
}


def sklearn_counts(vectorizer, texts):
    """The CountVectorizer half of a fitted vectorizer's transform, as scikit-learn computes it."""
    return CountVectorizer.transform(vectorizer, texts)


def assert_same(ours, theirs) -> None:
    theirs = theirs.tocsr()
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    assert ours.has_sorted_indices and theirs.has_sorted_indices
    np.testing.assert_array_equal(ours.indptr, theirs.indptr)
    np.testing.assert_array_equal(ours.indices, theirs.indices)
    np.testing.assert_array_equal(ours.data, theirs.data)


@pytest.mark.parametrize("name", sorted(VECTORIZERS))
@pytest.mark.parametrize("texts", [CORPUS, CORPUS + HOSTILE], ids=["corpus", "with the boundary word"])
def test_counts_equal_scikit_learns_on_hostile_texts(name, texts):
    vectorizer = VECTORIZERS[name]().fit(CORPUS + HOSTILE)
    assert word_counts.supported(vectorizer)
    assert_same(word_counts.counts(vectorizer, texts), sklearn_counts(vectorizer, texts))


def test_one_text_and_no_text():
    vectorizer = CountVectorizer(ngram_range=(1, 2)).fit(CORPUS)
    for texts in (["the film was great"], [""], []):
            assert_same(word_counts.counts(vectorizer, texts), sklearn_counts(vectorizer, texts))


def test_character_analyzers_are_not_claimed():
    assert not word_counts.supported(CountVectorizer(analyzer="char_wb").fit(CORPUS))
    assert not word_counts.supported(CountVectorizer())  # not fitted


def test_the_tfidf_featurizer_transforms_as_scikit_learn_does():
    featurizer = TfidfFeaturizer(min_df=1).fit(CORPUS)
    texts = CORPUS + HOSTILE + ["unseen words only", "great film, not fun"]
    expected = featurizer._vectorizer.transform(texts).astype(np.float32).tocsr()
    assert_same(featurizer.transform(texts), expected)


WORDS = st.sampled_from(["film", "great", "Film", "GREAT", "σοφός", "ΣΟΦΟΣ", "ab", "a", "42", word_counts._MARK, "é"])
GLUE = st.sampled_from([" ", "  ", "\n", ", ", "-", "_", "", "🎬", "\t"])


#: fitted once: hypothesis varies the texts, not the vocabulary
FITTED = {n: CountVectorizer(ngram_range=(1, n)).fit(CORPUS + ["film great σοφός ab 42 é film"]) for n in (1, 2, 3)}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.tuples(WORDS, GLUE), max_size=12), max_size=8), st.sampled_from(sorted(FITTED)))
def test_counts_equal_scikit_learns_on_generated_texts(parts, max_n):
    texts = ["".join(word + glue for word, glue in text) for text in parts]
    vectorizer = FITTED[max_n]
    assert_same(word_counts.counts(vectorizer, texts), sklearn_counts(vectorizer, texts))
