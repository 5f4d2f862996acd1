"""Stage 3: light target models on frozen features, over sizes and split seeds."""

from enso_ng.experiment.metrics import METRICS
from enso_ng.experiment.models import MODELS
from enso_ng.experiment.runner import ExperimentConfig, default_run_name, run_experiment
from enso_ng.experiment.samplers import RESAMPLERS, SAMPLERS

__all__ = ["METRICS", "MODELS", "RESAMPLERS", "SAMPLERS", "ExperimentConfig", "default_run_name", "run_experiment"]
