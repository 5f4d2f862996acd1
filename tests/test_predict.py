"""``enso predict``: every input and output format, rows that cannot be scored, refusals, bounded memory."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from enso_ng.formats import MANIFEST_FILE, MODEL_FORMAT_VERSION, ModelManifest

from conftest import CORPUS, invoke


@pytest.fixture(scope="module")
def trained(_corpus, tmp_path_factory) -> Path:
    """A workspace holding models/tweets-tfidf: tf-idf + logreg on every training row of the corpus."""
    root = Path(shutil.copytree(_corpus, tmp_path_factory.mktemp("predict") / "ws"))
    result = invoke(root, "train", "-d", CORPUS, "-f", "tfidf", "-m", "logreg", "--name", "tweets-tfidf")
    assert result.exit_code == 0, result.output
    return root


def texts_of(root: Path, split: str = "test") -> list[str]:
    table = pq.read_table(root / "datasets" / f"{CORPUS}.parquet").to_pylist()
    return [r["text"] for r in table if r["split"] == split]


def test_training_rows_only_fit_the_tfidf_and_the_manifest_says_what_was_trained(trained):
    from sklearn.feature_extraction.text import TfidfVectorizer

    folder = trained / "models" / "tweets-tfidf"
    manifest = ModelManifest.read(folder)
    assert manifest.format_version == MODEL_FORMAT_VERSION and manifest.training["rows"] == 1500
    assert manifest.featurizer["name"] == "tfidf" and manifest.model["name"] == "logreg"
    assert set(manifest.files) == {p.name for p in folder.iterdir()} - {MANIFEST_FILE}
    assert all(not name.endswith((".pkl", ".pickle", ".joblib")) for name in manifest.files)
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}
    # every file under the umask, as a shared folder needs (safetensors' own writer made its file owner-only)
    assert modes == dict.fromkeys(modes, 0o666 & ~umask), modes
    params = manifest.featurizer["params"]
    reference = TfidfVectorizer(
        ngram_range=(params["ngram_min"], params["ngram_max"]),
        min_df=params["min_df"],
        max_features=params["max_features"],
        sublinear_tf=params["sublinear_tf"],
    ).fit(texts_of(trained, "train"))
    terms = json.loads((folder / "featurizer.json").read_text())["state"]["terms"]
    assert terms == sorted(reference.vocabulary_, key=reference.vocabulary_.get), "fitted on training rows only"
    everything = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(
        texts_of(trained, "train") + texts_of(trained)
    )
    assert len(everything.vocabulary_) > len(terms), "test texts would have added terms"


def test_every_format_in_and_out_gives_the_same_predictions(trained, tmp_path):
    texts = texts_of(trained)[:50]
    inputs = {
        "in.csv": lambda p: _csv(p, texts, ","),
        "in.tsv": lambda p: _csv(p, texts, "\t"),
        "in.jsonl": lambda p: p.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts)),
        "in.parquet": lambda p: pq.write_table(pa.table({"text": texts}), p),
        "in.txt": lambda p: p.write_text("".join(t.replace("\n", " ") + "\n" for t in texts)),
    }
    outputs = []
    for name, write in inputs.items():
        write(tmp_path / name)
        for out in ("out.parquet", "out.csv", "out.jsonl"):
            target = tmp_path / f"{name}.{out}"
            result = invoke(trained, "predict", "tweets-tfidf", str(tmp_path / name), "-o", str(target))
            assert result.exit_code == 0, result.output
            assert "50 rows, 50 scored" in result.output
            outputs.append(_rows(target))
    stdin = invoke_stdin(trained, "\n".join(t.replace("\n", " ") for t in texts) + "\n")
    outputs.append(list(csv.DictReader(stdin.splitlines())))
    first = outputs[0]
    assert [r["row"] for r in first] == list(range(50))
    for other in outputs[1:]:
        assert [r["label"] for r in other] == [r["label"] for r in first]
        np.testing.assert_allclose(
            [float(r["proba_negative"]) for r in other], [r["proba_negative"] for r in first], rtol=1e-9
        )


def invoke_stdin(root: Path, text: str, *args: str) -> str:
    from click.testing import CliRunner

    from enso_ng.cli import cli

    command = ["-q", "--workspace", str(root), "predict", "tweets-tfidf", "-", *args]
    result = CliRunner().invoke(cli, command, input=text)
    assert result.exit_code == 0, result.output
    return result.stdout


def _csv(path: Path, texts: list[str], delimiter: str) -> None:
    """csv as Python's writer quotes it; tsv as IANA's format has it, unquoted (no tab or newline in a field)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        if delimiter == "\t":
            fh.write("id\ttext\n" + "".join(f"{i}\t{' '.join(t.split())}\n" for i, t in enumerate(texts)))
            return
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(["id", "text"])
        writer.writerows(enumerate(texts))


