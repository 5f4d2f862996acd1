"""Stage 3: light target models on frozen features, over sizes and split seeds."""

from enso_ng.experiment.config import ExperimentConfig, default_run_name
from enso_ng.experiment.executor import EXECUTORS
from enso_ng.experiment.metrics import METRICS
from enso_ng.experiment.models import MODELS
from enso_ng.experiment.runner import Outcome, run_experiment
from enso_ng.experiment.samplers import RESAMPLERS, SAMPLERS

__all__ = [
    "EXECUTORS",
    "METRICS",
    "MODELS",
    "RESAMPLERS",
    "SAMPLERS",
    "ExperimentConfig",
    "Outcome",
    "default_run_name",
    "run_experiment",
]
