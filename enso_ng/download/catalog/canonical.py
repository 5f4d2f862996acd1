"""The well-known large benchmarks, from their canonical public sources.

These hosts (Stanford, S3, Dropbox, figshare, cogcomp) cannot be reached from enso_ng's test machines, so
their counts are the sources' documented ones, not asserted by a test. Each is pinned by a sha256
published by an independent loader (Hugging Face ``datasets``' dataset_infos.json, scikit-learn's
fetch_20newsgroups); a branch URL pinned that way still fails loudly if its bytes ever change.
"""

from enso_ng.download.entry import DatasetEntry, add, same
from enso_ng.download.parsers import csv_columns, delimited_lines, folder_per_label
from enso_ng.download.sources import GITHUB_RAW, Member, UrlSource

_HF_SHA = "sha256 as published in Hugging Face datasets' dataset_infos.json"
_ZHANG_2015 = (
    "Zhang, X., Zhao, J. and LeCun, Y. (2015). Character-level Convolutional Networks for Text Classification. NeurIPS."
)

_IMDB = UrlSource(
    "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
)
add(
    DatasetEntry(
        name="imdb",
        task="sentiment",
        description="Large Movie Review Dataset: 50,000 polar IMDB reviews, official 25k/25k split",
        files={"train": Member(_IMDB, "aclImdb/train/"), "test": Member(_IMDB, "aclImdb/test/")},
        parser=folder_per_label("utf-8"),
        labels={"neg": "negative", "pos": "positive"},
        drop_labels=frozenset({"unsup"}),
        licence="research use (Maas et al.)",
        citation=("Maas, A. L. et al. (2011). Learning Word Vectors for Sentiment Analysis. ACL."),
        homepage="https://ai.stanford.edu/~amaas/data/sentiment/",
        rows=50000,
        note=f"84 MB tarball, {_HF_SHA}; the 50,000 unlabelled reviews are dropped. Texts keep their <br /> tags.",
    )
)

_AG_ROOT = f"{GITHUB_RAW}/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/"
add(
    DatasetEntry(
        name="ag_news",
        task="topic",
        description="AG News topic classification: 120,000 train and 7,600 test articles, four topics",
        files={
            "train": UrlSource(
                _AG_ROOT + "train.csv", "76a0a2d2f92b286371fe4d4044640910a04a803fdd2538e0f3f29a5c6f6b672e"
            ),
            "test": UrlSource(
                _AG_ROOT + "test.csv", "521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699"
            ),
        },
        parser=csv_columns(("title", "description"), "label", fieldnames=("label", "title", "description")),
        labels={"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"},
        licence="non-commercial research",
        citation=_ZHANG_2015,
        homepage="http://groups.di.unipi.it/~gulli/AG_corpus_of_news_articles.html",
        rows=127600,
        note=f"A branch URL (master), {_HF_SHA}. Title and description joined. ag_news_test is reachable offline.",
    )
)

_YELP = UrlSource(
    "https://s3.amazonaws.com/fast-ai-nlp/yelp_review_polarity_csv.tgz",
    "528f22e286cad085948acbc3bea7e58188416546b0e364d0ae4ca0ce666abe35",
)
add(
    DatasetEntry(
        name="yelp_polarity",
        task="sentiment",
        description="Yelp reviews, 1-2 stars negative vs 3-4 positive: 560,000 train, 38,000 test",
        files={
            "train": Member(_YELP, "yelp_review_polarity_csv/train.csv"),
            "test": Member(_YELP, "yelp_review_polarity_csv/test.csv"),
        },
        parser=csv_columns("text", "label", fieldnames=("label", "text")),
        labels={"1": "negative", "2": "positive"},
        licence="Yelp Dataset terms",
        citation=_ZHANG_2015,
        homepage="https://course.fast.ai/datasets",
        rows=598000,
        note=f"166 MB tarball (fast.ai's S3 copy), {_HF_SHA}. Newlines are escaped as a literal \\n.",
    )
)

_DBPEDIA = UrlSource(
    "https://s3.amazonaws.com/fast-ai-nlp/dbpedia_csv.tgz",
    "42db5221ddedddb673a4cabcc5f3a7d869714c878bcfe4ba94b29d14aa38e417",
)
add(
    DatasetEntry(
        name="dbpedia",
        task="topic",
        description="DBpedia 2014 ontology classes of Wikipedia abstracts: 14 classes, 560,000 train, 70,000 test",
        files={"train": Member(_DBPEDIA, "dbpedia_csv/train.csv"), "test": Member(_DBPEDIA, "dbpedia_csv/test.csv")},
        parser=csv_columns(("title", "content"), "label", fieldnames=("label", "title", "content")),
        labels={
            str(i): name
            for i, name in enumerate(
                [
                    "Company",
                    "EducationalInstitution",
                    "Artist",
                    "Athlete",
                    "OfficeHolder",
                    "MeanOfTransportation",
                    "Building",
                    "NaturalPlace",
                    "Village",
                    "Animal",
                    "Plant",
                    "Album",
                    "Film",
                    "WrittenWork",
                ],
                start=1,
            )
        },
        licence="CC BY-SA 3.0",
        citation=_ZHANG_2015 + " Lehmann, J. et al. (2015). DBpedia. Semantic Web 6(2).",
        homepage="https://www.dbpedia.org/",
        rows=630000,
        note=f"68 MB tarball (fast.ai's S3 copy), {_HF_SHA}. Title and abstract joined.",
    )
)

