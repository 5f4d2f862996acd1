"""One tokenizer for the word-level featurizers: words and single punctuation marks.

GloVe 6B was trained on lower-cased, tokenised text with punctuation as tokens; the models enso_ng trains
itself (word2vec, fastText, doc2vec) use the same tokens, so their vocabularies are comparable. ELMo was
trained on the same kind of tokens with case kept.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+(?:'\w+)?|[^\w\s]")


def tokenize(text: str, lower: bool = True) -> list[str]:
    return _TOKEN.findall(text.lower() if lower else text)
