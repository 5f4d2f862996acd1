"""``enso experiment --config FILE``: grids too long for flags, in TOML or YAML.

Keys are the option names (``sizes``, ``splits``, ``models``, ``per_label``, ...), at the top level or
under an ``experiment`` table. Lists may be written as lists or as comma-separated strings. Options given
on the command line override the file; the resolved result is what ``config.json`` records.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from enso_ng.errors import EnsoError
from enso_ng.experiment.runner import ExperimentConfig

LIST_KEYS = {"sizes": int, "per_label": int, "datasets": str, "featurizers": str, "models": str, "metrics": str}
SCALAR_KEYS = {"name": str, "splits": int, "seed": int, "test_size": float, "official_test": bool,
               "train_metrics": bool, "sampler": str, "resampler": str, "jobs": int}


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's options, checked and typed; an unknown key or a wrong type names the file and key."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise EnsoError(f"{path}: cannot read ({exc.strerror})") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            raise EnsoError(f"{path}: use a .toml, .yaml or .yml file")
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise EnsoError(f"{path}: not valid {suffix[1:].upper()} ({exc})") from None
    except Exception as exc:  # yaml.YAMLError without importing yaml for TOML users
        if type(exc).__module__.startswith("yaml"):
            raise EnsoError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        raise
    if isinstance(data, dict) and isinstance(data.get("experiment"), dict) and len(data) == 1:
        data = data["experiment"]
    if not isinstance(data, dict):
        raise EnsoError(f"{path}: expected a table of options at the top level")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in LIST_KEYS:
            out[key] = _as_list(path, key, value, LIST_KEYS[key])
        elif key in SCALAR_KEYS:
            out[key] = _as_scalar(path, key, value, SCALAR_KEYS[key])
        else:
            known = ", ".join(sorted({*LIST_KEYS, *SCALAR_KEYS}))
            raise EnsoError(f"{path}: unknown key {key!r} (known: {known})")
    return out


def _as_list(path: Path, key: str, value: Any, cast: type) -> list:
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else [value]
    try:
        return [cast(item.strip() if isinstance(item, str) else item) for item in items if str(item).strip()]
    except (TypeError, ValueError):
        raise EnsoError(f"{path}: {key} must be a list of {cast.__name__}, got {value!r}") from None


def _as_scalar(path: Path, key: str, value: Any, cast: type) -> Any:
    if cast is bool:
        if not isinstance(value, bool):
            raise EnsoError(f"{path}: {key} must be true or false, got {value!r}")
        return value
    if isinstance(value, bool) or isinstance(value, (list, dict)):
        raise EnsoError(f"{path}: {key} must be a {cast.__name__}, got {value!r}")
    try:
        return cast(value)
    except (TypeError, ValueError):
        raise EnsoError(f"{path}: {key} must be a {cast.__name__}, got {value!r}") from None


def resolve(options: dict[str, Any], name: str) -> ExperimentConfig:
    """Merge options (command line over file, already combined) into a config; ``per_label`` is sugar
    for the per_label sampler with those sizes."""
    options = {k: v for k, v in options.items() if v is not None}
    per_label = options.pop("per_label", None)
    if per_label is not None:
        if "sizes" in options:
            raise EnsoError("give either --sizes or --per-label, not both")
        if options.get("sampler", "per_label") != "per_label":
            raise EnsoError(f"--per-label uses the per_label sampler, not {options['sampler']!r}")
        options["sizes"], options["sampler"] = per_label, "per_label"
    fields = {f.name for f in dataclasses.fields(ExperimentConfig)}
    options.pop("name", None)
    return ExperimentConfig(name=name, **{k: v for k, v in options.items() if k in fields})
