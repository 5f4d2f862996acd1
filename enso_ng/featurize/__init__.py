"""Stage 2: frozen text representations in ``features/<dataset>/<featurizer>.parquet``."""

from enso_ng.featurize import bert, tfidf  # noqa: F401  (fill the registry)
from enso_ng.featurize.base import FEATURIZERS, Featurizer
from enso_ng.featurize.runner import featurize

__all__ = ["FEATURIZERS", "Featurizer", "featurize"]
