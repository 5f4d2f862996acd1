"""The confusion matrix of one cell (dataset, featurizer, model, size), summed over its split seeds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa

from enso_ng.errors import EnsoError
from enso_ng.visualize.style import text_colour


def confusion_matrix(
    table: pa.Table, dataset: str, featurizer: str, model: str, size: int
) -> tuple[list[str], np.ndarray]:
    rows = [
        r
        for r in table.to_pylist()
        if (r["dataset"], r["featurizer"], r["model"], r["train_size"]) == (dataset, featurizer, model, size)
    ]
    if not rows:
        raise EnsoError(f"no confusion counts for {dataset} {featurizer} {model} at size {size} in this run")
    labels = sorted({r["true_label"] for r in rows} | {r["predicted_label"] for r in rows})
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for r in rows:
        matrix[index[r["true_label"]], index[r["predicted_label"]]] += r["count"]
    return labels, matrix


def confusion_figure(labels: list[str], matrix: np.ndarray, title: str) -> plt.Figure:
    """Rows are true labels, normalised to sum to 1 (recall on the diagonal); counts in the cells."""
    share = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    size = max(4.5, 0.45 * len(labels) + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    if len(labels) <= 20:
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(
                    j,
                    i,
                    str(matrix[i, j]),
                    ha="center",
                    va="center",
                    fontsize=9,
                    color=text_colour(image.cmap(image.norm(share[i, j]))),
                )
    fig.colorbar(image, ax=ax, label="share of the true label's rows")
    ax.set_title(title)
    fig.tight_layout()
    return fig
