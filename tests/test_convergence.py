"""Convergence that means what it says: only the gradient tolerance counts as converged, the reason a fit
stopped is recorded, and ``enso experiment`` counts the cells that did not converge."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import torch

from enso_ng.experiment.lbfgs import GRADIENT, MAX_ITER, NO_PROGRESS, STOPS, minimize
from enso_ng.experiment.models import MODELS
from enso_ng.experiment.splits import plan_split
from enso_ng.formats import read_features

from conftest import CORPUS, invoke


def _quadratic(scales: torch.Tensor):
    """f(x) = sum(scales * (x - 1)^2) / 2 per problem: an ill-conditioned bowl with its minimum at 1."""

    def fun(theta, idx):
        d = theta - 1
        g = scales[idx] * d
        return 0.5 * (g * d).sum(1), g, g.abs().amax(1)

    return fun


def test_lbfgs_stop_reasons():
    scales = torch.logspace(0, 4, 20, dtype=torch.float32).repeat(3, 1)
    theta0 = torch.zeros(3, 20)
    easy = minimize(_quadratic(scales), theta0, gtol=1e-3)
    assert easy.converged.all() and (easy.stop == GRADIENT).all()
    # float32 cannot reach a gradient of 1e-12 on this bowl: the objective stops changing first
    stalled = minimize(_quadratic(scales), theta0, gtol=1e-12, max_iter=10_000)
    assert not stalled.converged.any(), "a fit that stopped for lack of progress is not converged"
    assert (stalled.stop == NO_PROGRESS).all() and (stalled.n_iter < 10_000).all()
    cut = minimize(_quadratic(scales), theta0, gtol=1e-12, max_iter=2)
    assert not cut.converged.any() and (cut.stop == MAX_ITER).all()
    assert (cut.n_iter == 2).all() and not torch.equal(cut.theta, theta0), "the last point, not the start"
    assert [STOPS[i] for i in (GRADIENT, NO_PROGRESS, MAX_ITER)] == ["gradient", "no_progress", "max_iter"]


def _cell(corpus_workspace, size=120):
    feats = read_features(corpus_workspace / "features" / CORPUS / "bert.parquet")
    train = plan_split(feats.labels, feats.splits, seed=0).train(size)
    return feats.X[train], feats.labels[train]


@pytest.mark.parametrize(
    "settings, converged, stop",
    [
        ({}, True, "gradient"),
        ({"rtol": 1e-12}, False, "no_progress"),
        ({"max_iter": 1, "Cs": [1000.0]}, False, "max_iter"),
    ],
)
def test_logreg_records_why_it_stopped(corpus_workspace, settings, converged, stop):
    X, y = _cell(corpus_workspace)
    model = MODELS.get("logreg")(random_state=0, **settings).fit(X, y)
    assert model.best_params_["converged"] is converged
    assert model.best_params_["stop"] == stop


def test_experiment_counts_cells_that_did_not_converge(workspace):
    args = ["experiment", "--sizes", "30,60", "--splits", "2", "-m", "logreg", "-f", "bert", "--metrics", "accuracy"]
    normal = invoke(workspace, *args, "--name", "normal")
    assert normal.exit_code == 0, normal.output
    assert "did not converge" not in normal.output
    rows = pq.read_table(workspace / "results" / "normal" / "results.parquet").to_pylist()
    assert all(json.loads(r["params"])["stop"] == "gradient" for r in rows)

    stalled = invoke(workspace, *args, "--name", "stalled", "-o", "logreg.rtol=1e-12")
    assert stalled.exit_code == 0, stalled.output
    assert "warning: 4 of 4 cells did not converge (logreg: no_progress 4)" in stalled.output, stalled.output
    rows = pq.read_table(workspace / "results" / "stalled" / "results.parquet").to_pylist()
    assert {json.loads(r["params"])["stop"] for r in rows} == {"no_progress"}
    assert not any(json.loads(r["params"])["converged"] for r in rows)


def test_convergence_line_counts_by_model_and_reason():
    import pyarrow as pa

    from enso_ng.fit_notes import convergence_line

    def row(model, split, params, metric="accuracy"):
        return {"dataset": "d", "featurizer": "f", "model": model, "train_size": 10, "split": split,
                "metric": metric, "params": json.dumps(params)}  # fmt: skip

    rows = [
        row("logreg", 0, {"converged": False, "stop": "no_progress"}),
        row("logreg", 0, {"converged": False, "stop": "no_progress"}, metric="macro_f1"),  # the same cell
        row("logreg", 1, {"converged": False, "stop": "max_iter"}),
        row("logreg", 2, {"converged": True, "stop": "gradient"}),
        row("svm", 0, {"converged": False}),
        row("knn", 0, {"k": 5}),  # records no convergence: not counted
    ]
    assert convergence_line(pa.Table.from_pylist(rows)) == (
        "3 of 4 cells did not converge (logreg: max_iter 1, no_progress 1; svm: not converged 1)"
    )
    assert convergence_line(pa.Table.from_pylist(rows[3:4])) is None


def _gradient_in_units(problem, g: torch.Tensor) -> torch.Tensor:
    """A batch's gradient in the solver's preconditioned variables, back in Z's and b's units (M, k R + k):
    unpacking multiplies by the scale once, and the variables carry it once more."""
    gZ, gb = problem.unpack(g)
    return torch.cat([(gZ / problem.scale**2).flatten(1), gb / problem.bscale**2], dim=1)


@pytest.mark.parametrize("sparse", [False, True])
def test_fold_problems_on_their_own_rows_and_carried_stages_match_full_evaluations(sparse):
    """The two shortcuts of the C path change no number: a fold problem posed on its own (padded) training
    rows has the objective and gradient of the same problem masked over all the cell's rows, and a stage that
    starts from the last one's solution, its objective carried over with only the penalty changed, starts
    from what evaluating it there gives."""
    import numpy as np
    import scipy.sparse as sp

    from enso_ng.experiment.models import logreg_solver as L

    rng = np.random.default_rng(0)
    n, d, K = 90, 40, 5
    X = rng.normal(size=(n, d)) + rng.integers(0, K, n)[:, None] * 0.3
    if sparse:
        X = sp.csr_matrix(np.where(rng.random((n, d)) < 0.2, np.abs(X), 0.0))
    codes = rng.integers(0, K, n)
    basis = L._SparseBasis(X) if sparse else L._DenseBasis(X)
    train = np.sort(rng.choice(n, 61, replace=False))
    mask = np.zeros(n)
    mask[train] = 1
    masked = L._Problem([basis], [codes], K, torch.as_tensor(mask)[None], torch.tensor([2.0]), torch.tensor([0]))
    own = L._Problem(
        [basis.restrict(train, 64)], [np.concatenate([codes[train], [0, 0, 0]])], K,
        torch.as_tensor(np.r_[np.ones(61), np.zeros(3)])[None], torch.tensor([2.0]), torch.tensor([0]),
    )  # fmt: skip
    Z = torch.as_tensor(rng.normal(size=(1, K, basis.r)) * 0.1, dtype=torch.float32)
    b = torch.as_tensor(rng.normal(size=(1, K)) * 0.1, dtype=torch.float32)
    one = torch.arange(1)
    f_m, g_m, gmax_m = masked(masked.pack(Z, b), one)
    f_o, g_o, gmax_o = own(own.pack(Z, b), one)
    # the preconditioners differ: compare gradients in Z's and b's units
    gm, go = _gradient_in_units(masked, g_m), _gradient_in_units(own, g_o)
    assert f_o.item() == pytest.approx(f_m.item(), rel=1e-5)
    assert torch.allclose(go, gm, rtol=1e-4, atol=1e-6) and gmax_o.item() == pytest.approx(gmax_m.item(), rel=1e-4)

    data = own.penalty_free(Z, b, f_o, g_o)
    own.set_C(torch.tensor([30.0]))
    own.rescale(Z, b)
    carried = own.evaluated(Z, b, *data)
    fresh = own(own.pack(Z, b), one)
    for got, want in zip(carried, fresh):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-6)


def test_fold_fits_on_own_rows_or_under_masks_choose_the_same_and_fit_the_same(monkeypatch):
    """Whether the fold problems run on their own rows (many classes, large products) or share their cell's
    product under masks is a question of speed only: the same C, the same scores, the same weights."""
    import numpy as np

    from enso_ng.experiment.models import logreg as L
    from enso_ng.experiment.models import logreg_solver as S

    rng = np.random.default_rng(1)
    K, d, n = 20, 30, 400
    centres = rng.normal(size=(K, d)) * 1.5
    y = np.arange(n) % K
    X = centres[y] + rng.normal(size=(n, d))
    fits = {}
    for own in (True, False):
        monkeypatch.setattr(S, "OWN_ROWS_WORK", 0 if own else float("inf"))
        monkeypatch.setattr(S, "OWN_ROWS_OUTPUTS", 0 if own else 10**9)
        models = [L.LogisticRegressionCV(random_state=s, rtol=1e-6, cv_rtol=1e-6) for s in (0, 1)]  # to optima
        fits[own] = L.LogisticRegressionCV.fit_many(models, [X, X], [y, y])
    for a, b in zip(fits[True], fits[False]):
        assert a.best_params_["C"] == b.best_params_["C"]
        ours, theirs = a.best_params_["cv_scores"], b.best_params_["cv_scores"]
        assert ours.keys() == theirs.keys() and all(abs(ours[c] - theirs[c]) < 2e-3 for c in ours)
        assert np.abs(a.predict_proba(X) - b.predict_proba(X)).max() < 2e-3


def _penalised_cross_entropy(basis, X, codes, mask, C: float, Z, b) -> float:
    """The objective from outside the solver, in float64: the weights (Z, b) map to (input space, through the
    basis's own maps), their mean cross-entropy over the rows ``mask`` keeps, plus ||Z||^2 / (2 C rows)."""
    import numpy as np

    W = basis.weights(Z[:, : basis.r].double().numpy().T)  # (d, k)
    scores = X @ W + basis.intercept(b.double().numpy(), W)
    if scores.shape[1] == 1:
        scores = np.hstack([np.zeros_like(scores), scores])
    scores -= scores.max(1, keepdims=True)
    log_p = scores - np.log(np.exp(scores).sum(1, keepdims=True))
    rows = mask.sum()
    return float(-(log_p[np.arange(len(codes)), codes] * mask).sum() / rows + (Z.double() ** 2).sum() / (2 * C * rows))


@pytest.mark.parametrize(
    "K, rows, scale, masked",
    [(5, 90, 1.0, False), (5, 30, 1.0, False), (2, 90, 1.0, False), (5, 90, 60.0, False), (5, 90, 1.0, True), (2, 90, 1.0, True)],
    ids=["primal", "dual", "binary", "scores-past-float32-exp", "two-masked-problems", "two-masked-binary"],
)
def test_the_batched_objective_is_the_penalised_cross_entropy_and_its_gradient(K, rows, scale, masked):
    """The solver's objective, checked from outside: each problem's value is the mean cross-entropy of the
    weights it maps to over its own rows (input space, float64) plus ||Z||^2 / (2 C n), and its gradient is
    that function's slope along random directions (central differences). Problems batched together keep
    their own rows (masks with zeros) and their own C. Scores far beyond float32's exponential range
    (``scale``) stay finite: the softmax is taken after shifting each row's largest score to zero."""
    import numpy as np

    from enso_ng.experiment.models import logreg_solver as L

    rng = np.random.default_rng(1)
    X = rng.normal(size=(rows, 40)) + rng.integers(0, K, rows)[:, None] * 0.3
    codes = np.arange(rows) % K
    basis = L._DenseBasis(X)
    masks = (rng.random((2, rows)) < 0.7).astype(float) if masked else np.ones((1, rows))
    Cs = [2.0, 30.0][: len(masks)]
    problem = L._Problem(
        [basis], [codes], K, torch.as_tensor(masks), torch.tensor(Cs), torch.zeros(len(masks), dtype=torch.long)
    )
    k, every = (1 if K == 2 else K), torch.arange(len(masks))
    Z = torch.as_tensor(rng.normal(size=(len(masks), k, basis.r)) * 0.3 * scale, dtype=torch.float32)
    b = torch.as_tensor(rng.normal(size=(len(masks), k)) * 0.3, dtype=torch.float32)
    theta = problem.pack(Z, b)
    f, g, gmax = problem(theta, every)

    def reference(Z: torch.Tensor, b: torch.Tensor) -> list[float]:
        return [_penalised_cross_entropy(basis, X, codes, masks[m], Cs[m], Z[m], b[m]) for m in range(len(masks))]

    assert torch.isfinite(f).all() and torch.isfinite(g).all()
    assert f.tolist() == pytest.approx(reference(Z, b), rel=1e-5)
    for _ in range(3):
        direction = torch.as_tensor(rng.normal(size=theta.shape), dtype=torch.float32)
        direction /= direction.norm(dim=1, keepdim=True)
        eps = 1e-4  # the reference is float64: a small step costs no precision
        ahead, behind = (reference(*problem.unpack(theta.double() + step * direction.double())) for step in (eps, -eps))
        slope = [(a - c) / (2 * eps) for a, c in zip(ahead, behind)]
        assert (g * direction).sum(1).tolist() == pytest.approx(slope, rel=2e-3, abs=1e-5)
    units = _gradient_in_units(problem, g)  # the largest component is what the bounds compare
    assert gmax.tolist() == pytest.approx(units.abs().amax(1).tolist(), rel=1e-5)
