"""How many of a run's cells did not converge or could not tell their candidates apart, read back from the
``params`` its results record (shared: ``enso experiment`` prints these lines, ``enso visualize`` puts them
in the report).

A model that tracks convergence records ``converged`` (and, for ``logreg``, ``stop``: why its fit stopped)
with its chosen hyper-parameters; a cell that did not converge is still a result, but one to read with care.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import pyarrow as pa

from enso_ng.formats import RESULT_KEY


def _cell_params(table: pa.Table) -> dict[tuple, dict]:
    """Each cell's ``params``, decoded (one row per cell: the metric rows of a cell share them)."""
    params_of: dict[tuple, str] = {}
    # the key columns the table holds (a table built before results had a sampler column lacks it)
    columns = [table.column(k).to_pylist() for k in (*RESULT_KEY, "params") if k in table.column_names]
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


def _inner_cv_counts(table: pa.Table, flagged: Callable[[dict], bool]) -> tuple[int, Counter]:
    """(cells that chose by inner CV, model -> cells whose params are ``flagged``)."""
    model_at = RESULT_KEY.index("model")
    tuned, counts = 0, Counter()
    for key, values in _cell_params(table).items():
        tuned += bool(values.get("cv_folds"))
        if flagged(values):
            counts[key[model_at]] += 1
    return tuned, counts


def flat_cv_line(table: pa.Table) -> str | None:
    """Cells whose candidates all scored the same in inner CV (``cv_flat``): the criterion's tie rule chose,
    not the data. None when there are none."""
    tuned, flat = _inner_cv_counts(table, lambda values: bool(values.get("cv_flat")))
    if not flat:
        return None
    return (
        f"{sum(flat.values())} of {tuned} tuned cells had a flat inner-CV curve (every candidate scored the "
        f"same, so the tie rule chose, not the data: {_by_model(flat)}; params cv_flat)"
    )


def _tied_with_unmoved(values: dict) -> bool:
    """The chosen C scored the same as a C whose fold fits all stayed at the previous C's solution."""
    scores, chosen = values.get("cv_scores") or {}, values.get("C")
    chosen_score = scores.get(f"{chosen:g}") if isinstance(chosen, int | float) else None
    label = f"{chosen:g}" if chosen_score is not None else None
    return chosen_score is not None and any(
        c != label and scores.get(c) == chosen_score for c in values.get("cv_unmoved") or ()
    )


def unmoved_cv_line(table: pa.Table) -> str | None:
    """Cells whose chosen C tied with other C values whose fold fits all stayed at the previous C's solution
    (``cv_unmoved``: that solution met the stopping bound already, so inner CV cannot tell those C apart and
    the criterion's tie rule chose among them). None when there are none."""
    tuned, unmoved = _inner_cv_counts(table, _tied_with_unmoved)
    if not unmoved:
        return None
    return (
        f"{sum(unmoved.values())} of {tuned} tuned cells chose a C tied with C values whose fold fits stayed "
        f"at the previous C's solution (it met their stopping bound already), so the tie rule chose among them "
        f"({_by_model(unmoved)}; params cv_unmoved)"
    )


def _by_model(counts: Counter) -> str:
    return ", ".join(f"{model} {n}" for model, n in sorted(counts.items()))


def fit_notes(table: pa.Table) -> list[str]:
    """Every line above that applies, as the report's notes."""
    return [line for line in (convergence_line(table), flat_cv_line(table), unmoved_cv_line(table)) if line]
