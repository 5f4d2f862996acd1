"""``enso experiment --list``: every model with its parameters' specs, and the other registries' names."""

from __future__ import annotations

from enso_ng.experiment.criteria import CRITERIA
from enso_ng.experiment.executor import EXECUTORS
from enso_ng.experiment.metrics import METRICS
from enso_ng.experiment.models import MODELS
from enso_ng.experiment.samplers import RESAMPLERS, SAMPLERS


def parts_lines() -> list[str]:
    lines = ["models:"]
    for name in MODELS.names():
        cls = MODELS.get(name)
        can = [
            c
            for c, on in (
                ("batched", cls.batched),
                ("layer-aware", cls.layer_aware),
                ("takes " + ", ".join(f"{layout} ({how})" for layout, how in cls.layouts.items()), True),
            )
            if on
        ]
        lines.append(f"  {name}" + (f" [{', '.join(can)}]" if can else ""))
        lines += [
            f"      {key} = {param.describe()}"
            for key, param in cls.spec().items()
            if key != "random_state" and key not in cls.feature_params
        ]
    direction = {n: "" if METRICS.get(n).higher_is_better else " (lower is better)" for n in METRICS.names()}
    lines.append(f"metrics: {', '.join(n + direction[n] for n in METRICS.names())}")
    for title, registry in (("samplers", SAMPLERS), ("resamplers", RESAMPLERS), ("executors", EXECUTORS)):
        lines.append(f"{title}: {', '.join(registry.names())}")
    lines.append("inner-CV criteria (-o MODEL.criterion=NAME):")
    return lines + [f"  {name}: {CRITERIA.get(name).help}" for name in CRITERIA.names()]
