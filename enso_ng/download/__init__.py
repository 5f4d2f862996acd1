"""Stage 1: the dataset catalog, a user's own files, and ``datasets/<name>.parquet``."""

from enso_ng.download.build import download, fingerprint, from_file
from enso_ng.download.catalog import CATALOG, DEFAULT_DATASET, DatasetEntry

__all__ = ["CATALOG", "DEFAULT_DATASET", "DatasetEntry", "download", "fingerprint", "from_file"]
