"""``enso train --mlflow URI``: log a model folder in MLflow's model format, so ``mlflow models serve``
answers HTTP scoring requests with it. The pyfunc is :mod:`enso_ng.serve.mlflow_model`, logged as code."""

from __future__ import annotations

from pathlib import Path

from enso_ng import __version__
from enso_ng.formats import ModelManifest

EXPERIMENT = "enso-models"


def log_folder(uri: str, folder: Path, manifest: ModelManifest) -> str:
    """Log ``folder`` as a pyfunc model in a run of experiment ``enso-models``; the model's URI."""
    from enso_ng.tracking import tracking_errors

    with tracking_errors(uri):
        try:
            import mlflow
        except ImportError:
            from enso_ng.errors import EnsoError

            raise EnsoError("--mlflow needs MLflow: pip install 'enso_ng[mlflow]'") from None
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
