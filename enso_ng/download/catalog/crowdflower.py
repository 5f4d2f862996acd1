"""Tweets labelled through CrowdFlower's "Data for Everyone" library (the datasets Enso shipped).

The original CrowdFlower downloads are gone; each entry pins a public GitHub copy at a commit. Several are
latin-1, several spell one label two ways, and some carry an "I can't tell" class that is not part of
the task: the entries say so and the cleaner counts what it drops.
"""

import csv

from enso_ng.download.entry import DatasetEntry, add, same
from enso_ng.download.parsers import csv_columns
from enso_ng.download.sources import GITHUB_RAW, UrlSource

_CROWDFLOWER = "CrowdFlower (Figure Eight) Data for Everyone library"
_NO_LICENCE = "none stated; CrowdFlower DFE"


def _github(path: str, sha256: str) -> UrlSource:
    return UrlSource(f"{GITHUB_RAW}/{path}", sha256)


_AIRLINE = _github(
    "AyushDhatwalia/Twitter-Airline-Sentiment/97f2cfe60c6d87fd2211c2975ea29817e972ceed/Tweets.csv",
    "4224f422a6aad17e89e898f5484ebcbc460d1df7a4896e107f61ba045bf589d2",
)
_AIRLINE_CITATION = f"{_CROWDFLOWER}: Twitter US Airline Sentiment (2015)."
_AIRLINE_HOME = "https://www.kaggle.com/datasets/crowdflower/twitter-airline-sentiment"

add(
    DatasetEntry(
        name="airline_sentiment",
        task="sentiment",
        description="Tweets about six US airlines, February 2015: negative, neutral or positive",
        files={None: _AIRLINE},
        parser=csv_columns("text", "airline_sentiment"),
        labels=same("negative", "neutral", "positive"),
        licence="CC BY-NC-SA 4.0",
        citation=_AIRLINE_CITATION,
        homepage=_AIRLINE_HOME,
        rows=14640,
        note="Kaggle's licence for the data; the GitHub copy's repository is GPL-3.0.",
    )
)

add(
    DatasetEntry(
        name="airline_negative_reason",
        task="complaint type",
        description="The negative airline tweets, by the reason for the complaint (late flight, lost luggage, ...)",
        files={None: _AIRLINE},
        parser=csv_columns("text", "negativereason", where={"airline_sentiment": "negative"}),
        labels=same(
            "Bad Flight",
            "Cancelled Flight",
            "Customer Service Issue",
            "Damaged Luggage",
            "Flight Attendant Complaints",
            "Flight Booking Problems",
            "Late Flight",
            "Lost Luggage",
            "longlines",
        ),
        drop_labels=frozenset({"Can't Tell"}),
        licence="CC BY-NC-SA 4.0",
        citation=_AIRLINE_CITATION,
        homepage=_AIRLINE_HOME,
        rows=7988,
        note='Same file as airline_sentiment; 1,190 negative tweets whose reason is "Can\'t Tell" are dropped.',
    )
)

add(
    DatasetEntry(
        name="brand_emotion",
        task="sentiment",
        description="Tweets about brands and products (SXSW 2013): emotion toward the brand, if any",
        files={
            None: _github(
                "LilianToo/NLP-Sentiment-Analysis-Project/1ad3b2e6d7f2c684d7195f759078eea48bf97e8e/"
                "judge-1377884607_tweet_product_company.csv",
                "40b04d39d04ad77fb51dbd886b0b406ee800fb84233ef308f157edb29dccfc76",
            )
        },
        parser=csv_columns("tweet_text", "is_there_an_emotion_directed_at_a_brand_or_product", encoding="latin-1"),
        labels={
            "No emotion toward brand or product": "no emotion",
            "Positive emotion": "positive",
            "Negative emotion": "negative",
        },
        drop_labels=frozenset({"I can't tell"}),
        licence=_NO_LICENCE,
        citation=f"{_CROWDFLOWER}: Brands and Product Emotions (2013).",
        homepage="https://data.world/crowdflower/brands-and-product-emotions",
        rows=8936,
        note='latin-1; 156 "I can\'t tell" rows and one empty tweet are dropped.',
    )
)

add(
    DatasetEntry(
        name="corporate_messaging",
        task="message type",
        description="Tweets from corporate accounts: information, action, dialogue, or exclude",
        files={
            None: _github(
                "namboori/MIS546A2/daf8075372ee05b54600085589a0dfef22ed0e32/Corporate-messaging-DFE.csv",
                "5fde669eaf2145d46f04bccc03ea69f3520dfc7ed4942be2feb5fc38b8101f88",
            )
        },
        parser=csv_columns("text", "category", encoding="latin-1"),
        labels=same("Information", "Action", "Dialogue", "Exclude"),
        licence=_NO_LICENCE,
        citation=f"{_CROWDFLOWER}: Corporate messaging (2015).",
        homepage="https://data.world/crowdflower/corporate-messaging",
        rows=3118,
        note="latin-1.",
    )
)

add(
    DatasetEntry(
        name="global_warming",
        task="stance",
        description="Tweets on climate change: does the author believe global warming is happening?",
        files={
            None: _github(
                "srinjoys-id/Global-Warming-Tweet-Analysis/e7be52b385d322450dfe0b57f29ca198f4e4509c/"
                "1377884570_tweet_global_warming.csv",
                "447fc06f29d9519ccade22384909b9a692195e2c6fdb7608f16b2222c1a25c40",
            )
        },
        parser=csv_columns("tweet", "existence", encoding="latin-1"),
        # The source spells each answer two ways.
        labels={"Y": "yes", "Yes": "yes", "N": "no", "No": "no"},
        missing_labels=frozenset({"NA", "N/A"}),
        licence=_NO_LICENCE,
        citation=f"{_CROWDFLOWER}: Global warming / climate change (2013).",
        homepage="https://data.world/crowdflower/sentiment-of-climate-change",
        rows=4225,
        note="Y/Yes and N/No merged; 1,865 tweets without an answer (NA, N/A, empty) are dropped.",
    )
)

