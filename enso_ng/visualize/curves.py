"""Learning curves: a grid of datasets x metrics, a line per featurizer x model, a band for the 95% CI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

from enso_ng.visualize.style import Palette, series_colours, width  # noqa: E402
from enso_ng.visualize.summary import Cell  # noqa: E402
from enso_ng.workspace import atomic_path  # noqa: E402


@dataclass(frozen=True)
class Hover:
    """A point of a learning curve the report lets a reader hover: its SVG id, metric and cell."""

    gid: str
    metric: str
    cell: Cell
    run: str = ""


def plot_series(
    ax: plt.Axes,
    points: list[Cell],
    metric: str,
    colour: tuple,
    label: str,
    hover: list[Hover] | None = None,
    run: str = "",
    linestyle: str = "-",
) -> None:
    """One featurizer x model: its mean line, its 95% band and, where ``hover`` collects them, a target
    around each point (an SVG group with an id) that the report's script answers with the point's numbers."""
    points = sorted(points, key=lambda c: c.train_size)
    x = [c.train_size for c in points]
    ax.plot(x, [c.mean for c in points], marker="o", markersize=3, color=colour, label=label, linestyle=linestyle)
    low, high = [c.ci_low for c in points], [c.ci_high for c in points]
    if points[0].higher_is_better:  # scores live in [0, 1]; so does their band on the page
        low, high = [max(0.0, v) for v in low], [min(1.0, v) for v in high]
    ax.fill_between(x, low, high, color=colour, alpha=0.2 if linestyle == "-" else 0.1)
    if hover is None:
        return
    for c in points:
        gid = f"pt-{len(hover)}"
        hover.append(Hover(gid, metric, c, run))
        # invisible but hit-testable: a transparent fill still receives the pointer in a browser
        (target,) = ax.plot([c.train_size], [c.mean], marker="o", markersize=11, color=(0, 0, 0, 0), label="_hover")
        target.set_gid(gid)


def learning_curves(
    cells_by_metric: dict[str, list[Cell]],
    title: str,
    size_unit: str = "examples",
    colours: Palette | None = None,
    hover: list[Hover] | None = None,
) -> plt.Figure:
    """Rows are datasets, columns metrics; x is the training size on a log axis."""
    metrics = list(cells_by_metric)
    all_cells = [c for cells in cells_by_metric.values() for c in cells]
    datasets = sorted({c.dataset for c in all_cells})
    colours = colours or series_colours(all_cells)
    fig, axes = plt.subplots(
        len(datasets), len(metrics), figsize=(width(4.2 * len(metrics) + 2.6), 3.2 * len(datasets)), squeeze=False
    )
    for row, dataset in enumerate(datasets):
        for col, metric in enumerate(metrics):
            ax = axes[row, col]
            cells = [c for c in cells_by_metric[metric] if c.dataset == dataset]
            for series, colour in colours.items():
                points = [c for c in cells if (c.featurizer, c.model) == series]
                if points:
                    plot_series(ax, points, metric, colour, " + ".join(series), hover)
            size_axis(ax, sorted({c.train_size for c in cells}), f"labelled training {size_unit}")
            ax.set_title(f"{dataset}: {metric}")
            ax.set_ylabel(metric)
    handles, labels = _legend_entries(axes.flat)
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, title="featurizer + model")
    fig.suptitle(f"{title}: learning curves (mean and 95% CI across splits)")
    fig.tight_layout()
    return fig


def size_axis(ax: plt.Axes, sizes: list[int], label: str) -> None:
    """Training sizes on a log axis, ticked at the sizes tried."""
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel(label)
    ax.grid(True, which="both", alpha=0.3)


def _legend_entries(axes) -> tuple[list, list[str]]:
    seen: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if not label.startswith("_"):
                seen.setdefault(label, handle)
    return list(seen.values()), list(seen)


def save(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` atomically in the format its suffix names, and free it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."), dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