def _rows(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    return [{**r, "row": int(r["row"])} for r in csv.DictReader(path.open())]


def test_rows_that_cannot_be_scored_keep_their_place_with_a_status(trained, tmp_path):
    lines = [
        {"id": "a", "text": "what a great day"},
        {"id": "b", "text": ""},
        {"id": "c"},
        {"id": "d", "text": 42},
        "this line is not json",
        {"id": "f", "text": "awful, just awful"},
    ]
    source = tmp_path / "mixed.jsonl"
    source.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    out = tmp_path / "mixed.parquet"
    result = invoke(
        trained, "predict", "tweets-tfidf", str(source), "--id-column", "id", "-o", str(out), "--top-k", "2"
    )
    assert result.exit_code == 0, result.output
    assert "6 rows, 2 scored; not scored: 1 empty, 1 missing, 1 not_text, 1 unreadable" in result.output
    rows = pq.read_table(out).to_pylist()
    assert [r["status"] for r in rows] == ["ok", "empty", "missing", "not_text", "unreadable", "ok"]
    assert [r["id"] for r in rows] == ["a", "b", "c", "d", None, "f"]
    assert [r["label"] is None for r in rows] == [False, True, True, True, True, False]
    assert set(pq.read_schema(out).names) == {
        "row",
        "id",
        "status",
        "label",
        "label_1",
        "proba_1",
        "label_2",
        "proba_2",
    }
    assert all(r["proba_1"] >= r["proba_2"] and r["label_1"] == r["label"] for r in rows if r["status"] == "ok")


def test_a_csv_row_that_cannot_be_scored_keeps_its_place_and_any_field_length_is_read(trained, tmp_path):
    """A CSV as users' tools write them: a byte-order mark (Excel's "CSV UTF-8"), a blank line (an empty
    text; blank lines at the end are the file's end), a record with a field too many (unreadable), quotes and newlines in a field, a field of 3 MB
    (arrow's streaming reader refused one over its 1 MiB block); standard input with --input-format too."""
    long_text = "awful, " * 500_000
    source = tmp_path / "excel.csv"
    source.write_bytes(
        f'\ufeffid,text\n1,great day\n\n3,bad,extra\n4,"she said ""fine""\nthen left"\n5,"{long_text}"\n\n\n'.encode()
    )
    out = tmp_path / "excel.parquet"
    result = invoke(trained, "predict", "tweets-tfidf", str(source), "--id-column", "id", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "5 rows, 3 scored; not scored: 1 empty, 1 unreadable" in result.output, result.output
    rows = pq.read_table(out).to_pylist()
    assert [r["status"] for r in rows] == ["ok", "empty", "unreadable", "ok", "ok"]
    assert [r["id"] for r in rows] == ["1", "", None, "4", "5"] and [r["row"] for r in rows] == list(range(5))
    alone = tmp_path / "alone.csv"
    _csv(alone, ['she said "fine"\nthen left', long_text], ",")
    again = tmp_path / "alone.parquet"
    assert invoke(trained, "predict", "tweets-tfidf", str(alone), "-o", str(again)).exit_code == 0
    assert [r["proba_negative"] for r in pq.read_table(again).to_pylist()] == [r["proba_negative"] for r in rows[3:]]
    tsv = tmp_path / "quotes.tsv"  # tsv has no quoting: a quote is a character of the text
    tsv.write_text('text\n"Great" day, she said "fine\n')
    quoted = tmp_path / "quotes.csv"
    quoted.write_text('text\n"""Great"" day, she said ""fine"\n')
    outs = [tmp_path / "quotes_tsv.parquet", tmp_path / "quotes_csv.parquet"]
    for given, target in zip((tsv, quoted), outs):
        assert invoke(trained, "predict", "tweets-tfidf", str(given), "-o", str(target)).exit_code == 0
    assert pq.read_table(outs[0]).to_pylist() == pq.read_table(outs[1]).to_pylist()
    assert pq.read_table(outs[0]).num_rows == 1
    piped = invoke_stdin(trained, "text\ngreat day\n", "--input-format", "csv")
    assert list(csv.DictReader(piped.splitlines()))[0]["proba_negative"] == str(rows[0]["proba_negative"])


def test_an_unterminated_quote_is_an_error_naming_its_line_not_rows_swallowed(trained, tmp_path):
    """Every row after an unterminated quote would be read into its one field: 51 rows scored of 100 and exit
    0, before. It is an error naming the line the quote opens, and nothing is written."""
    lines = ["id,text", *(f"{i},great item {i}" for i in range(100))]
    lines[51] = '50,"she said great'
    source = tmp_path / "quote.csv"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "quote.csv.out.csv"
    result = invoke(trained, "predict", "tweets-tfidf", str(source), "--id-column", "id", "-o", str(out))
    assert result.exit_code == 1, result.output
    assert result.output == f"Error: {source}: line 52: malformed csv (unexpected end of data)\n"
    assert not out.exists() and not list(tmp_path.glob(".*tmp"))


def test_sigterm_ends_predict_as_ctrl_c_does_leaving_no_temporary_file(trained, tmp_path):
    """SIGTERM killed Python on the spot: the output's temporary file stayed beside where the output goes."""
    import signal

    from reliability import enso, wait_for

    source = tmp_path / "many.csv"
    source.write_text("text\n" + "".join(f"great film number {i}\n" for i in range(300_000)))
    folder = tmp_path / "out"
    process = enso(trained, "predict", "tweets-tfidf", str(source), "--batch-size", "200", "-o", str(folder / "o.csv"))
    try:
        wait_for(lambda: list(folder.glob(".o.csv.*.tmp")), "predict's temporary file", process=process)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    # unwound, then ended by the signal itself, as a supervisor expects of SIGTERM (a shell's status 143)
    assert process.returncode == -signal.SIGTERM and output.strip().endswith("Aborted!"), output
    assert list(folder.iterdir()) == []


def test_sigterm_keeps_what_a_command_wrote_to_standard_output(tmp_path):
    """Ending by the signal skips the interpreter's flush: rows a command had written to a pipe's buffer
    (``enso predict`` to standard output) were lost, the last ones. PYTHONUNBUFFERED, which this environment
    sets, hid it: it is unset here, as in a user's shell."""
    import signal

    code = (
        "import sys, time\n"
        "from enso_ng import cli\n"
        "@cli.cli.command('emit')\n"
        "def emit():\n"
        "    for i in range(1000):\n"
        "        sys.stdout.buffer.write(b'%d\\n' % i)\n"
        "    sys.stderr.write('written\\n'); sys.stderr.flush(); time.sleep(60)\n"
        "sys.argv = ['enso', 'emit']\n"
        "cli.main()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = str(Path(__file__).parents[1])
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path
    )
    try:
        assert process.stderr.readline() == b"written\n"
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGTERM
    assert out.decode().split() == [str(i) for i in range(1000)], "every row written before the signal"


def test_a_plain_name_is_the_workspaces_model_whatever_the_current_folder_holds(trained, tmp_path, monkeypatch):
    """A folder of the model's name in the current directory shadowed the workspace's model (and one holding
    another model scored with it, silently); a path is written as one."""
    source = tmp_path / "in.csv"
    _csv(source, ["fine"], ",")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tweets-tfidf").mkdir()
    result = invoke(trained, "predict", "tweets-tfidf", str(source))
    assert result.exit_code == 0 and "1 rows, 1 scored" in result.output, result.output
    shutil.copytree(trained / "models" / "tweets-tfidf", tmp_path / "copy")
    assert invoke(trained, "predict", "./copy", str(source)).exit_code == 0
    assert invoke(trained, "predict", "copy", str(source)).output.startswith("Error: ")


def test_bad_requests_are_one_line_errors_and_write_nothing(trained, tmp_path):
    source, text = tmp_path / "in.csv", tmp_path / "in.txt"
    _csv(source, ["fine"], ",")
    text.write_text("fine\n")
    out = tmp_path / "never.parquet"
    for args, says in (
        (["no-such-model", str(source)], "no such model folder"),
        (["tweets-tfidf", str(tmp_path / "absent.csv")], "no such input file"),
        (["tweets-tfidf", str(source), "--text-column", "body"], "no column 'body'"),
        (["tweets-tfidf", str(source), "--top-k", "4"], "--top-k must be between 1 and 3"),
        (["tweets-tfidf", str(tmp_path / "in.xlsx")], "cannot tell the format from '.xlsx'"),
        (["tweets-tfidf", str(text), "--id-column", "id"], "is plain text, one text a line, with no columns"),
    ):
        result = invoke(trained, "predict", *args, "-o", str(out))
        assert result.exit_code == 1 and says in result.output, result.output
        assert result.output.count("\n") == 1 and result.output.startswith("Error: ")
        assert not out.exists()
    folder = tmp_path / "out"
    folder.mkdir()
    result = invoke(trained, "predict", "tweets-tfidf", str(source), "-o", str(folder), "--format", "csv")
    assert result.output == f"Error: {folder}: is a folder; -o takes a file name (e.g. {folder}/scored.parquet)\n"
    assert list(folder.iterdir()) == []


def test_train_refuses_an_unknown_option_and_an_unusable_store_before_fitting(trained, monkeypatch):
    """A typo in ``-o`` was left out silently (the folder recorded the default), and ``--mlflow`` with a bad
    URI failed only after the fit, with the folder written: rerunning then needed --force."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # refused at once, not after MLflow's back-off
    common = ["train", "-d", CORPUS, "-f", "tfidf", "-m", "logreg"]
    for args, says in (
        (["-o", "ngram_mx=3", "--name", "typo"], "featurizer 'tfidf' has no option ngram_mx (options: analyzer"),
        (["--mlflow", "ftp://x", "--name", "typo"], "--mlflow ftp://x: no MLflow store has the scheme 'ftp'"),
        # a store that does not answer (nothing listens on port 9): reached before the fit, not after it
        (["--mlflow", "http://127.0.0.1:9", "--name", "typo"], "--mlflow http://127.0.0.1:9: API request to"),
    ):
        result = invoke(trained, *common, *args)
        assert result.exit_code == 1 and result.output.startswith(f"Error: {says}"), result.output
        assert result.output.count("\n") == 1
        assert not (trained / "models" / "typo").exists()


def _tampered_copy(trained: Path, tmp_path: Path) -> Path:
    folder = Path(shutil.copytree(trained / "models" / "tweets-tfidf", tmp_path / "copy"))
    return folder


@pytest.mark.parametrize(
    "which", ["manifest.json", "featurizer.json", "featurizer.safetensors", "model.json", "model.safetensors"]
)
def test_a_changed_byte_in_any_file_is_refused(trained, tmp_path, which):
    folder = _tampered_copy(trained, tmp_path)
    path = folder / which
    data = bytearray(path.read_bytes())
    at = data.index(b"positive") + 2 if which == "manifest.json" else len(data) // 2
    data[at] = (data[at] + 1) % 256
    path.write_bytes(bytes(data))
    source = tmp_path / "in.txt"
    source.write_text("hello\n")
    out = tmp_path / "out.csv"
    result = invoke(trained, "predict", str(folder), str(source), "-o", str(out))
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1 and "changed after training: retrain it" in result.output, result.output
    assert not out.exists()


@pytest.mark.parametrize(
    "edit, says",
    [
        (lambda m: m.update(files=list(m["files"])), "files is a list, not a dict"),
        (lambda m: m.update(featurizer=None), "featurizer is a NoneType, not a dict"),
        (lambda m: m.update(model={}), "model has no 'name'"),
        (lambda m: m["model"]["params"].update(surplus=1), "model logreg takes no parameter surplus"),
        (lambda m: m.update(labels=[1, 2, 3]), "labels must all be text"),
    ],
    ids=["files-list", "featurizer-null", "model-empty", "model-param-extra", "labels-numbers"],
)
def test_a_resealed_manifest_of_another_shape_is_refused_in_one_line(trained, tmp_path, edit, says):
    """Someone who edits a manifest and computes its digest again gets past the checksum; a field of another
    type then met the loader as an AttributeError, KeyError or TypeError traceback. Nothing in it runs code."""
    import hashlib

    folder = tmp_path / "resealed"
    shutil.copytree(trained / "models" / "tweets-tfidf", folder)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    edit(manifest)
    body = {k: v for k, v in manifest.items() if k != "digest"}
    manifest["digest"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    source = tmp_path / "in.csv"
    _csv(source, ["fine"], ",")
    result = invoke(trained, "predict", str(folder), str(source))
    assert result.exit_code == 1 and result.output.startswith("Error: ") and says in result.output, result.output
    assert result.output.count("\n") == 1


def test_an_added_file_and_a_newer_format_are_refused(trained, tmp_path):
    folder = _tampered_copy(trained, tmp_path)
    source = tmp_path / "in.txt"
    source.write_text("hello\n")
    (folder / "extra.pkl").write_bytes(b"\x80\x04N.")
    result = invoke(trained, "predict", str(folder), str(source))
    assert result.exit_code == 1 and "not listed in the manifest" in result.output, result.output
    (folder / "extra.pkl").unlink()
    manifest = ModelManifest.read(folder)
    manifest.format_version = MODEL_FORMAT_VERSION + 1
    manifest.write(folder)  # a newer writer's folder: its digest is consistent
    result = invoke(trained, "predict", str(folder), str(source))
    assert result.exit_code == 1, result.output
    assert f"model format {MODEL_FORMAT_VERSION + 1} is newer than this enso_ng reads" in result.output
    assert "upgrade enso_ng" in result.output


def test_a_missing_encoder_is_refused_with_what_to_do(workspace, tmp_path):
    from enso_ng.encoders import DEFAULT_MODEL, resolve_model_folder

    encoder = Path(shutil.copytree(resolve_model_folder(DEFAULT_MODEL), tmp_path / "minilm"))
    every = pq.read_table(workspace / "datasets" / f"{CORPUS}.parquet").to_pylist()
    rows = [r for label in ("negative", "neutral", "positive") for r in [x for x in every if x["label"] == label][:20]]
    small = tmp_path / "small.csv"
    with open(small, "w", newline="") as fh:
        writer = csv.DictWriter(fh, ["text", "label"])
        writer.writeheader()
        writer.writerows({"text": r["text"], "label": r["label"]} for r in rows)
    assert invoke(workspace, "download", "--from-file", str(small), "--name", "small").exit_code == 0
    result = invoke(
        workspace, "train", "-d", "small", "-f", "bert", "-m", "logreg", "-o", f"model={encoder}", "--name", "mini"
    )
    assert result.exit_code == 0, result.output
    bundled = ["-d", "small", "-f", "bert", "-m", "logreg", "-o", f"model={encoder}", "--bundle", "--name", "bundled"]
    assert invoke(workspace, "train", *bundled).exit_code == 0
    source = tmp_path / "in.txt"
    source.write_text("a fine day\n")
    assert invoke(workspace, "predict", "mini", str(source), "-o", str(tmp_path / "before.csv")).exit_code == 0
    shutil.rmtree(encoder)
    result = invoke(workspace, "predict", "mini", str(source))
    assert result.exit_code == 1, result.output
    assert f"the model's encoder {encoder} is missing; install the encoder" in result.output
    result = invoke(workspace, "predict", "bundled", str(source), "-o", str(tmp_path / "after.csv"))
    assert result.exit_code == 0, "a bundled encoder travels with the folder"
    assert (tmp_path / "after.csv").read_text() == (tmp_path / "before.csv").read_text()


def _peak_rss_mb(workspace: Path, source: Path, out: Path, batch: int) -> float:
    """Peak resident memory of ``enso predict`` run alone in a child process (MB)."""
    child = (
        "import resource, subprocess, sys\n"
        f"r = subprocess.run([sys.executable, '-m', 'enso_ng', '-q', '-w', {str(workspace)!r}, 'predict', 'tweets-tfidf', "
        f"{str(source)!r}, '-o', {str(out)!r}, '--batch-size', '{batch}'])\n"
        "assert r.returncode == 0\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1]) / 1024


def test_100k_rows_stream_in_bounded_memory(trained, tmp_path):
    texts = texts_of(trained, "train")
    for n in (10_000, 100_000):
        pq.write_table(
            pa.table({"text": [texts[i % len(texts)] + f" #{i}" for i in range(n)]}), tmp_path / f"{n}.parquet"
        )
    small = _peak_rss_mb(trained, tmp_path / "10000.parquet", tmp_path / "10000.out.parquet", 2048)
    large = _peak_rss_mb(trained, tmp_path / "100000.parquet", tmp_path / "100000.out.parquet", 2048)
    assert pq.read_metadata(tmp_path / "100000.out.parquet").num_rows == 100_000
    assert large < 1500, f"peak {large:.0f} MB"
    assert large - small < 40, (
        f"memory grows with the input: {small:.0f} MB for 10,000 rows, {large:.0f} MB for 100,000"
    )


def test_scheduler_scores_the_batches_on_a_dask_cluster_as_a_local_run_does(trained, tmp_path):
    """``--scheduler local:2``: a real LocalCluster whose two worker processes load the folder themselves;
    the output is the local run's, row for row, unscorable rows included, in input order."""
    pytest.importorskip("distributed", reason="needs the enso_ng[dask] extra")
    texts: list = texts_of(trained)[:450]
    texts[3], texts[200], texts[449] = "", None, "   "
    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(len(texts))], "text": texts}), source)
    outputs = {}
    for where, extra in (("local", []), ("cluster", ["--scheduler", "local:2"])):
        out = tmp_path / f"{where}.parquet"
        args = ["predict", "tweets-tfidf", str(source), "--id-column", "id", "--batch-size", "64", "-o", str(out)]
        result = invoke(trained, *args, *extra)
        assert result.exit_code == 0, result.output
        assert "450 rows, 447 scored; not scored: 2 empty, 1 missing" in result.output
        outputs[where] = pq.read_table(out)
    assert outputs["cluster"].equals(outputs["local"])
    assert outputs["cluster"].column("id").to_pylist() == [f"r{i}" for i in range(450)]
    bad = invoke(
        trained, "predict", "tweets-tfidf", str(source), "--scheduler", "local:0", "-o", str(tmp_path / "x.csv")
    )
    assert bad.exit_code == 1 and "--scheduler 'local:0': expected local:N" in bad.output
    assert not (tmp_path / "x.csv").exists()


