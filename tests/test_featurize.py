"""`enso featurize`: the real MiniLM model, GloVe vectors and tf-idf on real tweets (the session corpus)."""

import json
import os
import shutil
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from enso_ng.featurize.bert import BertFeaturizer
from enso_ng.formats import read_features
from enso_ng.workspace import read_meta

from conftest import CORPUS, CORPUS_ROWS, THREAD_VARIABLES, invoke


def test_bert_features_follow_the_contract(corpus_workspace):
    path = corpus_workspace / "features" / CORPUS / "bert.parquet"
    schema = pq.read_schema(path)
    assert schema.field("features").type == pa.list_(pa.float32(), 384)
    assert schema.names == ["row", "label", "split", "features"]
    feats = read_features(path)
    data = read_meta(corpus_workspace / "datasets" / f"{CORPUS}.parquet")
    assert feats.X.shape == (CORPUS_ROWS, 384)
    assert feats.meta.dataset_fingerprint == data["fingerprint"]
    assert len(feats.meta.params["weights_sha256"]) == 64
    assert feats.meta.params["pooling"] == "mean"
    assert np.allclose(np.linalg.norm(feats.X, axis=1), 1.0, atol=1e-4)
    assert (feats.rows == np.arange(CORPUS_ROWS)).all()


def test_tfidf_features_are_sparse(corpus_workspace):
    path = corpus_workspace / "features" / CORPUS / "tfidf.parquet"
    assert {"indices", "values"} <= set(pq.read_schema(path).names)
    feats = read_features(path)
    assert feats.X.shape[0] == CORPUS_ROWS and feats.meta.layout == "sparse"
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


def test_cache_is_reused_and_rebuilt_on_a_changed_parameter(workspace):
    result = invoke(workspace, "featurize", "-f", "tfidf", "-d", CORPUS)
    assert result.exit_code == 0 and result.output.startswith("cached"), result.output
    path = workspace / "features" / CORPUS / "tfidf.parquet"
    before = read_meta(path)["params"]
    result = invoke(workspace, "featurize", "-f", "tfidf", "-d", CORPUS, "-o", "ngram_max=1")
    assert result.exit_code == 0 and result.output.startswith("wrote"), result.output
    assert read_meta(path)["params"] == {**before, "ngram_max": 1}


def test_list_shows_featurizers_and_options(tmp_path):
    result = invoke(tmp_path, "featurize", "--list")
    assert result.exit_code == 0
    assert "bert:" in result.output and "tfidf:" in result.output and "pooling = 'mean'" in result.output


def test_bad_requests_are_one_line_errors(corpus_workspace, tmp_path):
    cases = [
        (("featurize", "-f", "elmo2"), "unknown featurizer 'elmo2'"),
        (("featurize", "-f", "bert", "-d", "nope"), "no dataset 'nope'"),
        (("featurize", "-f", "tfidf", "-d", CORPUS, "-o", "colour=red"), "no chosen featurizer has option 'colour'"),
        (
            ("featurize", "-f", "tfidf", "-d", CORPUS, "-o", "min_df=lots"),
            "option min_df must be an integer, not 'lots'",
        ),
        (("featurize", "-f", "bert", "-d", CORPUS, "-o", "pooling=median"), "pooling must be mean, cls, max or none"),
    ]
    for args, message in cases:
        result = invoke(corpus_workspace, *args)
        assert result.exit_code != 0, args
        assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert "no datasets in" in invoke(tmp_path, "featurize").output


# ---------------------------------------------------------------- bert: layers and precision

TEXTS = ["a wonderful, moving film", "the stock market fell sharply today", "who wrote the iliad ?", "short"]


