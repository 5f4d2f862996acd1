"""Library versions recorded in every features file and results config, so numbers can be traced."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform

from enso_ng import __version__

PACKAGES = ("numpy", "scipy", "scikit-learn", "torch", "transformers", "pyarrow", "distributed", "mlflow-skinny")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "enso_ng": __version__}
    for package in PACKAGES:
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    return versions


def machine() -> dict[str, object]:
    """What a timing was measured on: costs are comparable only on the same machine."""
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpu": model or platform.processor(), "cores": os.cpu_count(), "system": platform.system()}
