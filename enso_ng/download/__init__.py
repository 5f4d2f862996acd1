"""Stage 1: the dataset catalog and ``datasets/<name>.parquet``."""

from enso_ng.download.build import download, fingerprint
from enso_ng.download.catalog import CATALOG, DEFAULT_DATASET, DatasetEntry

__all__ = ["CATALOG", "DEFAULT_DATASET", "DatasetEntry", "download", "fingerprint"]
