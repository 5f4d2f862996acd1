"""Stage 3: light target models on frozen features, over sizes and split seeds.

Names are loaded on first use (PEP 562), so the command line can read the run options' spec
(:mod:`enso_ng.experiment.config`) without importing the models and their torch.
"""

from importlib import import_module
from typing import Any

_WHERE = {
    "ExperimentConfig": "config",
    "default_run_name": "config",
    "EXECUTORS": "executor",
    "METRICS": "metrics",
    "MODELS": "models",
    "Outcome": "runner",
    "run_experiment": "runner",
    "RESAMPLERS": "samplers",
    "SAMPLERS": "samplers",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
