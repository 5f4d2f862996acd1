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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from enso_ng.errors import EnsoError
from enso_ng.experiment.models import MODELS
from enso_ng.experiment.models.base import POOLED
from enso_ng.experiment.samplers import RESAMPLERS
from enso_ng.experiment.splits import plan_split
from enso_ng.formats import DENSE, MODEL_FORMAT_VERSION, ModelManifest, read_dataset, read_features
from enso_ng.progress import bar
from enso_ng.provenance import library_versions
from enso_ng.serve import export, featurizers, weights
from enso_ng.serve.choice import Choice, choose
from enso_ng.serve.folder import new_folder, plain, seal, write_parts
from enso_ng.serve.pipeline import FEATURIZER_PREFIX, MODEL_PREFIX
from enso_ng.workspace import Workspace

BLOCK_ROWS = 4096


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
    workspace.model_dir(name)  # a name that is not one folder fails before any work
    choice = choose(workspace, dataset, featurizer, model, from_run, size, split, max_ms_per_doc)
    weights.codec_of(choice.model)  # a kind without a codec fails before any fitting
    featurizers.state_of(choice.featurizer)
    if onnx:
        export.check_exportable(choice.featurizer, choice.model, options or {})
    table, data_meta = read_dataset(_dataset_path(workspace, choice.dataset))
    texts = np.asarray(table.column("text").to_pylist(), dtype=object)
    labels = np.asarray(table.column("label").to_pylist(), dtype=object)
    splits = np.asarray(table.column("split").to_pylist(), dtype=object)
    model_cls = MODELS.get(choice.model)
    if model_cls.layer_aware or model_cls.semi_supervised or model_cls.layouts.get(DENSE) != POOLED:
        raise EnsoError(f"enso train cannot yet write model {choice.model!r} (it needs more than pooled vectors)")
    if choice.size is not None:
        fitted_model, fitted_featurizer, rows, fitted_on = _reproduce(workspace, choice, texts, data_meta, options)
    else:
        fitted_model, fitted_featurizer, rows, fitted_on = _production(
            workspace, choice, texts, labels, splits, options
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


def _write_parts(tmp: Path, manifest, choice, fitted_featurizer, fitted_model, bundle: bool, onnx: bool) -> None:
    """The featurizer's and the model's state, the bundled encoder and the ONNX graph, then the seal."""
    write_parts(tmp, FEATURIZER_PREFIX, featurizers.state_of(choice.featurizer).save(fitted_featurizer))
    write_parts(tmp, MODEL_PREFIX, weights.codec_of(choice.model).save(fitted_model))
    if bundle:
        manifest.featurizer["encoder"] = featurizers.bundle(tmp, fitted_featurizer)
    if onnx:
        export.check_exportable(choice.featurizer, choice.model, manifest.featurizer["params"])
        files = export.export(tmp, fitted_featurizer, fitted_model)
        manifest.exports["onnx"] = {
            "graph": files[0],
            "tokenizer": files[1:],
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
    model_cls = MODELS.get(choice.model)
    model = model_cls(**config.params_of(choice.model), **model_cls.features_kwargs(feats.meta), random_state=seed)
    X = feats.pooled()
    with threadpool_limits(limits=1):
        model.fit(X[fit_rows], feats.labels[fit_rows])
    featurizer = featurizers.build(choice.featurizer, feats.meta.params)
    featurizer.prepare(list(texts))
    featurizer.fit(list(texts))  # what enso featurize fitted it on: every text of the dataset, no labels
    _check_same_vectors(path, featurizer, texts[feats.rows[train_rows[:64]]], X[train_rows[:64]])
    return model, featurizer, feats.rows[fit_rows], "every text of the dataset, unlabelled (as its features file)"


def _check_same_vectors(path: Path, featurizer: Any, texts: np.ndarray, stored: Any) -> None:
    """The rebuilt featurizer must give the features file's vectors, or the folder would not be the cell."""
    now = featurizer.transform(list(texts))
    now, stored = (m.toarray() if sp.issparse(m) else np.asarray(m) for m in (now, stored))
    if now.shape != stored.shape or not np.allclose(now, stored, atol=1e-4):
        raise EnsoError(
            f"{path}: the featurizer rebuilt from its options does not give its vectors; run enso featurize --force"
        )


def _production(
    workspace: Workspace,
    choice: Choice,
    texts: np.ndarray,
    labels: np.ndarray,
    splits: np.ndarray,
    options: dict[str, Any] | None,
) -> tuple[Any, Any, np.ndarray, str]:
    """Every labelled row outside the test split; the featurizer fitted on those rows only."""
    rows = np.flatnonzero(splits != "test")
    if len(rows) == 0:
        raise EnsoError(f"dataset {choice.dataset!r} has no rows outside its test split to train on")
    featurizer = featurizers.build(choice.featurizer, _options(workspace, choice, options))
    chosen = list(texts[rows])
    featurizer.prepare(chosen)
    featurizer.fit(chosen)
    X = _transform(featurizer, chosen)
    model = MODELS.get(choice.model)(**choice.config.params_of(choice.model), random_state=choice.config.seed)
    with threadpool_limits(limits=1):
        model.fit(X, labels[rows])
    return model, featurizer, rows, "the training rows only (outside the test split), unlabelled"


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
            progress.update(len(blocks[-1]) if not sp.issparse(blocks[-1]) else blocks[-1].shape[0])
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