def test_layers_one_average_or_all():
    last = BertFeaturizer().transform(TEXTS)
    top = BertFeaturizer(layers="-1").transform(TEXTS)
    assert np.allclose(last, top, atol=1e-6)
    model = BertFeaturizer(layers="all")
    every = model.transform(TEXTS)
    assert model.layers == 7 and every.shape == (4, 7 * 384)
    stacked = every.reshape(4, 7, 384)
    assert np.allclose(stacked[:, -1], last, atol=1e-6)
    assert np.allclose(np.linalg.norm(stacked, axis=2), 1.0, atol=1e-4), "each layer's vector is normalised"
    mean = BertFeaturizer(layers="mean").transform(TEXTS)
    assert mean.shape == (4, 384) and not np.allclose(mean, last, atol=1e-3)


def test_bf16_stays_close_to_fp32():
    fp32 = BertFeaturizer(precision="fp32").transform(TEXTS)
    model = BertFeaturizer(precision="bf16")
    bf16 = model.transform(TEXTS)
    assert model.params()["precision"] == "bf16"
    cosine = (fp32 * bf16).sum(1) / np.linalg.norm(bf16, axis=1)
    assert cosine.min() > 0.995, cosine


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory):
    """A user cache holding MiniLM's exported graph, exported once per session (5-15 s)."""
    cache = tmp_path_factory.mktemp("enso-cache")
    before = os.environ.get("ENSO_CACHE")
    os.environ["ENSO_CACHE"] = str(cache)
    BertFeaturizer(precision="fp32-onnx").transform(TEXTS[:1])
    yield cache
    if before is None:
        del os.environ["ENSO_CACHE"]
    else:
        os.environ["ENSO_CACHE"] = before


def test_onnx_runtime_gives_torch_vectors_from_a_cached_graph(onnx_cache):
    fp32 = BertFeaturizer().transform(TEXTS)
    model = BertFeaturizer(precision="fp32-onnx")
    fast = model.transform(TEXTS)
    assert model.params()["precision"] == "fp32-onnx"
    assert ((fp32 * fast).sum(1) / np.linalg.norm(fast, axis=1)).min() > 0.9999
    (graph,) = (onnx_cache / "onnx").iterdir()  # the session's one export, reused
    assert graph.name.startswith(model.params()["weights_sha256"][:16])
    every = BertFeaturizer(layers="all", precision="fp32-onnx").transform(TEXTS[:2])  # a second graph
    assert np.allclose(every, BertFeaturizer(layers="all").transform(TEXTS[:2]), atol=1e-4)
    assert len(list((onnx_cache / "onnx").iterdir())) == 2


def test_a_damaged_graph_is_exported_again(onnx_cache, tmp_path, monkeypatch):
    shutil.copytree(onnx_cache / "onnx", tmp_path / "onnx")
    monkeypatch.setenv("ENSO_CACHE", str(tmp_path))
    graphs = [g / "model.onnx" for g in (tmp_path / "onnx").iterdir()]
    for graph in graphs:
        graph.write_bytes(b"not a graph")
    fast = BertFeaturizer(precision="fp32-onnx").transform(TEXTS)
    assert np.allclose(fast, BertFeaturizer().transform(TEXTS), atol=1e-4)
    assert sorted(graph.stat().st_size > 1000 for graph in graphs) == [False, True]  # the one it needed


