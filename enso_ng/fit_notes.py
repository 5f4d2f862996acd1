"""How many of a run's cells did not converge or could not tell their candidates apart, read back from the
``params`` its results record (shared: ``enso experiment`` prints these lines, ``enso visualize`` puts them
in the report).

A model that tracks convergence records ``converged`` (and, for ``logreg``, ``stop``: why its fit stopped)
with its chosen hyper-parameters; a cell that did not converge is still a result, but one to read with care.
"""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa

from enso_ng.formats import RESULT_KEY


def _cell_params(table: pa.Table) -> dict[tuple, dict]:
    """Each cell's ``params``, decoded (one row per cell: the metric rows of a cell share them)."""
    params_of: dict[tuple, str] = {}
    columns = [table.column(k).to_pylist() for k in (*RESULT_KEY, "params")]
    for *key, params in zip(*columns):
        params_of.setdefault(tuple(key), params)
    decoded = {}
    for key, params in params_of.items():
        try:
            values = json.loads(params) if params else {}
        except ValueError:
            continue
        if isinstance(values, dict):
            decoded[key] = values
    return decoded


def not_converged(table: pa.Table) -> tuple[int, int, dict[str, Counter]]:
    """(cells recording convergence, cells not converged, model -> Counter of their stop reasons)."""
    model_at = RESULT_KEY.index("model")
    recorded, failed, reasons = 0, 0, {}
    for key, values in _cell_params(table).items():
        if "converged" not in values:
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


def _inner_cv_counts(table: pa.Table, flag: str) -> tuple[int, Counter]:
    """(cells that chose by inner CV, model -> cells whose params carry ``flag``)."""
    model_at = RESULT_KEY.index("model")
    tuned, flagged = 0, Counter()
    for key, values in _cell_params(table).items():
        tuned += bool(values.get("cv_folds"))
        if values.get(flag):
            flagged[key[model_at]] += 1
    return tuned, flagged


def flat_cv_line(table: pa.Table) -> str | None:
    """Cells whose candidates all scored the same in inner CV (``cv_flat``): the criterion's tie rule chose,
    not the data. None when there are none."""
    tuned, flat = _inner_cv_counts(table, "cv_flat")
    if not flat:
        return None
    return (
        f"{sum(flat.values())} of {tuned} tuned cells had a flat inner-CV curve (every candidate scored the "
        f"same, so the tie rule chose, not the data: {_by_model(flat)}; params cv_flat)"
    )


def unmoved_cv_line(table: pa.Table) -> str | None:
    """Cells with C values whose fold fits all stayed at the previous C's solution (``cv_unmoved``): it met
    the stopping bound already, so those C score as the one before. None when there are none."""
    tuned, unmoved = _inner_cv_counts(table, "cv_unmoved")
    if not unmoved:
        return None
    return (
        f"{sum(unmoved.values())} of {tuned} tuned cells have C values whose fold fits stayed at the previous "
        f"C's solution, which already met the stopping bound, so they score as that C "
        f"({_by_model(unmoved)}; params cv_unmoved)"
    )


def _by_model(counts: Counter) -> str:
    return ", ".join(f"{model} {n}" for model, n in sorted(counts.items()))


def fit_notes(table: pa.Table) -> list[str]:
    """Every line above that applies, as the report's notes."""
    return [line for line in (convergence_line(table), flat_cv_line(table), unmoved_cv_line(table)) if line]
