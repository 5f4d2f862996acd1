"""Sentence-pair tasks: each row is two texts and a label about the two (paraphrase, entailment).

Both come from one pinned commit of brmson/dataset-sts, which keeps the official splits: MSRP as SentEval's
MRPC task scores it, and SICK's three-way entailment judgment (SentEval's SICK-E).
"""

import csv

from enso_ng.download.entry import DatasetEntry, add
from enso_ng.download.parsers import csv_columns
from enso_ng.download.sources import GITHUB_RAW, UrlSource

_ROOT = f"{GITHUB_RAW}/brmson/dataset-sts/e1d3375f5b3bc24f21aa4e46f96eb379e9fc1081/data/"


def _file(path: str, sha256: str) -> UrlSource:
    return UrlSource(_ROOT + path, sha256)


add(
    DatasetEntry(
        name="msrp",
        task="paraphrase (pairs)",
        description="Microsoft Research Paraphrase Corpus: is the second sentence a paraphrase of the first?",
        files={
            "train": _file(
                "para/msr/msr-para-train.tsv", "446b9a5fa4e8d526b99f1d635f036f89063749783f5d3464ee8c1879724d406d"
            ),
            "validation": _file(
                "para/msr/msr-para-val.tsv", "7e5d0ee4ec392b062af73c7cffe82f0725e5b08f6bfdf0915f31bbc470b8bacf"
            ),
            "test": _file(
                "para/msr/msr-para-test.tsv", "51a1f197d8786712d2f0d97700f5be653b7488a96cde00e158159350d23e3d90"
            ),
        },
        # quoting off: the strings hold double quotes of their own
        parser=csv_columns(
            "#1 String", "Quality", delimiter="\t", quoting=csv.QUOTE_NONE, text_pair="#2 String"
        ),
        labels={"0": "not paraphrase", "1": "paraphrase"},
        licence="MSR Paraphrase Corpus licence (research use)",
        citation=(
            "Dolan, W. B. and Brockett, C. (2005). Automatically Constructing a Corpus of Sentential Paraphrases. "
            "IWP."
        ),
        homepage="https://www.microsoft.com/en-us/download/details.aspx?id=52398",
        rows=5801,
        note=(
            "brmson/dataset-sts's copy: its validation split is the last 500 pairs of the official training set; "
            "the test split is the official one. The repository states no licence of its own."
        ),
    )
)

add(
    DatasetEntry(
        name="sick_e",
        task="entailment (pairs)",
        description="SICK: does the first sentence entail, contradict, or say nothing of the second? (three-way)",
        files={
            "train": _file(
                "sts/sick2014/SICK_train.txt", "266cf8047149bd1d68138dd30439f3122bff30069740ac6705bb6197d9f1b48e"
            ),
            "validation": _file(
                "sts/sick2014/SICK_trial.txt", "5a88cfb62f8c6bd2a3cce0f2421ba2cb8c2be5ab4a800f6f01e2c64aafb7db56"
            ),
            "test": _file(
                "sts/sick2014/SICK_test_annotated.txt",
                "2b8aa806658d6fc23c6824c83776c2d4fee7556000817b5ec0f982861413b7d0",
            ),
        },
        parser=csv_columns(
            "sentence_A", "entailment_judgment", delimiter="\t", quoting=csv.QUOTE_NONE, text_pair="sentence_B"
        ),
        labels={"CONTRADICTION": "contradiction", "ENTAILMENT": "entailment", "NEUTRAL": "neutral"},
        licence="CC BY-NC-SA 3.0",
        citation=(
            "Marelli, M. et al. (2014). A SICK cure for the evaluation of compositional distributional semantic "
            "models. LREC."
        ),
        homepage="http://alt.qcri.org/semeval2014/task1/",
        rows=9927,
        note="SemEval-2014 Task 1 files (brmson/dataset-sts's copy); the relatedness score is not used.",
    )
)