def test_auto_measures_records_and_caches_its_choice(onnx_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("ENSO_CACHE", str(tmp_path / "cache"))
    shutil.copytree(onnx_cache / "onnx", tmp_path / "cache" / "onnx")  # the graph, not a decision
    _small_dataset(tmp_path)
    result = invoke(tmp_path, "featurize", "-f", "bert", "--precision", "auto")
    assert result.exit_code == 0, result.output
    meta = read_meta(tmp_path / "features" / "small" / "bert.parquet")
    auto = meta["report"]["precision_auto"]
    assert set(auto["texts_per_second"]) == {"fp32", "fp32-onnx", "bf16"}
    assert all(rate > 0 for rate in auto["texts_per_second"].values())
    assert auto["sample_texts"] == 24 and not auto["cached"]
    assert auto["min_cosine"]["fp32-onnx"] > 0.9999
    eligible = [p for p, c in auto["min_cosine"].items() if c >= auto["threshold"]]
    assert auto["chosen"] == max(eligible, key=auto["texts_per_second"].get)
    assert meta["params"]["precision"] == auto["chosen"] == meta["report"]["precision"]
    assert f"precision auto chose {auto['chosen']} (measured now" in result.output
    (decision,) = (tmp_path / "cache" / "precision").iterdir()
    assert json.loads(decision.read_text())["chosen"] == auto["chosen"]
    again = invoke(tmp_path, "featurize", "-f", "bert", "--precision", "auto", "--force")
    assert again.exit_code == 0, again.output
    report = read_meta(tmp_path / "features" / "small" / "bert.parquet")["report"]
    assert (
        report["precision_auto"]["cached"] and report["precision_auto"]["texts_per_second"] == auto["texts_per_second"]
    )


def test_missing_onnx_extra_is_an_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    _small_dataset(tmp_path)
    result = invoke(tmp_path, "featurize", "-f", "bert", "--precision", "fp32-onnx")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert "pip install 'enso_ng[onnx]'" in result.output
    assert "fp32-onnx" not in _candidates_here()


def _candidates_here() -> list[str]:
    from enso_ng.featurize.precision import candidates

    return candidates(BertFeaturizer().device)


def _small_dataset(tmp_path) -> None:
    import csv

    source = tmp_path / "small.csv"
    with open(source, "w", newline="") as fh:
        rows = [[f"{t} number {i}", "ab"[i % 2]] for i, t in enumerate(TEXTS * 6)]
        csv.writer(fh).writerows([["text", "label"], *rows])
    assert invoke(tmp_path, "download", "--from-file", str(source), "--name", "small").exit_code == 0


def test_truncation_is_counted_and_stored(tmp_path):
    import csv

    source = tmp_path / "long.csv"
    with open(source, "w", newline="") as fh:
        csv.writer(fh).writerows(
            [["text", "label"], *[[("word " * (5 if i % 2 else 80)).strip(), "ab"[i % 2]] for i in range(12)]]
        )
    assert invoke(tmp_path, "download", "--from-file", str(source), "--name", "long").exit_code == 0
    result = invoke(tmp_path, "featurize", "-f", "bert", "-o", "max_length=32")
    assert result.exit_code == 0 and "truncated 1" in result.output, result.output  # 6 long texts, 1 unique
    assert read_meta(tmp_path / "features" / "long" / "bert.parquet")["report"]["truncated"] == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (("-o", "precision=fp16"), "fp16 needs a CUDA GPU"),
        (("--precision", "fp16"), "fp16 needs a CUDA GPU"),
        (("-o", "layers=top"), "layers must be last, mean, all or a layer number"),
        (("-o", "layers=9"), "layers=9 but the model has layers 0..6"),
    ],
)
def test_bad_bert_options(corpus_workspace, args, message):
    result = invoke(corpus_workspace, "featurize", "-f", "bert", "-d", CORPUS, *args)
    assert result.exit_code == 1 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


# ---------------------------------------------------------------- word vectors: GloVe, word2vec, fastText, doc2vec


def test_glove_default_vectors_mean_and_sif(workspace):
    result = invoke(workspace, "featurize", "-f", "glove", "-d", CORPUS)
    assert result.exit_code == 0 and "oov rate" in result.output, result.output
    path = workspace / "features" / CORPUS / "glove.parquet"
    feats = read_features(path)
    assert feats.X.shape == (CORPUS_ROWS, 50)
    report = feats.meta.report
    # tweets: handles, links and misspellings are out of GloVe 6B's vocabulary (measured: 0.101 of 47,015)
    assert 0.05 < report["oov_rate"] < 0.15 and report["tokens"] > 40000
    assert len(feats.meta.params["vectors_sha256"]) == 64
    assert invoke(workspace, "featurize", "-f", "glove", "-d", CORPUS, "-o", "pooling=sif").exit_code == 0
    sif = read_features(path)
    assert sif.meta.params["pooling"] == "sif" and not np.allclose(sif.X, feats.X)
    component = np.linalg.svd(sif.X, full_matrices=False)[2][0]
    assert abs(np.mean(sif.X @ component)) < abs(np.mean(feats.X @ component)), "common direction removed"


