"""Target models, one module each, registered by name in :data:`MODELS`.

Each module is imported when one of its models is first asked for (:meth:`Registry.lazy`): most need
torch, and scoring with a fitted tf-idf or GloVe model should not wait for it.
"""

from enso_ng.experiment.models.base import MODELS, TargetModel, cv_folds, inner_cv_choice

for _module, _names in {
    "boosting": ("lightgbm",),
    "cosine": ("cosine",),
    "distill": ("distill",),
    "finetune": ("finetune",),
    "layer_mix": ("layer_mix",),
    "logreg": ("logreg",),
    "mlp": ("mlp",),
    "neighbors": ("knn",),
    "sequence": ("attention", "bilstm"),
    "setfit_model": ("setfit",),
    "svm": ("svm",),
}.items():
    MODELS.lazy(f"enso_ng.experiment.models.{_module}", *_names)

__all__ = ["MODELS", "TargetModel", "cv_folds", "inner_cv_choice"]
