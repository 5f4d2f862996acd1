"""Target models, one module each, registered by name in :data:`MODELS`."""

from enso_ng.experiment.models import (  # noqa: F401  (registers)
    boosting,
    cosine,
    distill,
    finetune,
    layer_mix,
    logreg,
    mlp,
    neighbors,
    sequence,
    setfit_model,
    svm,
)
from enso_ng.experiment.models.base import MODELS, TargetModel, cv_folds, inner_cv_choice

__all__ = ["MODELS", "TargetModel", "cv_folds", "inner_cv_choice"]