def _vectors_file(path, header: bool):
    words = {"good": [1.0, 0.0, 0.0], "bad": [-1.0, 0.0, 0.0], "movie": [0.0, 1.0, 0.0], "film": [0.0, 0.9, 0.1]}
    lines = ([f"{len(words)} 3"] if header else []) + [f"{w} " + " ".join(map(str, v)) for w, v in words.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("header", [True, False])
def test_glove_reads_any_vectors_file_by_path_and_url(tmp_path, header):
    from enso_ng.featurize.glove import GloveFeaturizer

    from conftest import serve

    path = _vectors_file(tmp_path / "tiny.txt", header)
    local = GloveFeaturizer(vectors=str(path)).fit(["good movie", "bad film !"])
    X = local.transform(["good movie", "bad film !", "unknown words only"])
    assert np.allclose(X[0], [0.5, 0.5, 0.0]) and np.allclose(X[1], [-0.5, 0.45, 0.05])
    assert np.allclose(X[2], 0)
    assert local.report()["oov_rate"] == pytest.approx(1 / 5)  # "!" of five tokens
    with serve(tmp_path) as base:
        remote = GloveFeaturizer(vectors=f"{base}/tiny.txt")
    assert np.allclose(remote.fit(["good movie"]).transform(["good movie"]), X[:1])
    assert remote.params()["vectors_sha256"] == local.params()["vectors_sha256"]


def test_glove_vectors_are_shared_while_in_use_and_read_again_when_the_file_changes(tmp_path, monkeypatch):
    """A second featurizer on the same file shares the vectors of the first while it is alive (read-only),
    nothing keeps them once no featurizer does, and a rewritten file is read again, even at the same size
    and modification time."""
    import gc
    import time

    from enso_ng.featurize import glove

    path = _vectors_file(tmp_path / "tiny.txt", True)
    read, real = [], glove._read_vectors
    monkeypatch.setattr(glove, "_read_vectors", lambda *a: read.append(a) or real(*a))
    first, second = (glove.GloveFeaturizer(vectors=str(path)) for _ in range(2))
    assert first._keyed is second._keyed and len(read) == 1
    with pytest.raises(ValueError, match="read-only"):
        first._keyed.vectors[0, 0] = 7.0
    stat = path.stat()
    time.sleep(0.02)  # past the clock tick of a kernel whose change times are coarse (4 ms at HZ=250)
    path.write_text(path.read_text().replace("good 1.0", "good 2.0"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the modification time set back
    assert path.stat().st_size == stat.st_size
    third = glove.GloveFeaturizer(vectors=str(path))
    assert len(read) == 2 and third._keyed["good"][0] == 2.0 and first._keyed["good"][0] == 1.0
    del first, second, third
    gc.collect()
    assert not glove._IN_USE, "vectors kept in memory after every featurizer let go of them"


@pytest.mark.parametrize("name", ["word2vec", "fasttext", "doc2vec"])
def test_trained_vectors_are_reproducible_and_informative(workspace, name):
    from enso_ng.experiment.models import MODELS
    from enso_ng.experiment.splits import plan_split

    assert invoke(workspace, "featurize", "-f", name, "-d", CORPUS, "-o", "epochs=5").exit_code == 0
    path = workspace / "features" / CORPUS / f"{name}.parquet"
    first = read_features(path)
    assert invoke(workspace, "featurize", "-f", name, "-d", CORPUS, "-o", "epochs=5", "--force").exit_code == 0
    assert np.array_equal(read_features(path).X, first.X), "seeded, single worker, stable hashing"
    assert first.X.shape == (CORPUS_ROWS, 100)
    plan = plan_split(first.labels, first.splits, seed=0)
    model = MODELS.get("logreg")(random_state=0).fit(first.X[plan.train(1000)], first.labels[plan.train(1000)])
    # informative: clearly above predicting the majority class (42.4% of these 500 test rows), which is
    # what uninformative vectors give; measured 0.49 (word2vec, fasttext) and 0.52 (doc2vec)
    majority = np.unique(first.labels[plan.test], return_counts=True)[1].max() / len(plan.test)
    assert np.mean(model.predict(first.X[plan.test]) == first.labels[plan.test]) > majority + 0.03


def test_interrupted_featurize_leaves_no_file(workspace, monkeypatch):
    from enso_ng.featurize import runner
    from enso_ng.featurize.glove import GloveFeaturizer

    calls = []

    def failing(self, texts):
        calls.append(len(texts))
        if len(calls) > 1:
            raise KeyboardInterrupt
        return GloveFeaturizer._pool_texts(self, texts)

    monkeypatch.setattr(GloveFeaturizer, "transform", failing)
    monkeypatch.setattr(runner, "BLOCK_ROWS", 500)  # several blocks: the interruption comes after one is written
    target = workspace / "features" / CORPUS / "glove_interrupted.parquet"
    monkeypatch.setattr(runner.Workspace, "features_path", lambda self, d, f: target)
    with pytest.raises(KeyboardInterrupt):
        runner.featurize(CORPUS, "glove", runner.Workspace(workspace), force=True)
    assert calls and not target.exists()
    assert not list(target.parent.glob(".*tmp")), "no temporary file left behind"


#: case -> (featurizer, options, bytes of one stored row); glove reads a 2,000-dimensional vectors file so
#: that the rows it writes, not the 400k default vectors it would load, are what a non-streaming writer
#: would hold; with token vectors each row holds its two words' vectors
PEAK_CASES = {
    "glove": ("glove", ["-o", "vectors={vectors}"], 2000 * 4),
    "bert": ("bert", ["-o", "layers=all"], 7 * 384 * 4),
    "glove-token-vectors": ("glove", ["-o", "vectors={vectors}", "-o", "pooling=none"], 2 * 2000 * 4),
}


@pytest.mark.parametrize("case", sorted(PEAK_CASES))
def test_peak_memory_grows_by_far_less_than_the_rows_written(tmp_path, case):
    """Streaming saves the rows: 5x the rows (8 distinct texts, so the model's work stays small) must
    raise peak memory by less than half the extra features' bytes (measured on AMD EPYC: 0.07-0.26 of them,
    the allocator's slack); a writer that kept every row until the end adds all of them (measured: 1.13-1.25,
    with the runner's blocks kept in a list and written at the end).

    The peak is a child process's own high-water mark (VmHWM), reset before each featurization: the
    ``ru_maxrss`` of a child started by ``subprocess`` also counts the pytest worker it was spawned from,
    whose size varies with the tests it ran before (CI saw 160 MiB of "growth" that way). One child does
    three featurizations (the small one, again once the first has warmed its caches and allocator, then the
    large one) and reports the peak of the last two, which start from the same state: its imports, seconds
    of each child, are paid once. It runs one thread, as under pytest-xdist on two cores: each thread's
    allocator arena adds slack that is not rows kept (bert: 0.39 of the extra bytes with two threads, in one
    process with ``-n 0``, against 0.26-0.27 with one), which more cores would push past the bound."""
    import subprocess
    import sys

    words = ["review", "the", "film", "was", "good", "bad", "and", "plot", "fine", *map(str, range(200))]
    vectors = tmp_path / "wide.txt"
    rng = np.random.default_rng(0)
    vectors.write_text("".join(f"{w} " + " ".join(f"{v:.3f}" for v in rng.normal(size=2000)) + "\n" for w in words))
    featurizer, options, row_bytes = PEAK_CASES[case]
    options = [o.format(vectors=vectors) for o in options]
    code = (
        "import json, re, sys; from enso_ng.cli import main\n"
        "import torch, transformers, pyarrow.parquet, sklearn\n"
        "roots, args = json.loads(sys.argv[1]), sys.argv[2:]\n"
        "for root in roots:\n"
        "    open('/proc/self/clear_refs', 'w').write('5')\n"
        "    sys.argv = ['enso', '-q', '-w', root, *args]\n"
        "    try:\n        main()\n    except SystemExit as e:\n        assert not e.code, e.code\n"
        "    print('peak', 1024 * int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)))\n"
        "sys.stdout.flush(); import os; os._exit(0)  # measured; no second of tearing torch down\n"
    )
    sizes, roots = (8192, 40960), {}
    for rows in sizes:
        root, source = tmp_path / f"rows{rows}", tmp_path / f"data{rows}.csv"
        # two-word texts: glove's per-block work memory grows with the tokens, the rows it writes do not
        source.write_text(
            "text,label\n" + "".join(f"{i % 8} {'good' if i % 2 else 'bad'},{'ab'[i % 2]}\n" for i in range(rows))
        )
        assert invoke(root, "download", "--from-file", str(source), "--name", "big").exit_code == 0
        roots[rows] = root
    small, large = (str(roots[n]) for n in sizes)
    args = ["featurize", "--force", "-f", featurizer, *options]
    one_thread = dict.fromkeys(THREAD_VARIABLES, "1")
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps([small, small, large]), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **one_thread},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    peaks = [int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("peak ")][1:]
    assert len(peaks) == 2, done.stdout[-2000:]
    for rows, root in roots.items():
        path = root / "features" / "big" / f"{featurizer}.parquet"
        stored = read_features(path).X.shape  # (rows, dim), or (rows, tokens, dim) for token vectors
        assert stored[0] == rows and 4 * int(np.prod(stored[1:])) == row_bytes
    assert pq.ParquetFile(path).num_row_groups > 1, "written in row groups as computed"
    extra = (sizes[1] - sizes[0]) * row_bytes
    growth = peaks[1] - peaks[0]
    assert growth < 0.5 * extra, f"peak grew {growth / 2**20:.0f} MiB for {extra / 2**20:.0f} MiB more features"


# ---------------------------------------------------------------- ELMo (tiny random weights: the tiny_elmo fixture)


def test_elmo_layers_mean_and_all(corpus_workspace, tiny_elmo, tmp_path):
    """On every 8th tweet of the corpus, 250 (the LSTM of tiny random weights is the slow part)."""
    import csv

    table = pq.read_table(corpus_workspace / "datasets" / f"{CORPUS}.parquet").take(list(range(0, CORPUS_ROWS, 8)))
    with open(tmp_path / "every8th.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([table.column_names, *zip(*(table.column(c).to_pylist() for c in table.column_names))])
    workspace = tmp_path / "ws"
    result = invoke(
        workspace,
        "download",
        "--from-file",
        str(tmp_path / "every8th.csv"),
        "--name",
        CORPUS,
        "--split-column",
        "split",
    )
    assert result.exit_code == 0, result.output
    files = ["-o", f"options_file={tiny_elmo / 'options.json'}", "-o", f"weight_file={tiny_elmo / 'weights.hdf5'}"]
    # the mean first, then every layer: the file the experiment below needs is the last one written (each
    # featurization is the slow part, so none is repeated)
    assert invoke(workspace, "featurize", "-f", "elmo", "-d", CORPUS, *files).exit_code == 0
    path = workspace / "features" / CORPUS / "elmo.parquet"
    mean = read_features(path)
    result = invoke(workspace, "featurize", "-f", "elmo", "-d", CORPUS, *files, "-o", "layers=all")
    assert result.exit_code == 0, result.output
    every = read_features(path)
    assert every.X.shape == (250, 3 * 16) and every.meta.layers == 3
    assert len(every.meta.params["weights_sha256"]) == 64
    assert np.isfinite(every.X).all() and every.X.std() > 0
    assert mean.X.shape == (250, 16) and mean.meta.layers == 1
    assert np.allclose(mean.X, every.X.reshape(250, 3, 16).mean(1), atol=1e-5), "mean of the three layers"
    # Multi-layer features feed layer_mix end to end.
    result = invoke(
        workspace,
        "experiment",
        "--sizes",
        "60",
        "--splits",
        "1",
        "--featurizers",
        "elmo",
        "--models",
        "layer_mix,logreg",
        "--metrics",
        "accuracy",
        "--name",
        "elmo-mix",
    )
    assert result.exit_code == 0, result.output
    rows = pq.read_table(workspace / "results" / "elmo-mix" / "results.parquet").to_pylist()
    assert {r["model"] for r in rows} == {"layer_mix", "logreg"}


def test_elmo_files_by_url(tiny_elmo, tmp_path, monkeypatch):
    from enso_ng.featurize import files
    from enso_ng.featurize.elmo import ElmoFeaturizer

    from conftest import serve

    monkeypatch.setattr(files, "CACHE", tmp_path / "cache")
    local = ElmoFeaturizer(options_file=str(tiny_elmo / "options.json"), weight_file=str(tiny_elmo / "weights.hdf5"))
    with serve(tiny_elmo) as base:
        remote = ElmoFeaturizer(options_file=f"{base}/options.json", weight_file=f"{base}/weights.hdf5")
    texts = ["Who wrote the Iliad ?", "ELMo reads characters"]
    assert np.array_equal(local.transform(texts), remote.transform(texts))
    assert remote.params()["weights_sha256"] == local.params()["weights_sha256"]


def test_elmo_vectors_do_not_depend_on_the_batch_before(tiny_elmo):
    """The module's biLSTM carries its states from one batch to the next unless reset (it did: a text's
    vector changed after another batch); the states are reset per batch, and the cache key says so."""
    from enso_ng.featurize.elmo import ElmoFeaturizer

    files = {"options_file": str(tiny_elmo / "options.json"), "weight_file": str(tiny_elmo / "weights.hdf5")}
    text = ["Who wrote the Iliad ?"]
    before = ["ELMo reads characters one by one", "the cat sat", "a b c d e f g"]
    for options in ({}, {"pooling": "none"}):
        alone = ElmoFeaturizer(**files, **options).transform(text)
        after = ElmoFeaturizer(**files, **options)
        after.transform(before)
        assert np.array_equal(np.asarray(alone[0]), np.asarray(after.transform(text)[0])), options
        # and within one call, a batch of one after other batches of one
        single = ElmoFeaturizer(**files, **options, batch_size=1)
        assert np.array_equal(np.asarray(alone[0]), np.asarray(single.transform([*before, *text])[-1])), options
        assert after.params()["lstm_states"] == "reset"


def test_elmo_without_its_extra_says_how_to_install(corpus_workspace, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "simple_elmo_pytorch.models.elmo", None)
    result = invoke(corpus_workspace, "featurize", "-f", "elmo", "-d", CORPUS)
    assert result.exit_code == 1 and "pip install 'enso_ng[elmo]'" in result.output


def test_auto_on_a_handful_of_texts_is_fp32_and_caches_nothing(tmp_path, monkeypatch):
    """Two texts time nothing reliably: a decision taken on them once stuck for every later run."""
    monkeypatch.setenv("ENSO_CACHE", str(tmp_path / "cache"))
    featurizer = BertFeaturizer(precision="auto")
    featurizer.prepare(["great film", "awful", "great film"])
    assert featurizer.precision == "fp32" and "too few to time" in featurizer.auto["why"]
    assert not (tmp_path / "cache" / "precision").exists()