_NEWSGROUPS = UrlSource(
    "https://ndownloader.figshare.com/files/5975967", "8f1b2514ca22a5ade8fbb9cfa5727df95fa587f4c87b786e15c759fa66d95610"
)
add(
    DatasetEntry(
        name="twenty_newsgroups",
        task="topic",
        description="20 Newsgroups, the 'bydate' split: 11,314 train and 7,532 test posts, headers removed",
        files={
            "train": Member(_NEWSGROUPS, "20news-bydate-train/"),
            "test": Member(_NEWSGROUPS, "20news-bydate-test/"),
        },
        parser=folder_per_label("latin-1", strip_headers=True),
        labels=same(
            "alt.atheism",
            "comp.graphics",
            "comp.os.ms-windows.misc",
            "comp.sys.ibm.pc.hardware",
            "comp.sys.mac.hardware",
            "comp.windows.x",
            "misc.forsale",
            "rec.autos",
            "rec.motorcycles",
            "rec.sport.baseball",
            "rec.sport.hockey",
            "sci.crypt",
            "sci.electronics",
            "sci.med",
            "sci.space",
            "soc.religion.christian",
            "talk.politics.guns",
            "talk.politics.mideast",
            "talk.politics.misc",
            "talk.religion.misc",
        ),
        licence="none stated (public posts)",
        citation="Lang, K. (1995). NewsWeeder: Learning to Filter Netnews. ICML.",
        homepage="http://qwone.com/~jason/20Newsgroups/",
        rows=18846,
        note=(
            "scikit-learn's figshare copy and sha256. E-mail headers (which name the newsgroup) are removed; "
            "posts left empty by that are dropped, so the count may be a little lower."
        ),
    )
)

_CARER = "https://www.dropbox.com/s/"
add(
    DatasetEntry(
        name="emotion",
        task="emotion",
        description="English tweets with six basic emotions (CARER): 16,000 train, 2,000 validation, 2,000 test",
        files={
            "train": UrlSource(
                _CARER + "1pzkadrvffbqw6o/train.txt?dl=1",
                "3ab03d945a6cb783d818ccd06dafd52d2ed8b4f62f0f85a09d7d11870865b190",
            ),
            "validation": UrlSource(
                _CARER + "2mzialpsgf9k5l3/val.txt?dl=1",
                "34faaa31962fe63cdf5dbf6c132ef8ab166c640254ab991af78f3aea375e79ef",
            ),
            "test": UrlSource(
                _CARER + "ikkqxfdbdec3fuj/test.txt?dl=1",
                "60f531690d20127339e7f054edc299a82c627b5ec0dd5d552d53d544e0cfcc17",
            ),
        },
        parser=delimited_lines("utf-8", sep=";", label_first=False),
        labels=same("anger", "fear", "joy", "love", "sadness", "surprise"),
        licence="research use only",
        citation=(
            "Saravia, E. et al. (2018). CARER: Contextualized Affect Representations for Emotion Recognition. EMNLP."
        ),
        homepage="https://github.com/dair-ai/emotion_dataset",
        rows=20000,
        note=f"The authors' Dropbox files (text;label lines), {_HF_SHA}.",
    )
)

