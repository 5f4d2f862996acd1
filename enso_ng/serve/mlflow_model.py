"""MLflow's pyfunc flavour of a model folder, logged as code (MLflow's "models from code"), never pickled.

``enso train --mlflow URI`` logs this file as the model's code and the folder as its artifact; MLflow runs
this file to load it, and the folder is verified (every sha256) as ``enso predict`` verifies it. Input: a
DataFrame with a ``text`` column (else its first column); output: one row per input row with ``status``,
``label`` and each class's probability, as ``enso predict`` writes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc

ARTIFACT = "enso_model"


class EnsoModelFolder(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        from enso_ng.serve.pipeline import Pipeline

        self.pipeline = Pipeline.load(Path(context.artifacts[ARTIFACT]))

    def predict(self, context, model_input, params=None):  # no type hints: MLflow would read them as a schema
        import pandas as pd

        from enso_ng.serve.inputs import to_batch
        from enso_ng.serve.predict import output_schema, score_batch

        frame = pd.DataFrame(model_input)
        column = "text" if "text" in frame.columns else frame.columns[0]
        values = [None if v is None or (isinstance(v, float) and v != v) else v for v in frame[column].tolist()]
        schema = output_schema(self.pipeline, False, None)
        scored = score_batch(self.pipeline, to_batch(0, values, None), schema, None).to_pandas()
        return scored.astype(object).where(scored.notna(), None)  # JSON null, not NaN, for a row not scored


mlflow.models.set_model(EnsoModelFolder())
