"""Per-class precision, recall, F1 and support of one cell, from its confusion counts summed over split seeds.

The same numbers as scikit-learn's ``classification_report`` on the concatenated test predictions of the
cell's seeds (each seed's test set counted once per seed), so a class the model never predicts shows
precision 0 rather than disappearing, and rare classes are visible next to the averages.
"""

from __future__ import annotations

import numpy as np

HEADER = ("label", "precision", "recall", "f1", "support")


def classification_report(labels: list[str], matrix: np.ndarray) -> list[tuple]:
    """Rows of :data:`HEADER` per class (rows of ``matrix`` are true labels), then macro and weighted averages."""
    matrix = np.asarray(matrix, dtype=np.float64)
    hits = np.diag(matrix)
    support = matrix.sum(1)
    predicted = matrix.sum(0)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(hits), where=both > 0)
    rows = [
        (label, round(float(p), 6), round(float(r), 6), round(float(f), 6), int(n))
        for label, p, r, f, n in zip(labels, precision, recall, f1, support)
    ]
    total = support.sum()
    if len(labels):  # like scikit-learn, the macro average counts labels that were only predicted, too
        rows.append(("macro avg", *(round(float(v.mean()), 6) for v in (precision, recall, f1)), int(total)))
        weights = support / total if total else np.zeros_like(support)
        rows.append(
            ("weighted avg", *(round(float((v * weights).sum()), 6) for v in (precision, recall, f1)), int(total))
        )
    return rows
