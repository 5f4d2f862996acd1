"""Stage 2: frozen representations of every text, cached as ``features/<dataset>/<featurizer>.parquet``."""

from enso_ng.featurize import bert, elmo, glove, tfidf, token_ids, trained  # noqa: F401  (registers them)
from enso_ng.featurize.base import FEATURIZERS, Featurizer
from enso_ng.featurize.runner import featurize

__all__ = ["FEATURIZERS", "Featurizer", "featurize"]
