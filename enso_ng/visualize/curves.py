"""Learning curves: a grid of datasets x metrics, a line per featurizer x model, a band for the 95% CI."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

from enso_ng.visualize.summary import Cell  # noqa: E402
from enso_ng.workspace import atomic_path  # noqa: E402

COLOURS = plt.get_cmap("tab10")


def series_colours(cells: list[Cell]) -> dict[tuple[str, str], tuple]:
    """One colour per featurizer x model, the same in every figure of a run."""
    series = sorted({(c.featurizer, c.model) for c in cells})
    return {s: COLOURS(i % 10) for i, s in enumerate(series)}


def learning_curves(cells_by_metric: dict[str, list[Cell]], title: str, size_unit: str = "examples") -> plt.Figure:
    """Rows are datasets, columns metrics; x is the training size on a log axis."""
    metrics = list(cells_by_metric)
    all_cells = [c for cells in cells_by_metric.values() for c in cells]
    datasets = sorted({c.dataset for c in all_cells})
    colours = series_colours(all_cells)
    fig, axes = plt.subplots(
        len(datasets), len(metrics), figsize=(4.6 * len(metrics) + 2.4, 3.3 * len(datasets)), squeeze=False
    )
    for row, dataset in enumerate(datasets):
        for col, metric in enumerate(metrics):
            ax = axes[row, col]
            cells = [c for c in cells_by_metric[metric] if c.dataset == dataset]
            for series, colour in colours.items():
                points = sorted((c for c in cells if (c.featurizer, c.model) == series), key=lambda c: c.train_size)
                if not points:
                    continue
                x = [c.train_size for c in points]
                ax.plot(x, [c.mean for c in points], marker="o", markersize=3, color=colour, label=" + ".join(series))
                low, high = [c.ci_low for c in points], [c.ci_high for c in points]
                if points[0].higher_is_better:  # scores live in [0, 1]; so does their band on the page
                    low, high = [max(0.0, v) for v in low], [min(1.0, v) for v in high]
                ax.fill_between(x, low, high, color=colour, alpha=0.2)
            sizes = sorted({c.train_size for c in cells})
            ax.set_xscale("log")
            ax.set_xticks(sizes, [str(s) for s in sizes])
            ax.minorticks_off()
            ax.set_title(f"{dataset}: {metric}")
            ax.set_xlabel(f"labelled training {size_unit}")
            ax.set_ylabel(metric)
            ax.grid(True, which="both", alpha=0.3)
    handles, labels = _legend_entries(axes.flat)
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, title="featurizer + model")
    fig.suptitle(f"{title}: learning curves (mean and 95% CI across splits)")
    fig.tight_layout()
    return fig


def _legend_entries(axes) -> tuple[list, list[str]]:
    seen: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    return list(seen.values()), list(seen)


def save(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` atomically in the format its suffix names, and free it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."), dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
