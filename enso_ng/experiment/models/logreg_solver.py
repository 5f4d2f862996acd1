"""The solver behind ``logreg``: every cell's fold fits along the C path, and the refits, as batched L-BFGS.

Kept apart from the model class (:mod:`enso_ng.experiment.models.logreg`, whose docstring says how the fits
are posed) because it needs torch, and scoring a fitted model does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import torch

from enso_ng.experiment.criteria import CRITERIA, accuracy, choose
from enso_ng.experiment.lbfgs import STOPS, minimize
from enso_ng.experiment.models.base import cv_folds

if TYPE_CHECKING:
    from enso_ng.experiment.models.logreg import LogisticRegressionCV

#: float32 halves the cost of every product; eigen-decompositions and final weights stay float64
DTYPE = torch.float32


class _DenseBasis:
    """Centred training rows in the eigenbasis of their Gram matrix (n <= d) or of their covariance (n > d).

    Centring is exact (the intercept is unpenalised and absorbs the mean, see :meth:`intercept`) and it
    matters: embeddings share a large common mean, which makes the intercept and the mean direction nearly
    collinear, an ill-conditioned pair. With no more rows than dimensions the optimum lies in the span of
    the rows (the representer theorem), so the problem has n coordinates, not d; with more rows, the d
    coordinates are the centred rows rotated onto the principal axes of their covariance. Either way the
    coordinates are uncorrelated, which makes the diagonal preconditioner exact at the start: embeddings
    are strongly anisotropic, and with the raw features' diagonal alone a 77-class problem took 2-5 times
    the iterations (README, `enso experiment`, "Speed"). The d x d ``eigh`` costs milliseconds.
    Every cell's basis is its own: a cell's result never depends on what else is in its batch.
    """

    #: fold fits may stop at ``cv_rtol``: on dense features they rank C as exact fold fits do (README)
    loose_cv = True

    def __init__(self, X: np.ndarray) -> None:
        X32 = torch.as_tensor(np.asarray(X, dtype=np.float32))
        self.mean = X32.mean(0).double().numpy()
        Xc = X32 - X32.mean(0)
        self.dual = Xc.shape[0] <= Xc.shape[1]
        self._rotation = None
        rows = Xc.numpy()  # numpy's product of a matrix with its own transpose computes one triangle (syrk)
        if self.dual:
            coordinates = self._gram_coordinates(torch.as_tensor(rows @ rows.T))
        else:  # every eigenvector kept: a rotation loses nothing, while a cut-off would drop real features
            vectors = _covariance_eigenvectors(rows.T @ rows)  # of very different scales (a column 1000x others)
            self._rotation = vectors.astype(np.float64)
            coordinates = Xc @ torch.as_tensor(vectors)
        if not coordinates.shape[1]:  # identical rows after centring: nothing to rotate, solve as they are
            self.dual, self._rotation, coordinates = False, None, Xc
        if self.dual:
            self._X = np.asarray(X, dtype=np.float64) - self.mean
        self._set_coordinates(coordinates)

    def _gram_coordinates(self, gram: torch.Tensor) -> torch.Tensor:
        """The rows' coordinates in the eigenbasis of their centred Gram matrix (n x r, r <= n)."""
        eigenvalues, vectors = _eigh(gram)
        self._vectors, self._s = vectors, np.sqrt(eigenvalues)
        return torch.as_tensor(vectors * self._s, dtype=DTYPE)

    def _set_coordinates(self, F: torch.Tensor) -> None:
        self.F = F.contiguous()  # products use F.T as a view: a transposed copy only doubles memory traffic
        self._Fsq = self.F.pow(2)
        #: the squared norm of each coordinate column (the Gram eigenvalues in the dual)
        self.colsq = self._Fsq.sum(0)
        self.r = self.F.shape[1]

    def restrict(self, rows: np.ndarray, n: int) -> _DenseBasis:
        """The same coordinates for only ``rows`` (a fold's training rows), padded with zero rows to ``n``.

        A fold problem then costs products over its own rows, not masks over all of the cell's: a third less
        with 3 folds. Padding rows carry weight zero, and zero rows add nothing to the column norms.
        """
        part = object.__new__(type(self))
        part.__dict__.update(self.__dict__)
        F = torch.zeros(n, self.r, dtype=DTYPE)
        F[: len(rows)] = self.F[torch.as_tensor(rows)]
        part._set_coordinates(F)
        return part

    def weights(self, Z: np.ndarray) -> np.ndarray:
        """Coefficients (d, k) in the input space for coordinates Z (r, k)."""
        if self.dual:
            return self._X.T @ (self._vectors / self._s @ Z)
        return Z if self._rotation is None else self._rotation @ Z

    def intercept(self, b: np.ndarray, W: np.ndarray) -> np.ndarray:
        """The intercept for uncentred rows, given the centred problem's intercept b and weights W (d, k)."""
        return b - self.mean @ W

    def matmul(self, Zt: torch.Tensor) -> torch.Tensor:
        """(m, r) coefficients -> (m, n) scores of the training rows."""
        return Zt @ self.F.T

    def rmatmul(self, G: torch.Tensor) -> torch.Tensor:
        """(m, n) per-row weights -> (m, r)."""
        return G @ self.F

    def weighted_colsq(self, c: torch.Tensor) -> torch.Tensor:
        """(m, n) per-row weights -> (m, r): each coordinate column's weighted sum of squares."""
        return c @ self._Fsq


