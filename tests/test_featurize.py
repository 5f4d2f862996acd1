"""`enso featurize`: the real MiniLM model and tf-idf on real TREC questions."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from conftest import invoke
from enso_ng.featurize.bert import BertFeaturizer
from enso_ng.formats import read_features
from enso_ng.workspace import read_meta


def test_bert_features_follow_the_contract(trec_workspace):
    path = trec_workspace / "features" / "trec" / "bert.parquet"
    schema = pq.read_schema(path)
    assert schema.field("features").type == pa.list_(pa.float32(), 384)
    assert schema.names == ["row", "label", "split", "features"]
    feats = read_features(path)
    data = read_meta(trec_workspace / "datasets" / "trec.parquet")
    assert feats.X.shape == (5952, 384)
    assert feats.meta["dataset_fingerprint"] == data["fingerprint"]
    assert len(feats.meta["params"]["weights_sha256"]) == 64
    assert feats.meta["params"]["pooling"] == "mean"
    assert np.allclose(np.linalg.norm(feats.X, axis=1), 1.0, atol=1e-4)
    assert (feats.rows == np.arange(5952)).all()
    assert pq.ParquetFile(path).num_row_groups > 1, "written in row groups as computed"


def test_tfidf_features_are_sparse(trec_workspace):
    path = trec_workspace / "features" / "trec" / "tfidf.parquet"
    assert {"indices", "values"} <= set(pq.read_schema(path).names)
    feats = read_features(path)
    assert feats.X.shape[0] == 5952 and feats.meta["sparse"]
    norms = np.sqrt(feats.X.multiply(feats.X).sum(axis=1)).A.ravel()
    assert np.allclose(norms[norms > 0], 1.0, atol=1e-4)


def test_embeddings_carry_meaning():
    model = BertFeaturizer()
    a, b, c = model.transform(["a wonderful, moving film", "a truly great movie", "the stock market fell sharply"])
    assert a @ b > a @ c + 0.2


def test_pooling_options_differ_and_duplicates_are_embedded_once():
    texts = ["the same text", "another one", "the same text"]
    mean = BertFeaturizer().transform(texts)
    cls = BertFeaturizer(pooling="cls").transform(texts)
    assert np.array_equal(mean[0], mean[2])
    assert not np.allclose(mean[:2], cls[:2])


def test_cache_is_reused_and_rebuilt_on_a_changed_parameter(trec_workspace):
    result = invoke(trec_workspace, "featurize", "-f", "tfidf", "-d", "trec")
    assert result.exit_code == 0 and result.output.startswith("cached"), result.output
    path = trec_workspace / "features" / "trec" / "tfidf.parquet"
    before = read_meta(path)["params"]
    result = invoke(trec_workspace, "featurize", "-f", "tfidf", "-d", "trec", "-o", "ngram_max=1")
    assert result.exit_code == 0 and result.output.startswith("wrote"), result.output
    assert read_meta(path)["params"] == {**before, "ngram_max": 1}
    # restore the session's default features for the other tests
    assert invoke(trec_workspace, "featurize", "-f", "tfidf", "-d", "trec").output.startswith("wrote")


def test_list_shows_featurizers_and_options(tmp_path):
    result = invoke(tmp_path, "featurize", "--list")
    assert result.exit_code == 0
    assert "bert:" in result.output and "tfidf:" in result.output and "pooling = 'mean'" in result.output


def test_bad_requests_are_one_line_errors(trec_workspace, tmp_path):
    cases = [
        (("featurize", "-f", "elmo2"), "unknown featurizer 'elmo2'"),
        (("featurize", "-f", "bert", "-d", "nope"), "no dataset 'nope'"),
        (("featurize", "-f", "tfidf", "-d", "trec", "-o", "colour=red"), "no chosen featurizer has option 'colour'"),
        (("featurize", "-f", "tfidf", "-d", "trec", "-o", "min_df=lots"), "min_df='lots' is not a int"),
        (("featurize", "-f", "bert", "-d", "trec", "-o", "pooling=median"), "pooling must be mean, cls or max"),
    ]
    for args, message in cases:
        result = invoke(trec_workspace, *args)
        assert result.exit_code != 0, args
        assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert "no datasets in" in invoke(tmp_path, "featurize").output
