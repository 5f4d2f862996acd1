"""``enso train --mlflow URI``: log a model folder in MLflow's model format, so ``mlflow models serve``
answers HTTP scoring requests with it. The pyfunc is :mod:`enso_ng.serve.mlflow_model`, logged as code."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from enso_ng import __version__
from enso_ng.formats import ModelManifest

EXPERIMENT = "enso-models"


def log_folder(uri: str, folder: Path, manifest: ModelManifest) -> str:
    """Log ``folder`` as a pyfunc model in a run of experiment ``enso-models``; the model's URI. The caller
    has reached the store with :func:`enso_ng.tracking.connect` before the fit (MLflow is there, quieted).

    MLflow's warnings (no signature, pip's version) and its artifact progress bars are not the user's
    business: the command's summary line says where the model went."""
    from enso_ng.tracking import tracking_errors

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with tracking_errors(uri), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow

        from enso_ng.serve import mlflow_model

        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(EXPERIMENT)
        with mlflow.start_run(run_name=manifest.name) as run:
            mlflow.log_params(
                {
                    "featurizer": manifest.featurizer["name"],
                    "model": manifest.model["name"],
                    "dataset": manifest.training["dataset"],
                    "training_rows": manifest.training["rows"],
                    "labels": ",".join(manifest.labels)[:500],
                }
            )
            expected = manifest.expected
            if expected.get("mean") is not None:
                mlflow.log_metric(f"expected_{expected['metric']}", float(expected["mean"]))
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(Path(mlflow_model.__file__)),
                artifacts={mlflow_model.ARTIFACT: str(folder)},
                pip_requirements=[f"enso_ng=={__version__}"],
            )
        return info.model_uri if info.model_uri.startswith("models:/") else f"runs:/{run.info.run_id}/model"