def _covariance_eigenvectors(covariance: np.ndarray) -> np.ndarray:
    """The eigenvectors of a float32 d x d covariance, by LAPACK's divide and conquer (``syevd``).

    Called directly: for 1,000 MiniLM rows ``torch.linalg.eigh`` took 14.1 ms on SST-2's covariance and 9.9 ms
    on Banking77's, against 10.0 and 9.1 ms (one thread, AVX2 AMD EPYC); it is the largest part of a binary
    cell's fit at 500-1,000 rows (README, "Speed").
    """
    return scipy.linalg.eigh(covariance, driver="evd", check_finite=False)[1]


def _eigh(gram: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of a float32 Gram matrix, returned in float64, without its null space.

    The Gram matrix is formed in float32, so a float64 decomposition would not make it more exact: float32
    ``eigh`` is about twice as fast (README, `enso experiment`, "Speed"), and directions below 1e-6 of the largest
    eigenvalue are float32 round-off, not data.
    """
    eigenvalues, vectors = (t.double().numpy() for t in torch.linalg.eigh(gram))
    keep = eigenvalues > max(eigenvalues[-1], 1e-300) * 1e-6
    return eigenvalues[keep], vectors[:, keep]


#: up to this many rows, sparse cells are solved in their Gram eigenbasis: 1.5-4x faster at 50-500 tf-idf
#: rows, while at 1,000 the n x n eigendecomposition costs more than it saves (README, "Speed")
SPARSE_GRAM_ROWS = 512


class _SparseGramBasis(_DenseBasis):
    """Sparse rows (tf-idf) with no more rows than the columns they use, in their Gram eigenbasis.

    The centred Gram matrix is formed from the sparse rows (the mean enters as a rank-two correction), so
    nothing d-wide is ever dense; after that the problem is the dense dual one, with its exact starting
    preconditioner, and the weights map back through the sparse rows. Fold fits are solved to ``rtol``, as
    for :class:`_SparseBasis`: loose ones cost up to 1.3 points at 100 TREC rows.
    """

    loose_cv = False

    def __init__(self, X: sp.spmatrix) -> None:
        X = X.tocsr().astype(np.float64)
        self._sparse = X
        self.mean = np.asarray(X.mean(0)).ravel()
        self.dual = True
        shared = X @ self.mean  # (n,): each row's product with the mean
        gram = (X @ X.T).toarray() - shared[:, None] - shared[None, :] + self.mean @ self.mean
        self._set_coordinates(self._gram_coordinates(torch.as_tensor(gram, dtype=torch.float32)))

    def weights(self, Z: np.ndarray) -> np.ndarray:
        u = self._vectors / self._s @ Z  # (n, k): the weights as a combination of the centred rows
        return np.asarray(self._sparse.T @ u) - np.outer(self.mean, u.sum(0))


class _SparseBasis:
    """Sparse rows (tf-idf) restricted to the columns the training rows use, centred implicitly.

    Subtracting the mean would densify the matrix, so products subtract it as a rank-one correction.
    Words seen in the same few rows are nearly collinear directions held only by the penalty, so at large
    C a loose fit stops far from the optimum and ranks C too low (README, `enso experiment`, "Speed"); fold
    fits on sparse rows are therefore solved to ``rtol`` (``loose_cv``).
    """

    loose_cv = False

    def __init__(self, X: sp.spmatrix) -> None:
        X = X.tocsr().astype(np.float64)
        self.columns = np.unique(X.indices)
        Xc = X[:, self.columns].tocsr()
        n = Xc.shape[0]
        self._d = X.shape[1]
        self._F = Xc
        self._FT = Xc.T.tocsr()
        self._FTsq = self._FT.multiply(self._FT).tocsr()
        self.mean = np.asarray(Xc.mean(0)).ravel()
        self._mean = torch.as_tensor(self.mean, dtype=DTYPE)
        colsq = np.asarray(self._FTsq.sum(1)).ravel() - n * self.mean**2
        self.colsq = torch.as_tensor(np.maximum(colsq, 0.0), dtype=DTYPE)
        self.r = len(self.columns)

    def restrict(self, rows: np.ndarray, n: int) -> _SparseBasis:
        """Only ``rows``, padded with empty rows to ``n`` (see :meth:`_DenseBasis.restrict`); the cell's columns
        and mean are kept, so the coordinates are the cell's."""
        part = object.__new__(type(self))
        part.__dict__.update(self.__dict__)
        F = self._F[rows]
        part._F = sp.vstack([F, sp.csr_matrix((n - len(rows), F.shape[1]))]).tocsr()
        part._FT = part._F.T.tocsr()
        part._FTsq = part._FT.multiply(part._FT).tocsr()
        # sum over the rows of (x - mean)^2, the padding excluded
        sq, total = np.asarray(F.multiply(F).sum(0)).ravel(), np.asarray(F.sum(0)).ravel()
        colsq = sq - 2 * self.mean * total + len(rows) * self.mean**2
        part.colsq = torch.as_tensor(np.maximum(colsq, 0.0), dtype=DTYPE)
        return part

    def weights(self, Z: np.ndarray) -> np.ndarray:
        W = np.zeros((self._d, Z.shape[1]))
        W[self.columns] = Z
        return W

    def intercept(self, b: np.ndarray, W: np.ndarray) -> np.ndarray:
        return b - self.mean @ W[self.columns]

    def matmul(self, Zt: torch.Tensor) -> torch.Tensor:
        scores = torch.as_tensor(np.ascontiguousarray((self._F @ Zt.numpy().T).T), dtype=DTYPE)
        return scores - (Zt @ self._mean)[:, None]

    def rmatmul(self, G: torch.Tensor) -> torch.Tensor:
        out = torch.as_tensor(np.ascontiguousarray((self._FT @ G.numpy().T).T), dtype=DTYPE)
        return out - G.sum(1, keepdim=True) * self._mean

    def weighted_colsq(self, c: torch.Tensor) -> torch.Tensor:
        """sum_i c_i (x_ij - mean_j)^2, expanded so that the matrix stays sparse."""
        sq = torch.as_tensor(np.ascontiguousarray((self._FTsq @ c.numpy().T).T), dtype=DTYPE)
        return (sq - 2 * self.rmatmul(c) * self._mean - c.sum(1, keepdim=True) * self._mean**2).clamp(min=0)


def _basis(X: Any) -> _DenseBasis | _SparseBasis:
    """The coordinates a cell is solved in (see each basis for why)."""
    if not sp.issparse(X):
        return _DenseBasis(X)
    X = X.tocsr()
    if X.shape[0] <= min(SPARSE_GRAM_ROWS, len(np.unique(X.indices))):
        basis = _SparseGramBasis(X)
        if basis.r:  # else the rows do not vary (identical after centring): no eigenbasis to solve in
            return basis
    return _SparseBasis(X)


def fit_many(models: list[LogisticRegressionCV], Xs: list[Any], ys: list[np.ndarray]) -> list[LogisticRegressionCV]:
    """Fit several cells' models in one batch (same settings; the runner passes one size's split seeds).

    Cells of one size have the same shapes, so one solver run amortises its per-iteration overhead over
    all of them; each model's result is what fitting it alone gives, up to float32 rounding.
    """
    settings = {m._settings() for m in models}
    if len(settings) != 1:
        raise ValueError("fit_many needs models with the same Cs, cv, max_iter, rtol, cv_rtol and criterion")
    Cs, cv, max_iter, rtol, cv_rtol, criterion = settings.pop()
    cells = []
    for model, X, y in zip(models, Xs, ys):
        model.classes_, codes = np.unique(y, return_inverse=True)
        folds = cv_folds(codes, cv, model.random_state, allow_missing=True) if len(Cs) > 1 else []
        cells.append((_basis(X), codes, folds))
    groups: dict[tuple, list[int]] = {}
    for i, (_, codes, _) in enumerate(cells):
        groups.setdefault((len(codes), len(models[i].classes_)), []).append(i)
    for members in groups.values():
        _fit_group([models[i] for i in members], [cells[i] for i in members], Cs, max_iter, rtol, cv_rtol, criterion)
    return models


def _fit_group(models, cells, Cs, max_iter, rtol, cv_rtol, criterion) -> None:
    """Cells with the same number of rows and classes, solved together, warm-started along the C path.

    Stage c solves every (cell, fold) problem for C_c, starting from its solution for C_{c-1}: the path from
    strong to weak regularisation moves the optimum a little at a time, so later stages need far fewer
    iterations than from zero. The fold fits only rank the C values, so on dense rows they stop at
    ``cv_rtol`` (see ``loose_cv`` for sparse rows). Then each cell is refitted on all its rows at its chosen
    C to ``rtol``, starting from the mean of that C's fold solutions. Both bounds are relative to each
    problem's gradient at the null model (:func:`_null_gradient`), so a warm start is returned unmoved only
    when it already meets the bound; a cell whose fold fits all stayed where a stage started them is
    recorded (``cv_unmoved``). Each stage's validation logits are scored under ``criterion`` (and accuracy,
    always recorded) per fold.
    """
    bases, codes, K = [cell[0] for cell in cells], [cell[1] for cell in cells], len(models[0].classes_)
    fold_rtol = max(rtol, cv_rtol) if all(basis.loose_cv for basis in bases) else rtol
    path = _cv_path(bases, codes, K, [cell[2] for cell in cells], Cs, max_iter, fold_rtol, criterion)
    best, starts, records = _choose_C(cells, Cs, criterion, *path)
    problem = _Problem(
        bases, codes, K, torch.ones(len(cells), len(codes[0])), torch.as_tensor([Cs[c] for c in best]),
        torch.arange(len(cells)),
    )  # fmt: skip
    start = problem.start()
    gtol = _bound(rtol, _null_gradient(problem))
    if any(s is not None for s in starts):
        zeros_Z, zeros_b = problem.unpack(start)
        Z0 = torch.stack([s[0] if s is not None else zeros_Z[i] for i, s in enumerate(starts)])
        b0 = torch.stack([s[1] if s is not None else zeros_b[i] for i, s in enumerate(starts)])
        problem.rescale(Z0, b0)
        start = problem.pack(Z0, b0)
    solution = minimize(problem, start, max_iter=max_iter, gtol=gtol)
    Z, b = problem.unpack(solution.theta)
    for i, (model, basis) in enumerate(zip(models, bases)):
        W = basis.weights(Z[i, :, : basis.r].numpy().astype(np.float64).T)
        model.coef_ = np.ascontiguousarray(W.T)  # (k, d): one row for two classes, as scikit-learn
        model.intercept_ = basis.intercept(b[i].numpy().astype(np.float64), W)
        model.n_iter_ = int(solution.n_iter[i])
        model.best_params_ = {
            "C": Cs[best[i]],
            **records[i],
            "converged": bool(solution.converged[i]),
            #: why the refit stopped: "gradient" (met ``rtol``), "no_progress" or "max_iter"
            "stop": STOPS[int(solution.stop[i])],
            "n_iter": model.n_iter_,
        }


def _cv_path(bases, codes_list, K, cell_folds, Cs, max_iter, fold_rtol, criterion) -> tuple:
    """Every (cell, fold) problem along the C path: (values, accuracies, moved), each (C, fold problems),
    and each stage's solutions (Z, b). ``moved`` is False where a fold fit returned its warm start; a stage
    where none moved reuses the last one's scores, and skips the preconditioner no iteration would use."""
    n = len(codes_list[0])
    folds = [(c_index, train) for c_index, cell in enumerate(cell_folds) for train, _ in cell]
    values, accuracies = np.zeros((len(Cs), len(folds))), np.zeros((len(Cs), len(folds)))
    moved = np.ones((len(Cs), len(folds)), dtype=bool)
    stage_solutions: list[tuple[torch.Tensor, torch.Tensor]] = []
    if not folds:
        return values, accuracies, moved, stage_solutions
    fold_score = CRITERIA.get(criterion).fold_score
    cell_of = torch.as_tensor([c_index for c_index, _ in folds])
    outputs = 1 if K == 2 else K
    if outputs >= OWN_ROWS_OUTPUTS and outputs * max(basis.r for basis in bases) * n >= OWN_ROWS_WORK:
        # Each fold problem is posed on its own training rows (padded to one length with weight-zero rows)
        # in its cell's coordinates; the cell's full rows score the folds' validation rows after each stage.
        width = max(len(train) for _, train in folds)
        rows = np.zeros((len(folds), width), dtype=np.int64)  # the padding points at row 0; its weight is zero
        masks = np.zeros((len(folds), width))
        for m, (_, train) in enumerate(folds):
            rows[m, : len(train)], masks[m, : len(train)] = train, 1
        problem = _Problem(
            [bases[c_index].restrict(train, width) for c_index, train in folds],
            [codes_list[c_index][rows[m]] for m, (c_index, _) in enumerate(folds)],
            K, torch.as_tensor(masks), torch.full((len(folds),), Cs[0]), torch.arange(len(folds)),
        )  # fmt: skip
        own_rows = torch.as_tensor(rows)[:, None, :].expand(-1, K, -1)
    else:  # small problems: one product per cell over all its rows, the folds' own under a mask
        masks = np.zeros((len(folds), n))
        for m, (_, train) in enumerate(folds):
            masks[m, train] = 1
        problem = _Problem(bases, codes_list, K, torch.as_tensor(masks), torch.full((len(folds),), Cs[0]), cell_of)
        own_rows = None
    scorer = _Problem(bases, codes_list, K, torch.ones(len(folds), n), torch.ones(len(folds)), cell_of)
    valid = np.ones((len(folds), n))
    for m, (_, train) in enumerate(folds):
        valid[m, train] = 0  # k-fold: a row a fold does not train on is one it validates on
    everything = torch.arange(len(folds))
    start = problem.start()
    initial = problem(start, everything)  # at the null model: the first stage's start and the bounds' scale
    gtol = _bound(fold_rtol, initial[2])  # the start is the null model: its gradient is already here
    Z, b = problem.unpack(start)
    data = scores = None
    for c, C in enumerate(Cs):
        if data is not None:  # the same problems at the next C, from the last solutions: only the penalty changed
            problem.set_C(torch.full((len(folds),), C))
            initial = problem.evaluated(Z, b, *data)
            if (initial[2] > gtol).any():  # else no iteration will use a preconditioner
                problem.rescale(Z, b, scores if own_rows is None else scores.gather(2, own_rows))
                initial = problem.evaluated(Z, b, *data)
            start = problem.pack(Z, b)
        solution = minimize(problem, start, max_iter=max_iter, gtol=gtol, initial=initial)
        moved[c] = (solution.theta != start).any(1).numpy()  # a failed line search counts an iteration
        Z, b = problem.unpack(solution.theta)
        data = problem.penalty_free(Z, b, solution.f, solution.g)
        if scores is not None and not moved[c].any():  # every fold fit stayed where it was: so did its scores
            values[c], accuracies[c] = values[c - 1], accuracies[c - 1]
        else:
            scores = scorer.logits(Z, b, everything)
            logits = scores.numpy().transpose(0, 2, 1)  # (M, n, K)
            codes = scorer.codes[:, 0].numpy()
            values[c] = fold_score(logits, codes, valid, "logits")
            accuracies[c] = accuracy(logits, codes, valid, "logits")
        stage_solutions.append((Z, b))
    return values, accuracies, moved, stage_solutions


def _choose_C(cells, Cs, criterion, values, accuracies, moved, stage_solutions) -> tuple[list, list, list]:
    """Per cell: the chosen C's index, the refit's warm start (the mean of that C's fold solutions, or None
    without folds) and the CV record."""
    best, starts, records = [], [], []
    labels = [f"{C:g}" for C in Cs]
    m = 0
    for _, _, folds in cells:
        if folds:
            part = slice(m, m + len(folds))
            chosen = choose(criterion, values[:, part], accuracies[:, part], labels)
            unmoved = [label for label, stage in zip(labels, moved[:, part]) if not stage.any()]
            records.append({**chosen.record, **({"cv_unmoved": unmoved} if unmoved else {})})
            Z, b = stage_solutions[chosen.index]
            starts.append((Z[part].mean(0), b[part].mean(0)))
            best.append(chosen.index)
        else:
            records.append({"cv_folds": 0})
            starts.append(None)
            best.append(Cs.index(1.0) if 1.0 in Cs else 0)
        m += len(folds)
    return best, starts, records


#: fold problems with at least this many outputs (classes) and multiply-adds per product (outputs x
#: coordinates x rows) are posed on their own training rows, a third fewer with 3 folds; with fewer, one
#: product per fold runs below matrix-product speed and costs more than it saves (up to 24% on TREC and
#: SST-2), so the folds share their cell's product under masks (README, "Speed")
OWN_ROWS_OUTPUTS, OWN_ROWS_WORK = 16, 4_000_000

#: below this a mean gradient component is float32 round-off (rows that do not vary give ~2e-8): a bound
#: is never set under it, or such a problem could only stop on "no progress" and be reported unconverged
GTOL_FLOOR = 1e-7


def _bound(rtol: float, null_gradient: torch.Tensor) -> torch.Tensor:
    """Each problem's gradient bound: ``rtol`` of its null model's gradient, never below round-off."""
    return (rtol * null_gradient).clamp(min=GTOL_FLOOR)


def _null_gradient(problem: _Problem) -> torch.Tensor:
    """Each problem's largest gradient component at the null model: zero weights, class-frequency intercepts.

    This is the scale the stopping bounds are relative to. An absolute bound (scikit-learn's ``tol``) means
    different things on different problems: with K classes each class's share of the gradient is about
    1/K of a binary problem's, so a bound chosen on 2-6 classes (2e-3 once) is met at the null model itself
    on 77 classes and every fold fit returned its start (issue 27). Relative to the null model's gradient
    the bound does not move with the number of classes, rows, or the scale of the features, in the primal
    and the dual bases alike; it does not depend on C (the penalty's gradient is zero at zero weights).
    """
    return problem(problem.start(), torch.arange(len(problem.cell_of)))[2]


class _Problem:
    """The batched objective: mean masked cross-entropy + ||Z||^2 / (2 C n_m), in preconditioned coordinates.

    The per-row mean matches scikit-learn's scaling, so the gradient tolerance means the same. Variables are
    Q = Z * sqrt(h) and q = b * sqrt(h_b), with h and h_b the Hessian's diagonal (softmax curvature times
    each coordinate's squared norm per row, plus the penalty; the curvature alone for the intercepts):
    near-identity curvature at the start. That diagonal is taken at zero, or at a warm start after
    :meth:`rescale` (left unscaled, the intercepts alone doubled the iterations on the benchmark). Scores
    are laid out (problem, class, row) so that the softmax reduces over a short axis with long contiguous
    rows. Cells may have different numbers of coordinates r <= R; the unused ones stay at zero.
    """

    def __init__(
        self, bases: list, codes: list[np.ndarray], K: int, masks: torch.Tensor, Cs: torch.Tensor, cell_of: torch.Tensor
    ) -> None:
        self.bases, self.K, self.cell_of = bases, K, cell_of
        self.k = 1 if K == 2 else K  # outputs: a binary problem has one weight vector, as in scikit-learn
        self.n, self.R = len(codes[0]), max(basis.r for basis in bases)
        self.codes = torch.as_tensor(np.stack(codes))[cell_of].unsqueeze(1)  # (M, 1, n)
        self.single = len(bases) == 1
        masks = masks.to(DTYPE)
        self.rows = masks.sum(1)
        self.weight = masks / self.rows[:, None]  # (M, n): each problem's mean over its own rows
        self.set_C(Cs)
        colsq = torch.stack([torch.nn.functional.pad(basis.colsq, (0, self.R - basis.r)) for basis in bases])
        # The Hessian's diagonal at zero: softmax curvature p(1 - p) at p = 1/K, times each coordinate's
        # squared norm per row, plus the penalty.
        curvature = 0.25 if self.k == 1 else (K - 1) / K**2
        h = curvature * colsq[cell_of] / self.n + self.lam[:, None]  # (M, R)
        self.scale = h.rsqrt()[:, None, :]  # Z = Q * scale
        self.bscale = torch.full((len(cell_of), self.k), curvature**-0.5, dtype=DTYPE)
        self._cached: tuple | None = None

    def set_C(self, Cs: torch.Tensor) -> None:
        """The problems at C (one per problem); later, the same problems at other C (then :meth:`rescale`
        for a preconditioner at the warm start)."""
        self.lam = (1.0 / (Cs * self.rows)).to(DTYPE)  # (M,)
        self._cached = None

    def rescale(self, Z: torch.Tensor, b: torch.Tensor, logits: torch.Tensor | None = None) -> None:
        """Precondition by the Hessian's diagonal at (Z, b) instead of at zero: for a warm start.

        ``logits`` are :meth:`logits` at (Z, b), when the caller has them already.
        """
        idx = torch.arange(len(self.cell_of))
        logits = self.logits(Z, b, idx) if logits is None else logits
        P = torch.softmax(logits, dim=1)
        P = P[:, 1:] if self.k == 1 else P
        c = P * (1 - P) * self.weight[:, None, :]  # (M, k, n)
        h = torch.zeros(len(idx), self.k, self.R, dtype=DTYPE)
        for rows, basis in self._rows(idx)[2]:
            a = rows.stop - rows.start
            h[rows, :, : basis.r] = basis.weighted_colsq(c[rows].reshape(a * self.k, self.n)).view(a, self.k, basis.r)
        h += self.lam[:, None, None]
        self.scale = h.rsqrt()
        self.bscale = c.sum(2).clamp(min=1e-6).rsqrt()
        self._cached = None

    def penalty_free(
        self, Z: torch.Tensor, b: torch.Tensor, f: torch.Tensor, g: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The data term's value and gradient (in Z's and b's units) at (Z, b), from the objective ``f`` and
        preconditioned gradient ``g`` there: what carries over to the same problems at another C."""
        gZ = g[:, : self.k * self.R].view(-1, self.k, self.R) / self.scale - self.lam[:, None, None] * Z
        return f - 0.5 * self.lam * Z.pow(2).sum((1, 2)), gZ, g[:, self.k * self.R :] / self.bscale

    def evaluated(
        self, Z: torch.Tensor, b: torch.Tensor, f_data: torch.Tensor, gZ_data: torch.Tensor, gb: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """What ``self(pack(Z, b), all problems)`` returns, from the data term (:meth:`penalty_free`): a stage
        warm-started at the last one's solutions begins without a product."""
        gZ = gZ_data + self.lam[:, None, None] * Z
        f = f_data + 0.5 * self.lam * Z.pow(2).sum((1, 2))
        gmax = torch.maximum(gZ.abs().amax((1, 2)), gb.abs().amax(1))
        return f, torch.cat([(gZ * self.scale).reshape(Z.shape[0], -1), gb * self.bscale], dim=1), gmax

    def start(self) -> torch.Tensor:
        """Zero coefficients and the intercepts that are optimal for them: log class frequencies."""
        theta = torch.zeros(self.weight.shape[0], self.k * self.R + self.k, dtype=DTYPE)
        onehot = torch.zeros(self.weight.shape[0], self.K, self.n, dtype=DTYPE).scatter_(1, self.codes, 1.0)
        freq = (onehot * self.weight[:, None, :]).sum(2).clamp(min=1e-3)  # (M, K)
        logf = freq.log()
        b = logf[:, 1:] - logf[:, :1] if self.k == 1 else logf - logf.mean(1, keepdim=True)
        theta[:, self.k * self.R :] = b / self.bscale
        return theta

    def pack(self, Z: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Variables for coefficients Z (M, k, R) and intercepts b (M, k): the inverse of :meth:`unpack`."""
        return torch.cat([(Z / self.scale).reshape(Z.shape[0], -1), b / self.bscale], dim=1).to(DTYPE)

    def unpack(self, theta: torch.Tensor, idx: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        scale, bscale = (self.scale, self.bscale) if idx is None else self._rows(idx)[:2]
        return theta[:, : self.k * self.R].view(-1, self.k, self.R) * scale, theta[:, self.k * self.R :] * bscale

    def _rows(self, idx: torch.Tensor) -> tuple:
        """What the objective needs of problems ``idx``, kept while the solver passes the same tensor."""
        if self._cached is not None and self._cached[0] is idx:
            return self._cached[1]
        cells = self.cell_of[idx]
        bounds = torch.nonzero(cells[1:] != cells[:-1]).view(-1).tolist()
        starts, ends = [0, *[b + 1 for b in bounds]], [*[b + 1 for b in bounds], len(idx)]
        runs = [(slice(a, e), self.bases[int(cells[a])]) for a, e in zip(starts, ends)]  # idx is sorted
        codes = self.codes[: len(idx)] if self.single else self.codes[idx]  # one cell: every row is alike
        weight = self.weight[idx][:, None, :]
        rows = (
            self.scale[idx],
            self.bscale[idx],
            runs,
            weight,
            self.lam[idx],
            codes,
            codes.to(DTYPE).mul_(weight) if self.k == 1 else None,
        )
        self._cached = (idx, rows)
        return rows

    def logits(self, Z: torch.Tensor, b: torch.Tensor, idx: torch.Tensor, both: bool = True) -> torch.Tensor:
        """(A, K, n) scores of every training row under each of the A problems' coefficients.

        A binary problem has one score per row (that of class 1); ``both=False`` keeps it (A, 1, n).
        """
        A = Z.shape[0]
        out = torch.empty(A, self.k, self.n, dtype=DTYPE)
        for rows, basis in self._rows(idx)[2]:
            a = rows.stop - rows.start
            out[rows] = basis.matmul(Z[rows, :, : basis.r].reshape(a * self.k, basis.r)).view(a, self.k, self.n)
        out += b[:, :, None]
        if self.k == 1 and both:
            out = torch.cat([torch.zeros_like(out), out], dim=1)
        return out

    def __call__(self, theta: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        A = theta.shape[0]
        scale, bscale, runs, weight, lam, codes, positive = self._rows(idx)
        Z, b = self.unpack(theta, idx)
        logits = self.logits(Z, b, idx, both=False)  # (A, k, n)
        if self.k == 1:  # binary: log(1 + e^s) - y s, gradient sigmoid(s) - y, on one score per row
            f = (torch.nn.functional.softplus(logits) * weight).sum((1, 2)) - (logits * positive).sum((1, 2))
            G = logits.sigmoid_().mul_(weight).sub_(positive)
        else:
            # one exponential per score: the softmax and the log-sum-exp share it (logsumexp and then exp of
            # the shifted scores took two, about a sixth of an evaluation at 4,928 Banking77 rows)
            shifted = logits.sub_(logits.amax(1, keepdim=True))  # (A, k, n), each row's largest score at 0
            picked = shifted.gather(1, codes)
            E = shifted.exp_()
            total = E.sum(1, keepdim=True)  # (A, 1, n), at least 1
            f = ((total.log() - picked) * weight).sum((1, 2))
            G = E.mul_(weight / total).scatter_add_(1, codes, -weight)  # (P - Y) * w
        f += 0.5 * lam * Z.pow(2).sum((1, 2))
        gZ = torch.zeros(A, self.k, self.R, dtype=DTYPE) if len(runs) > 1 or runs[0][1].r < self.R else None
        for rows, basis in runs:
            a = rows.stop - rows.start
            part = basis.rmatmul(G[rows].reshape(a * self.k, self.n)).view(a, self.k, basis.r)
            if gZ is None:
                gZ = part
            else:
                gZ[rows, :, : basis.r] = part
        gZ += lam[:, None, None] * Z
        gb = G.sum(2)
        gmax = torch.maximum(gZ.abs().amax((1, 2)), gb.abs().amax(1))
        return f, torch.cat([(gZ * scale).reshape(A, -1), gb * bscale], dim=1), gmax