add(
    DatasetEntry(
        name="new_years_resolutions",
        task="topic",
        description="New Year's resolution tweets, by topic (personal growth, health, finance, ...)",
        files={
            None: _github(
                "amac-lfc/twitter-resolution/9e9257b2ef89aaf4cb6a2a998c2be28cc61da147/New-years-resolutions-DFE.csv",
                "0f900c73bc8160b41303eebf71d2556b76175845fd70202029ca551c27b4ae8f",
            )
        },
        parser=csv_columns("text", "Resolution_Category", encoding="latin-1"),
        labels=same(
            "Career",
            "Education/Training",
            "Family/Friends/Relationships",
            "Finance",
            "Health & Fitness",
            "Humor",
            "Personal Growth",
            "Philanthropic",
            "Recreation & Leisure",
            "Time Management/Organization",
        ),
        licence=_NO_LICENCE,
        citation=f"{_CROWDFLOWER}: New Year's resolutions (2015).",
        homepage="https://data.world/crowdflower/2015-new-years-resolutions",
        rows=5011,
        note="latin-1; pinned at an older commit (the file is deleted at the repository's HEAD).",
    )
)

add(
    DatasetEntry(
        name="social_media_disasters",
        task="relevance",
        description="Tweets mentioning disaster words: is a real disaster being reported?",
        files={
            None: _github(
                "captainteknics/disaster-tweets-analytics-jupyter-notebook/8d5adf4137cba54072d1d74e07c678f54ccf8d9c/"
                "socialmedia-disaster-tweets-DFE.csv",
                "cda5803969fe5f1c53a3b29ef4161c3014a807da8d4cf7970c9d67fa593f7e18",
            )
        },
        parser=csv_columns("text", "choose_one", encoding="latin-1"),
        labels={"Relevant": "relevant", "Not Relevant": "not relevant"},
        drop_labels=frozenset({"Can't Decide"}),
        licence=_NO_LICENCE,
        citation=f"{_CROWDFLOWER}: Disasters on social media (2015).",
        homepage="https://data.world/crowdflower/disasters-on-social-media",
        rows=10860,
        note='latin-1; 16 "Can\'t Decide" rows are dropped.',
    )
)

add(
    DatasetEntry(
        name="text_emotion",
        task="emotion",
        description="Tweets labelled with one of 13 emotions (very imbalanced: neutral 8,638 .. anger 110)",
        files={
            None: _github(
                "abishekarun/Text-Emotion-Classification/f53c07d7530bc3363d4a429ea28ae80f57846483/text_emotion.csv",
                "23916cbfa77bd009cc4a88687517149c57d5dce8c3a4b1ee57f42c97f06d70ca",
            )
        },
        parser=csv_columns("content", "sentiment"),
        labels=same(
            "anger",
            "boredom",
            "empty",
            "enthusiasm",
            "fun",
            "happiness",
            "hate",
            "love",
            "neutral",
            "relief",
            "sadness",
            "surprise",
            "worry",
        ),
        licence=_NO_LICENCE,
        citation=f"{_CROWDFLOWER}: Sentiment Analysis: Emotion in Text (2016).",
        homepage="https://data.world/crowdflower/sentiment-analysis-in-text",
        rows=40000,
    )
)

add(
    DatasetEntry(
        name="sms_spam",
        task="spam",
        description="SMS messages, ham or spam",
        files={
            None: _github(
                "hamzaaacodes/sms-spam-collection/f3e73e1e74e6330b62d1ee1983bba2a063184c26/SMSSpamCollection",
                "fae7ea7d915ef73903e5c2f46ffa2f4a39909a574e20fda4f2b81f7cb1e15e1f",
            )
        },
        # Messages contain stray double quotes: read with quoting off, as the UCI readme says.
        parser=csv_columns("SMS", "Label", delimiter="\t", quoting=csv.QUOTE_NONE),
        labels=same("ham", "spam"),
        licence="CC BY 4.0 (UCI)",
        citation=(
            "Almeida, T. A., Gomez Hidalgo, J. M. and Yamakami, A. (2011). Contributions to the Study of SMS "
            "Spam Filtering: New Collection and Results. DocEng."
        ),
        homepage="https://archive.ics.uci.edu/dataset/228/sms+spam+collection",
        rows=5574,
        note="Not CrowdFlower: the UCI collection. The pinned copy adds a 'Label<TAB>SMS' header line, read as the header.",
    )
)

add(
    DatasetEntry(
        name="ag_news_test",
        task="topic",
        description="AG News, the official 7,600-article test split only (used with a stratified hold-out)",
        files={
            None: _github(
                "madhubandru/Text-Classification-on-News-Articles-using-BERT-Framework/"
                "082f2db7c08a8fa3e19c46df0b4b5b0a5f81d1cd/ag_news_csv/test.csv",
                "72b844642f92fb74fe397f0d1dd8a46d4cfd6fff60bc5c1a214fe40c44708fd7",
            )
        },
        parser=csv_columns(("title", "description"), "label"),
        labels={"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"},
        licence="non-commercial research",
        citation="Zhang, X., Zhao, J. and LeCun, Y. (2015). Character-level Convolutional Networks for Text Classification. NeurIPS.",
        homepage="http://groups.di.unipi.it/~gulli/AG_corpus_of_news_articles.html",
        rows=7600,
        note="Not CrowdFlower. Title and description joined. The full 127,600-article set is ag_news.",
    )
)