_BANKING = f"{GITHUB_RAW}/PolyAI-LDN/task-specific-datasets/master/banking_data/"
add(
    DatasetEntry(
        name="banking77",
        task="intent",
        description="Online-banking customer queries, 77 fine-grained intents: 10,003 train, 3,080 test",
        files={
            "train": UrlSource(
                _BANKING + "train.csv", "b06e26ac675513959a63135f11b94ea7786ed02da65db93a5650d8838cbc664b"
            ),
            "test": UrlSource(
                _BANKING + "test.csv", "d12d6e3bc4c3103966ae786dc435913c0c563dfa328f5a3646d0e62cfeeb474d"
            ),
        },
        parser=csv_columns("text", "category"),
        labels=same(
            "activate_my_card",
            "age_limit",
            "apple_pay_or_google_pay",
            "atm_support",
            "automatic_top_up",
            "balance_not_updated_after_bank_transfer",
            "balance_not_updated_after_cheque_or_cash_deposit",
            "beneficiary_not_allowed",
            "cancel_transfer",
            "card_about_to_expire",
            "card_acceptance",
            "card_arrival",
            "card_delivery_estimate",
            "card_linking",
            "card_not_working",
            "card_payment_fee_charged",
            "card_payment_not_recognised",
            "card_payment_wrong_exchange_rate",
            "card_swallowed",
            "cash_withdrawal_charge",
            "cash_withdrawal_not_recognised",
            "change_pin",
            "compromised_card",
            "contactless_not_working",
            "country_support",
            "declined_card_payment",
            "declined_cash_withdrawal",
            "declined_transfer",
            "direct_debit_payment_not_recognised",
            "disposable_card_limits",
            "edit_personal_details",
            "exchange_charge",
            "exchange_rate",
            "exchange_via_app",
            "extra_charge_on_statement",
            "failed_transfer",
            "fiat_currency_support",
            "get_disposable_virtual_card",
            "get_physical_card",
            "getting_spare_card",
            "getting_virtual_card",
            "lost_or_stolen_card",
            "lost_or_stolen_phone",
            "order_physical_card",
            "passcode_forgotten",
            "pending_card_payment",
            "pending_cash_withdrawal",
            "pending_top_up",
            "pending_transfer",
            "pin_blocked",
            "receiving_money",
            "Refund_not_showing_up",
            "request_refund",
            "reverted_card_payment?",
            "supported_cards_and_currencies",
            "terminate_account",
            "top_up_by_bank_transfer_charge",
            "top_up_by_card_charge",
            "top_up_by_cash_or_cheque",
            "top_up_failed",
            "top_up_limits",
            "top_up_reverted",
            "topping_up_by_card",
            "transaction_charged_twice",
            "transfer_fee_charged",
            "transfer_into_account",
            "transfer_not_received_by_recipient",
            "transfer_timing",
            "unable_to_verify_identity",
            "verify_my_identity",
            "verify_source_of_funds",
            "verify_top_up",
            "virtual_card_not_working",
            "visa_or_mastercard",
            "why_verify_identity",
            "wrong_amount_of_cash_received",
            "wrong_exchange_rate_for_cash_withdrawal",
        ),
        licence="CC BY 4.0",
        citation="Casanueva, I. et al. (2020). Efficient Intent Detection with Dual Sentence Encoders. NLP4ConvAI.",
        homepage="https://github.com/PolyAI-LDN/task-specific-datasets",
        rows=13083,
        note=f"A branch URL (master), {_HF_SHA}.",
    )
)

_QC = "https://cogcomp.seas.upenn.edu/Data/QA/QC/"
add(
    DatasetEntry(
        name="trec_fine",
        task="question type",
        description="UIUC question classification, 50 fine classes (same questions as trec)",
        files={
            "train": UrlSource(
                _QC + "train_5500.label", "9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3"
            ),
            "test": UrlSource(
                _QC + "TREC_10.label", "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e"
            ),
        },
        parser=delimited_lines("latin-1", sep=" ", label_first=True),
        labels=same(
            "ABBR:abb",
            "ABBR:exp",
            "ENTY:animal",
            "ENTY:body",
            "ENTY:color",
            "ENTY:cremat",
            "ENTY:currency",
            "ENTY:dismed",
            "ENTY:event",
            "ENTY:food",
            "ENTY:instru",
            "ENTY:lang",
            "ENTY:letter",
            "ENTY:other",
            "ENTY:plant",
            "ENTY:product",
            "ENTY:religion",
            "ENTY:sport",
            "ENTY:substance",
            "ENTY:symbol",
            "ENTY:techmeth",
            "ENTY:termeq",
            "ENTY:veh",
            "ENTY:word",
            "DESC:def",
            "DESC:desc",
            "DESC:manner",
            "DESC:reason",
            "HUM:gr",
            "HUM:ind",
            "HUM:title",
            "HUM:desc",
            "LOC:city",
            "LOC:country",
            "LOC:mount",
            "LOC:other",
            "LOC:state",
            "NUM:code",
            "NUM:count",
            "NUM:date",
            "NUM:dist",
            "NUM:money",
            "NUM:ord",
            "NUM:other",
            "NUM:period",
            "NUM:perc",
            "NUM:speed",
            "NUM:temp",
            "NUM:volsize",
            "NUM:weight",
        ),
        licence="research use (cogcomp)",
        citation="Li, X. and Roth, D. (2002). Learning Question Classifiers. COLING.",
        homepage="https://cogcomp.seas.upenn.edu/Data/QA/QC/",
        rows=5952,
        note=f"The original cogcomp files, {_HF_SHA}; latin-1.",
    )
)
