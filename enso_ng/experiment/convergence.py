"""How many of a run's cells did not converge, read back from the ``params`` its results record.

A model that tracks convergence records ``converged`` (and, for ``logreg``, ``stop``: why its fit stopped)
with its chosen hyper-parameters; a cell that did not converge is still a result, but one to read with care.
"""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa

from enso_ng.formats import RESULT_KEY


def not_converged(table: pa.Table) -> tuple[int, int, dict[str, Counter]]:
    """(cells recording convergence, cells not converged, model -> Counter of their stop reasons)."""
    params_of: dict[tuple, str] = {}
    columns = [table.column(k).to_pylist() for k in (*RESULT_KEY, "params")]
    for *key, params in zip(*columns):
        params_of.setdefault(tuple(key), params)
    model_at = RESULT_KEY.index("model")
    recorded, failed, reasons = 0, 0, {}
    for key, params in params_of.items():
        try:
            values = json.loads(params) if params else {}
        except ValueError:
            continue
        if not isinstance(values, dict) or "converged" not in values:
            continue
        recorded += 1
        if not values["converged"]:
            failed += 1
            reasons.setdefault(key[model_at], Counter())[str(values.get("stop", "not converged"))] += 1
    return recorded, failed, reasons


def convergence_line(table: pa.Table) -> str | None:
    """``3 of 40 cells did not converge (logreg: no_progress 3)``, or None when every cell converged."""
    recorded, failed, reasons = not_converged(table)
    if not failed:
        return None
    detail = "; ".join(
        f"{model}: " + ", ".join(f"{stop} {n}" for stop, n in sorted(counts.items()))
        for model, counts in sorted(reasons.items())
    )
    return f"{failed} of {recorded} cells did not converge ({detail})"
