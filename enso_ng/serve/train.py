"""``enso train``: fit one featurizer + model pair and write it as a model folder, ``models/<name>/``.

Two ways to choose the rows. Without ``size``/``split`` the pair trains on every labelled row outside the
test split (the featurizer fitted on those rows only; hyper-parameters by the model's own inner CV, as in
the experiment). With them it reproduces one experiment cell exactly: the split plan's rows, the run's
model parameters, the very vectors the cell was fitted on (its features file, checked against the
featurizer rebuilt here), so the folder predicts that cell's test rows as the experiment did.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from enso_ng.errors import EnsoError, either
from enso_ng.experiment.models import MODELS
from enso_ng.experiment.models.base import CellContext
from enso_ng.experiment.samplers import RESAMPLERS
from enso_ng.experiment.splits import plan_split
from enso_ng.featurize import FEATURIZERS
from enso_ng.formats import (
    MODEL_FORMAT_VERSION,
    TOKEN_IDS,
    TOKEN_VECTORS,
    Features,
    ModelManifest,
    TokenVectors,
    read_dataset,
    read_features,
)
from enso_ng.progress import bar
from enso_ng.provenance import library_versions
from enso_ng.serve import export, featurizers, weights
from enso_ng.serve.choice import Choice, choose
from enso_ng.serve.features import as_features, model_input
from enso_ng.serve.folder import new_folder, plain, refuse_existing, seal, write_parts
from enso_ng.serve.pipeline import FEATURIZER_PREFIX, MODEL_PREFIX
from enso_ng.workspace import Workspace

BLOCK_ROWS = 4096
#: rows embedded again to check that stored vectors are the featurizer's (a cell's, or the training rows')
SAMPLE_ROWS = 64


@dataclass
class Trained:
    path: Path
    manifest: ModelManifest
    seconds: float
    #: the MLflow model URI (``--mlflow``), for ``mlflow models serve -m``
    mlflow_uri: str | None = None

    def lines(self) -> list[str]:
        """What was written, the accuracy to expect (from the run it reproduces) and how to serve it."""
        m = self.manifest
        lines = [
            f"wrote {self.path}: {m.featurizer['name']} + {m.model['name']} on {m.training['rows']} rows of "
            f"{m.training['dataset']} ({len(m.labels)} labels) in {self.seconds:.1f} s"
        ]
        if m.expected:
            e = m.expected
            interval = "" if e.get("ci_low") is None else f", 95% CI [{e['ci_low']:.3f}, {e['ci_high']:.3f}]"
            lines.append(
                f"expected {e['metric']}: {e['mean']:.3f}{interval} over {e['splits']} splits at {e['size']} "
                f"{e['size_unit']} (run {e['run']})"
                + (f"; split {e['split']}: {e['value']:.3f}" if "split" in e else "")
            )
        if self.mlflow_uri:
            lines.append(
                f"logged to MLflow as {self.mlflow_uri} "
                f"(serve: mlflow models serve -m {self.mlflow_uri} --env-manager local)"
            )
        return lines


def train(
    workspace: Workspace,
    name: str,
    dataset: str | None = None,
    featurizer: str | None = None,
    model: str | None = None,
    options: dict[str, Any] | None = None,
    from_run: str | None = None,
    size: int | None = None,
    split: int | None = None,
    force: bool = False,
    onnx: bool = False,
    mlflow: str | None = None,
    bundle: bool = False,
    max_ms_per_doc: float | None = None,
) -> Trained:
    """Fit the pair (named, or the run's winner at its largest size) and write ``models/<name>/``."""
    started = time.perf_counter()
    refuse_existing(workspace.model_dir(name), force)  # a bad or taken name fails before any work (a fit
    # of every training row can take minutes); new_folder checks again when the folder is written
    choice = choose(workspace, dataset, featurizer, model, from_run, size, split, max_ms_per_doc)
    weights.codec_of(choice.model)  # a kind without a codec fails before any fitting
    featurizers.state_of(choice.featurizer)
    if options:  # ``build`` leaves out recorded entries that are not options (measured ones): a typo too
        FEATURIZERS.get(choice.featurizer).check_known(options)
    if mlflow:  # reached before the fit: a bad URI or a dead server is one line, not minutes of fitting lost
        from enso_ng.tracking import connect

        connect(mlflow)
    if onnx:
        params = _options(workspace, choice, options)  # as given, or as its features file records them
        export.check_exportable(choice.featurizer, choice.model, params, choice.config.params_of(choice.model))
    table, data_meta = read_dataset(_dataset_path(workspace, choice.dataset))
    if data_meta.pairs:
        raise EnsoError(
            f"{choice.dataset} is a sentence-pair dataset: enso train and predict take one text per row "
            "(pairs are scored by enso experiment only, so far)"
        )
    texts = np.asarray(table.column("text").to_pylist(), dtype=object)
    labels = np.asarray(table.column("label").to_pylist(), dtype=object)
    splits = np.asarray(table.column("split").to_pylist(), dtype=object)
    if choice.size is not None:
        fitted_model, fitted_featurizer, rows, fitted_on = _reproduce(workspace, choice, texts, data_meta, options)
    else:
        fitted_model, fitted_featurizer, rows, fitted_on = _production(
            workspace, choice, texts, labels, splits, options, data_meta.fingerprint
        )
    spec = _featurizer_spec(fitted_featurizer, fitted_on)
    manifest = _manifest(name, choice, spec, fitted_model, data_meta, labels, rows)
    path = workspace.model_dir(name)
    with new_folder(path, force) as tmp:
        _write_parts(tmp, manifest, choice, fitted_featurizer, fitted_model, bundle, onnx)
    logged = None
    if mlflow:
        from enso_ng.serve.mlflow_log import log_folder

        logged = log_folder(mlflow, path, manifest)
    return Trained(path, manifest, time.perf_counter() - started, logged)


def _manifest(name, choice, spec, fitted_model, data_meta, labels, rows) -> ModelManifest:
    """What the folder holds and why to trust it: the pair, its training rows and the accuracy to expect."""
    return ModelManifest(
        format_version=MODEL_FORMAT_VERSION,
        name=name,
        featurizer=spec,
        model={
            "name": choice.model,
            "params": plain(fitted_model.get_params()),
            "chosen": plain(getattr(fitted_model, "best_params_", {})),
            "scores": "proba" if fitted_model.has_proba else "decision",
            "run_params": plain(choice.config.params_of(choice.model)),
            **_distilled(fitted_model),
        },
        labels=[str(c) for c in fitted_model.classes_],
        training={
            "dataset": choice.dataset,
            "fingerprint": data_meta.fingerprint,
            **_rows_record(rows),
            "labels": {str(k): int(v) for k, v in zip(*np.unique(labels[rows].astype(str), return_counts=True))},
        },
        expected=choice.expected,
        versions=_versions(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _distilled(model: Any) -> dict[str, Any]:
    """A distilled model's folder holds its student alone: which teacher labelled its extra rows, and which
    model is deployed."""
    if not hasattr(model, "student_"):
        return {}
    return {"teacher": model.teacher, "deployed": model.student}


def _write_parts(tmp: Path, manifest, choice, fitted_featurizer, fitted_model, bundle: bool, onnx: bool) -> None:
    """The featurizer's and the model's state, the bundled encoder and the ONNX graph, then the seal."""
    write_parts(tmp, FEATURIZER_PREFIX, featurizers.state_of(choice.featurizer).save(fitted_featurizer))
    write_parts(tmp, MODEL_PREFIX, weights.codec_of(choice.model).save(fitted_model))
    if bundle:
        manifest.featurizer["encoder"] = featurizers.bundle(tmp, fitted_featurizer)
    if onnx:
        export.check_exportable(
            choice.featurizer, choice.model, manifest.featurizer["params"], manifest.model["params"]
        )
        files = export.export(tmp, fitted_featurizer, fitted_model, choice.model)
        manifest.exports["onnx"] = {
            "graph": files[0],
            "tokenizer": files[1:],
            "max_length": export.tokens_read(fitted_featurizer),
            "inputs": list(fitted_featurizer._tokenizer.model_input_names),
            "output": "scores (texts x labels): " + ("probabilities" if fitted_model.has_proba else "margins"),
        }
    seal(tmp, manifest)


def _dataset_path(workspace: Workspace, dataset: str) -> Path:
    path = workspace.dataset_path(dataset)
    if not path.exists():
        raise EnsoError(f"no dataset {dataset!r} in {workspace.datasets_dir} (run: enso download {dataset})")
    return path


def _reproduce(
    workspace: Workspace, choice: Choice, texts: np.ndarray, data_meta: Any, options: dict[str, Any] | None
) -> tuple[Any, Any, np.ndarray, str]:
    """The cell's model, fitted on the rows and vectors the experiment fitted it on."""
    if options:
        raise EnsoError("--size/--split reproduce a cell with its features file's options; give no -o")
    path = workspace.features_path(choice.dataset, choice.featurizer)
    if not path.exists():
        raise EnsoError(
            f"{path}: missing; a cell is reproduced from its features (run: enso featurize -f {choice.featurizer})"
        )
    feats = read_features(path)
    if feats.meta.dataset_fingerprint != data_meta.fingerprint:
        raise EnsoError(f"{path}: made from another version of dataset {choice.dataset!r}; run enso featurize again")
    config, size, seed = choice.config, int(choice.size), int(choice.split)
    plan = plan_split(feats.labels, feats.splits, seed, config.test_size, config.official_test, config.sampler)
    train_rows = plan.train(size)
    fit_rows = train_rows
    resample = RESAMPLERS.get(config.resampler)
    if resample is not None:
        fit_rows = train_rows[resample(feats.labels[train_rows], np.random.default_rng([seed, size]))]
    check_takes(choice.model, feats.meta.featurizer, feats.meta.layout, feats.meta.layers)
    model_cls = MODELS.get(choice.model)
    X = model_cls.view(feats)
    featurizer = featurizers.build(choice.featurizer, feats.meta.params)
    featurizer.prepare(list(texts))
    featurizer.fit(list(texts))  # what enso featurize fitted it on: every text of the dataset, no labels
    sample = train_rows[:SAMPLE_ROWS]  # checked before any fitting: a folder that is not the cell is never fitted
    now = model_input(model_cls, featurizer, featurizer.transform(list(texts[feats.rows[sample]])), feats.meta.params)
    if not _same_vectors(now, X[sample]):
        raise EnsoError(
            f"{path}: the featurizer rebuilt from its options does not give its vectors; run enso featurize --force"
        )
    model = model_cls(**config.params_of(choice.model), **model_cls.features_kwargs(feats.meta), random_state=seed)
    if model_cls.semi_supervised:  # as the experiment's cell hands it the pool (never a test row)
        model.attach(
            CellContext(
                dataset=choice.dataset,
                X=X,
                train=fit_rows,
                unlabelled=plan.order[~np.isin(plan.order, train_rows)],
                test=plan.test,
                features=lambda name: read_features(workspace.features_path(choice.dataset, name)),
            )
        )
    with threadpool_limits(limits=1), one_torch_thread():
        model.fit(X[fit_rows], feats.labels[fit_rows])
    return model, featurizer, feats.rows[fit_rows], "every text of the dataset, unlabelled (as its features file)"


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """As the experiment fits a cell: torch on one thread (its float sums then add up in the same order)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _same_vectors(now: Any, stored: Any) -> bool:
    """Whether the featurizer gives the features file's vectors (or token ids, or token vectors): a folder
    that reproduces a cell, or reads its training vectors from the file, is fitted on nothing else."""
    a, b = _rows_of(now), _rows_of(stored)
    return len(a) == len(b) and all(x.shape == y.shape and np.allclose(x, y, atol=1e-4) for x, y in zip(a, b))


def _rows_of(X: Any) -> list[np.ndarray]:
    """Each row's numbers, unpadded: token vectors per text, token ids without the -1 padding, or a vector."""
    if isinstance(X, TokenVectors):
        return [np.asarray(X.values[a:b], dtype=np.float32) for a, b in zip(X.offsets[:-1], X.offsets[1:])]
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    if np.issubdtype(X.dtype, np.integer):
        return [row[row >= 0] for row in X]
    return list(X)


def _production(
    workspace: Workspace,
    choice: Choice,
    texts: np.ndarray,
    labels: np.ndarray,
    splits: np.ndarray,
    options: dict[str, Any] | None,
    fingerprint: str,
) -> tuple[Any, Any, np.ndarray, str]:
    """Every labelled row outside the test split; the featurizer fitted on those rows only."""
    rows = np.flatnonzero(splits != "test")
    if len(rows) == 0:
        raise EnsoError(f"dataset {choice.dataset!r} has no rows outside its test split to train on")
    featurizer = featurizers.build(choice.featurizer, _options(workspace, choice, options))
    chosen = list(texts[rows])
    check_takes(choice.model, featurizer.name, featurizer.layout)
    featurizer.prepare(chosen)
    featurizer.fit(chosen)
    check_takes(choice.model, featurizer.name, featurizer.layout, featurizer.layers)  # known once loaded
    feats = _stored(workspace, choice.dataset, fingerprint, featurizer, rows, chosen)
    if feats is None:
        feats = as_features(featurizer, _transform(featurizer, chosen))
    model_cls = MODELS.get(choice.model)
    model = model_cls(
        **choice.config.params_of(choice.model),
        **model_cls.features_kwargs(feats.meta),
        random_state=choice.config.seed,
    )
    X = model_cls.view(feats)
    if model_cls.semi_supervised:
        model.attach(_production_context(workspace, choice, chosen, X, rows, fingerprint))
    with threadpool_limits(limits=1), one_torch_thread():
        model.fit(X, labels[rows])
    return model, featurizer, rows, "the training rows only (outside the test split), unlabelled"


def check_takes(model: str, featurizer: str, layout: str, layers: int | None = None) -> None:
    """One line, before any fitting, where the model cannot read what the featurizer gives (its layer
    count checked where given)."""
    from enso_ng.experiment.selection import LAYOUT_WORDS

    cls = MODELS.get(model)
    if cls.layer_aware and (layout not in cls.layouts or (layers is not None and layers < 2)):
        raise EnsoError(f"model {model!r} mixes an encoder's layers; store every one: -f bert -o layers=all")
    if layout not in cls.layouts:
        takes = either([LAYOUT_WORDS[t] for t in cls.layouts])
        make = {TOKEN_IDS: " (-f bert_tokens)", TOKEN_VECTORS: " (-f bert -o pooling=none)"}.get(
            next(iter(cls.layouts)), ""
        )
        raise EnsoError(f"model {model!r} takes {takes}{make}, and {featurizer} gives {LAYOUT_WORDS[layout]}")


def _production_context(
    workspace: Workspace, choice: Choice, texts: list[str], X: Any, rows: np.ndarray, fingerprint: str
) -> CellContext:
    """A distilled student's pool when every training row is labelled: no row is left for its teacher to
    label, so the teacher is fitted (on its own featurizer, fitted on the same rows) and labels none."""

    def features(name: str) -> Any:
        featurizer = featurizers.build(name, _options(workspace, replace(choice, featurizer=name), None))
        featurizer.prepare(texts)
        featurizer.fit(texts)
        stored = _stored(workspace, choice.dataset, fingerprint, featurizer, rows, texts)
        return stored if stored is not None else as_features(featurizer, _transform(featurizer, texts))

    nothing = np.zeros(0, dtype=np.int64)
    return CellContext(choice.dataset, features, X, np.arange(len(texts)), nothing, nothing)


def _stored(
    workspace: Workspace, dataset: str, fingerprint: str, featurizer: Any, rows: np.ndarray, texts: list[str]
) -> Features | None:
    """The vectors of the dataset's ``rows`` (their ``texts``) as its features file holds them, where they
    are the ones ``featurizer`` gives: it learns nothing from the texts it is fitted on (a pre-trained
    encoder), the file matches it as ``enso featurize`` matches a cache (this dataset version, the same
    parameters), and the first rows embedded again give the stored vectors. None otherwise: the rows are
    featurized here. Embedding every training row again would give the same numbers, at the cost of a
    whole featurize."""
    path = workspace.features_path(dataset, featurizer.name)
    params = featurizer.params()
    if featurizers.state_of(featurizer.name).learns(params) or not path.exists():
        return None
    try:
        feats = read_features(path)
    except EnsoError:  # a damaged file: the rows are featurized here, as without one
        return None
    key = {"dataset_fingerprint": fingerprint, "featurizer": featurizer.name, "params": params}
    shape = (featurizer.layout, featurizer.layers)
    if feats.meta.cache_key() != key or (feats.meta.layout, feats.meta.layers) != shape:
        return None
    where = {int(r): i for i, r in enumerate(feats.rows)}
    if any(int(r) not in where for r in rows):
        return None
    X = _take(feats.X, np.array([where[int(r)] for r in rows], dtype=np.int64), feats.meta.layout)
    now = as_features(featurizer, featurizer.transform(texts[:SAMPLE_ROWS]), params).X
    if not _same_vectors(now, X[: len(texts[:SAMPLE_ROWS])]):
        return None
    empty = np.empty(0, dtype=object)
    return Features(X=X, labels=empty, splits=empty, rows=np.arange(len(rows)), meta=feats.meta)


def _take(X: Any, at: np.ndarray, layout: str) -> Any:
    """Rows ``at`` of a decoded features matrix, as the file's codec gives those rows alone (token ids padded
    to the longest of them)."""
    taken = X[at]
    if layout == TOKEN_IDS:
        taken = taken[:, : max(int((taken >= 0).sum(1).max(initial=0)), 1)]
    return taken


def _options(workspace: Workspace, choice: Choice, options: dict[str, Any] | None) -> dict[str, Any]:
    """The user's options; else those of the features file the run measured (its featurizer as measured)."""
    if options:
        return options
    path = workspace.features_path(choice.dataset, choice.featurizer)
    if path.exists():
        from enso_ng.formats import FeaturesMeta

        return dict(FeaturesMeta.read(path).params)
    return {}


def _transform(featurizer: Any, texts: list[str]) -> Any:
    blocks = []
    with bar(len(texts), "featurize", "texts") as progress:
        for start in range(0, len(texts), BLOCK_ROWS):
            blocks.append(featurizer.transform(texts[start : start + BLOCK_ROWS]))
            progress.update(blocks[-1].shape[0] if sp.issparse(blocks[-1]) else len(blocks[-1]))
    if not blocks or isinstance(blocks[0], list):  # token ids or token vectors: one entry per text
        return [row for block in blocks for row in block]
    return sp.vstack(blocks).tocsr() if sp.issparse(blocks[0]) else np.concatenate(blocks)


def _featurizer_spec(featurizer: Any, fitted_on: str) -> dict[str, Any]:
    params = plain(featurizer.params())
    return {
        "name": featurizer.name,
        "params": params,
        "encoder": featurizers.state_of(featurizer.name).encoder(params),
        "fitted_on": fitted_on,
        "dim": int(featurizer.dim),
    }


def _rows_record(rows: np.ndarray) -> dict[str, Any]:
    """As the experiment records a cell's rows: equal digests prove the same training rows."""
    ordered = np.sort(np.asarray(rows)).astype(np.int64)
    return {"rows": int(len(rows)), "rows_sha1": hashlib.sha1(ordered.tobytes()).hexdigest()[:16]}


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    versions = library_versions()
    for package in ("safetensors", "lightgbm"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    return versions


__all__ = ["Trained", "train"]
