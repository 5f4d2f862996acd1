"""Where torch work runs: the GPU where there is one, else the CPU; one choice for featurizers and models."""

from __future__ import annotations

from typing import Any


def device() -> Any:
    """``torch.device("cuda")`` where CUDA is available, else the CPU (torch imported only when asked)."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
