"""What ``enso featurize`` asks for: which featurizers with which options on which datasets, the
``--model`` / ``--precision`` / ``--layers`` shortcuts merged as the options they stand for, and what each
file came to in words."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from enso_ng.errors import EnsoError
from enso_ng.featurize.base import FEATURIZERS
from enso_ng.featurize.runner import Featurized, featurize
from enso_ng.formats import TOKEN_VECTORS
from enso_ng.workspace import Workspace

#: ``enso featurize --precision X`` stands for ``-o precision=X``, ``--layers`` for ``-o layers=X``
SHORTCUTS = ("precision", "layers")


def featurizer_options(
    chosen: list[str], options: tuple[str, ...], shortcuts: dict[str, Any], model: str | None
) -> dict[str, dict[str, Any]]:
    """Each chosen featurizer's options: ``key=value`` applies to every chosen featurizer that has the
    option, ``name.key=value`` to one; a shortcut's value is taken as it is, where the featurizer has it."""
    per: dict[str, dict[str, Any]] = {f: {} for f in chosen}
    for key, value in shortcuts.items():
        if value is not None:
            _apply(per, chosen, "", key, value, f"--{key} {value}")
    if model is not None:
        takers = [f for f in chosen if FEATURIZERS.get(f).model_option]
        if not takers:
            able = ", ".join(
                f"{n} ({FEATURIZERS.get(n).model_option})" for n in FEATURIZERS if FEATURIZERS.get(n).model_option
            )
            raise EnsoError(f"--model applies to featurizers that load a model: {able}")
        for f in takers:
            per[f][FEATURIZERS.get(f).model_option] = model
    for item in options:
        key, sep, value = item.partition("=")
        if not sep:
            raise EnsoError(f"--option {item!r}: expected key=value")
        target, _, option = key.rpartition(".")
        _apply(per, chosen, target, option, value, f"--option {item!r}")
    return per


def _apply(per: dict[str, dict[str, Any]], chosen: list[str], target: str, key: str, value: Any, what: str) -> None:
    targets = [target] if target else [f for f in chosen if key in FEATURIZERS.get(f).options]
    if not targets or any(t not in per for t in targets):
        raise EnsoError(f"{what}: no chosen featurizer has option {key!r}")
    for t in targets:
        per[t][key] = value


def featurize_all(
    workspace: Workspace,
    featurizers: list[str],
    datasets: list[str],
    per_options: dict[str, dict[str, Any]],
    force: bool = False,
    scheduler: str | None = None,
) -> Iterator[tuple[str, str, Featurized]]:
    """(featurizer, dataset, what came of it) for each pair, featurizer by featurizer, as each ends."""
    for name in featurizers:
        FEATURIZERS.get(name)
    targets = datasets or workspace.datasets()
    if not targets:
        raise EnsoError(f"no datasets in {workspace.datasets_dir} (run: enso download NAME)")
    for featurizer in featurizers:
        for dataset in targets:
            yield (
                featurizer,
                dataset,
                featurize(dataset, featurizer, workspace, per_options[featurizer], force=force, scheduler=scheduler),
            )


def report_lines(workspace: Workspace, dataset: str, featurizer: str, done: Featurized) -> list[str]:
    """What a features file came to: reused or written, its shape, speed and what the featurizer reports."""
    meta, path = done.meta, workspace.features_path(dataset, featurizer)
    if done.cached:
        return [f"cached {path}: {meta.rows} x {meta.dim} (parameters match)"]
    texts = int(meta.report.get("distinct_texts", meta.rows))  # a pair file embeds its distinct texts once
    rate = texts / max(done.seconds, 1e-9)
    extra = "".join(
        f", {k.replace('_', ' ')} {v}"
        for k, v in meta.report.items()
        if k in ("truncated", "oov_rate", "precision", "capped")
    )
    shape = f"{meta.rows} texts x tokens x {meta.dim}" if meta.layout == TOKEN_VECTORS else f"{meta.rows} x {meta.dim}"
    if meta.sides == 2:
        shape = f"{meta.rows} pairs x {meta.dim} (both sides; {texts} distinct texts)"
    lines = [f"wrote {path}: {shape} in {done.seconds:.1f} s ({rate:.0f} texts/s{extra})"]
    auto = meta.report.get("precision_auto")
    if auto and "texts_per_second" not in auto:  # too few texts to time
        lines.append(f"  precision auto chose {auto['chosen']} ({auto['why']})")
    elif auto:
        rates = ", ".join(f"{p} {r:,.0f}" for p, r in auto["texts_per_second"].items())
        how = "cached decision" if auto["cached"] else "measured now"
        lines.append(f"  precision auto chose {auto['chosen']} ({how}; texts/s: {rates})")
    if meta.layout == TOKEN_VECTORS:
        size = path.stat().st_size
        lines.append(f"  {size / 1e6:.1f} MB, {1000 * size / max(meta.rows, 1) / 1e6:.2f} MB per 1,000 texts")
    return lines


def list_lines(line: Callable[[str], None]) -> None:
    """``enso featurize --list``: each featurizer, what ``--model`` sets, and its options' specs."""
    for name in FEATURIZERS.names():
        cls = FEATURIZERS.get(name)
        line(f"{name}: {cls.summary}" + (f" (--model sets {cls.model_option})" if cls.model_option else ""))
        for key, option in cls.options.items():
            line(f"    {key} = {option.describe()}")