def test_the_onnx_runtime_tokenizes_as_transformers_does(tmp_path):
    """``--runtime onnx`` reads tokenizer.json with the tokenizers library (no transformers import at a cold
    start): the ids, masks and type ids must be transformers' own, truncation included."""
    import shutil

    from enso_ng.encoders import DEFAULT_MODEL, resolve_model_folder
    from enso_ng.serve.export import TOKENIZER_FILES, _fast_tokenizer, _transformers_tokenizer

    source = resolve_model_folder(DEFAULT_MODEL)
    for file in TOKENIZER_FILES:
        shutil.copy(source / file, tmp_path / file)
    texts = [
        "A plain sentence.",
        "",
        "   ",
        "Zoë's café — naïve résumé, ÉCOLE",
        "emoji 🙂🙃 and CJK 東京 and tabs\tand\nnewlines",
        "word " * 200,  # truncated at max_length
        "unbelievably-hyphenated,punctuated!!!words???",
    ]
    for max_length in (16, 128):
        fast = _fast_tokenizer(tmp_path, max_length)(texts)
        reference = _transformers_tokenizer(tmp_path, max_length)(texts)
        assert fast == [{key: list(row[key]) for key in fast[0]} for row in reference]
        assert max(len(row["input_ids"]) for row in fast) == max_length
