"""Library versions recorded in every features file and results config, so numbers can be traced."""

from __future__ import annotations

import importlib.metadata as md
import platform

from enso_ng import __version__

PACKAGES = ("numpy", "scipy", "scikit-learn", "torch", "transformers", "pyarrow")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "enso_ng": __version__}
    for package in PACKAGES:
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    return versions
