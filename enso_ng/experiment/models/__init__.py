"""Target models, one module each, registered by name in :data:`MODELS`."""

from enso_ng.experiment.models import boosting, distill, finetune, layer_mix, logreg, mlp, neighbors, svm  # noqa: F401
from enso_ng.experiment.models.base import MODELS, TargetModel, cv_folds, inner_cv_choice

__all__ = ["MODELS", "TargetModel", "cv_folds", "inner_cv_choice"]
