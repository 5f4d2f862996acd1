"""The plain-torch BERT (``featurize/bert_native.py``) against transformers on the default MiniLM.

It replaces transformers only where it is the same model: the same ids from the same ``tokenizer.json``, and
every layer's hidden states within float32 rounding, at fp32 and under bf16 autocast; any other folder still
loads through transformers, and gives the same vectors there."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from enso_ng.encoders import DEFAULT_MODEL, resolve_model_folder
from enso_ng.featurize import bert_native
from enso_ng.featurize.bert import BertFeaturizer

TEXTS = [
    "a fine day",
    "",
    "   ",
    "The QUICK brown fox, naïve café, Ωμέγα, 東京, İstanbul 🙂 " * 12,  # truncated at 64, not at 256
    "don't stop-believing!!",
    "x" * 300,
    "two\nlines\tand tabs",
]


@pytest.fixture(scope="module")
def folder():
    return resolve_model_folder(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def reference(folder):
    from transformers import AutoModel, AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder)), AutoModel.from_pretrained(str(folder)).eval()


@pytest.mark.parametrize("max_length", [None, 16, 64, 256])
def test_ids_are_transformers_ids(folder, reference, max_length):
    tokenizer, _ = reference
    ours = bert_native.Tokenizer(folder)
    if max_length is None:
        expected = tokenizer(TEXTS, truncation=False)
    else:
        expected = tokenizer(TEXTS, truncation=True, max_length=max_length)
    got = ours(TEXTS, truncation=max_length is not None, max_length=max_length)
    for name in ours.model_input_names:
        assert got[name] == expected[name], name
    assert ours.model_input_names == list(tokenizer.model_input_names)


def test_every_layer_equals_transformers_on_a_padded_batch(folder, reference):
    tokenizer, model = reference
    encoded = tokenizer(TEXTS, truncation=True, max_length=64)
    features = [{k: encoded[k][i] for k in encoded.keys()} for i in range(len(TEXTS))]
    ours = bert_native.Tokenizer(folder)
    batch, expected_batch = ours.pad(features), tokenizer.pad(features, padding=True, return_tensors="pt")
    for name in expected_batch:
        assert torch.equal(batch[name], expected_batch[name]), name
    assert int(batch["attention_mask"].sum(1).min()) == 2 and batch["input_ids"].shape[1] == 64, "padding exercised"
    encoder = bert_native.Encoder(folder)
    keep = batch["attention_mask"].bool()
    for autocast in (False, True):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            expected = model(**expected_batch, output_hidden_states=True)
            got = encoder(**batch, output_hidden_states=True)
        assert len(got.hidden_states) == model.config.num_hidden_layers + 1
        for layer, (a, b) in enumerate(zip(got.hidden_states, expected.hidden_states)):
            gap = float((a.float() - b.float())[keep].abs().max())
            assert gap <= 1e-5, f"layer {layer}, bf16 {autocast}: {gap}"
        assert torch.equal(got.last_hidden_state, got.hidden_states[-1])


def _linked_copy(source, target, drop=(), config=None):
    target.mkdir()
    for path in source.iterdir():
        if path.is_file() and path.name not in drop:
            (target / path.name).symlink_to(path)
    if config is not None:
        (target / "config.json").unlink()
        (target / "config.json").write_text(json.dumps(config))
    return target


def test_only_the_plain_architecture_is_taken_and_the_others_load_through_transformers(folder, tmp_path):
    config = json.loads((folder / "config.json").read_text())
    assert bert_native.supports(folder)
    others = {
        "roberta": {**config, "model_type": "roberta"},
        "relative": {**config, "position_embedding_type": "relative_key"},
        "decoder": {**config, "is_decoder": True},
        "gelu_new": {**config, "hidden_act": "gelu_new"},
    }
    for name, changed in others.items():
        assert not bert_native.supports(_linked_copy(folder, tmp_path / name, config=changed)), name
    slow = _linked_copy(folder, tmp_path / "no-fast-tokenizer", drop=("tokenizer.json",))
    assert not bert_native.supports(slow)
    texts = TEXTS[:5]
    native = BertFeaturizer(model=str(folder), layers="all")
    vectors = native.transform(texts)
    assert type(native._model).__module__ == "enso_ng.featurize.bert_native"
    fallback = BertFeaturizer(model=str(slow), layers="all")
    expected = fallback.transform(texts)
    assert type(fallback._model).__module__.startswith("transformers.")
    np.testing.assert_allclose(vectors, expected, atol=1e-6, rtol=0)


def test_featurizing_with_the_default_encoder_does_not_import_transformers():
    """What makes ``enso predict``'s torch path start in about 2.5 s instead of 5-6 s."""
    code = (
        "import sys\nfrom enso_ng.featurize.bert import BertFeaturizer\n"
        "v = BertFeaturizer().transform(['a fine day', 'a bad one'])\n"
        "assert v.shape == (2, 384), v.shape\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('transformers', 'sklearn')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_the_weights_digest_is_computed_once_and_again_for_a_changed_file(tmp_path, monkeypatch):
    """An encoder's sha256 (its identity in every record) is hashed once per process, and hashed anew when the
    file is rewritten, even to the same size and modification time."""
    import os
    import time

    from enso_ng import encoders, workspace

    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"a" * 4096)
    hashed = []
    monkeypatch.setattr(workspace, "sha256_file", lambda path: hashed.append(path) or path.read_bytes()[:1].hex())
    assert encoders.weights_sha256(tmp_path) == encoders.weights_sha256(tmp_path) == "61"
    assert len(hashed) == 1
    stat = weights.stat()
    time.sleep(0.02)  # past the clock tick of a kernel whose change times are coarse (4 ms at HZ=250)
    with open(weights, "r+b") as fh:  # in place: same inode and size
        fh.write(b"b")
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the modification time set back
    assert encoders.weights_sha256(tmp_path) == "62" and len(hashed) == 2
