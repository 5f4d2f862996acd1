"""L-BFGS for many small independent problems at once.

Choosing C for logistic regression by 3-fold CV over five values means 20 small fits per cell (15 fold fits
and five refits). One at a time, each pays per-fit overhead and a Python round trip per iteration; here
every problem is one row of a batch: one objective call evaluates all of them with two matrix products,
the two-loop recursion and the Armijo backtracking run per problem on batched tensors, and a problem
leaves the batch as soon as it has converged (the batch is compacted, so finished problems cost nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

#: f(theta (A, P), problems (A,)) -> (objective (A,), gradient (A, P), max |gradient| in the problem's units (A,))
Objective = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


#: why a problem stopped, as ``Solution.stop`` codes: ``STOPS[code]``
STOPS = ("gradient", "no_progress", "max_iter")
GRADIENT, NO_PROGRESS, MAX_ITER = range(3)


@dataclass
class Solution:
    theta: torch.Tensor  # (M, P)
    n_iter: torch.Tensor  # (M,)
    #: (M,) bool: the gradient tolerance was met, and nothing else counts
    converged: torch.Tensor
    #: (M,) int: index into :data:`STOPS`
    stop: torch.Tensor
    #: (M,) and (M, P): the objective and its gradient at ``theta``, so that a caller continuing from there
    #: (a warm start on a changed objective) need not evaluate them again
    f: torch.Tensor
    g: torch.Tensor


def minimize(
    fun: Objective,
    theta0: torch.Tensor,
    max_iter: int = 500,
    gtol: float | torch.Tensor = 1e-4,
    ftol: float = 1e-9,
    history: int = 10,
    max_backtracks: int = 30,
    initial: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> Solution:
    """Minimise M independent smooth objectives; stop each at max |g| <= gtol or a relative decrease <= ftol.

    ``gtol`` is one bound for all problems or one per problem (M,): a caller whose problems differ in scale
    (logistic regression with many classes has proportionally smaller gradients) passes bounds relative to
    each problem's own scale.

    The stopping criteria are scipy's L-BFGS-B ones (pgtol, and factr * eps as ftol), but only the gradient
    tolerance counts as converged: in float32 a relative decrease of 1e-9 is below rounding, so it says the
    solver made no progress, not that it reached the optimum. A problem that stops on it, or whose line
    search finds no decrease, stops with ``stop == NO_PROGRESS``; one still running after ``max_iter``
    iterations keeps its last point with ``stop == MAX_ITER``; neither is converged.

    ``initial`` is ``fun(theta0, all problems)`` when the caller has it already.
    """
    M, P = theta0.shape
    out = Solution(
        theta=theta0.clone(),
        n_iter=torch.zeros(M, dtype=torch.int64),
        converged=torch.zeros(M, dtype=torch.bool),
        stop=torch.full((M,), MAX_ITER, dtype=torch.int64),
        f=torch.empty(M, dtype=theta0.dtype),
        g=torch.empty(M, P, dtype=theta0.dtype),
    )
    idx = torch.arange(M)
    gtol = torch.as_tensor(gtol, dtype=theta0.dtype).expand(M).clone()
    theta = theta0.clone()
    f, g, gmax = fun(theta, idx) if initial is None else (t.clone() for t in initial)
    S = torch.empty(history, M, P, dtype=theta.dtype)  # slots are read only once written (see ``filled``)
    Y = torch.empty(history, M, P, dtype=theta.dtype)
    rho = torch.zeros(history, M, dtype=theta.dtype)
    n_iter = torch.zeros(M, dtype=torch.int64)
    done = gmax <= gtol
    converged = done.clone()
    slot = 0
    for it in range(max_iter + 1):
        if done.any():  # write finished problems back and compact the batch
            out.theta[idx[done]], out.f[idx[done]], out.g[idx[done]] = theta[done], f[done], g[done]
            out.n_iter[idx[done]] = n_iter[done]
            out.converged[idx[done]] = converged[done]
            out.stop[idx[done]] = torch.where(converged[done], GRADIENT, NO_PROGRESS)
            keep = ~done
            idx, theta, f, g, n_iter, converged, gtol = (
                idx[keep],
                theta[keep],
                f[keep],
                g[keep],
                n_iter[keep],
                converged[keep],
                gtol[keep],
            )
            S, Y, rho = S[:, keep], Y[:, keep], rho[:, keep]
        if len(idx) == 0:
            break
        if it == max_iter:  # still running: keep the last point, not converged (``stop`` stays MAX_ITER)
            out.theta[idx], out.n_iter[idx], out.f[idx], out.g[idx] = theta, n_iter, f, g
            break
        direction = _two_loop(g, S, Y, rho, slot, min(it, history), history).neg_()
        slope = torch.linalg.vecdot(g, direction)
        uphill = slope >= 0
        if uphill.any():  # a stale curvature pair: fall back to steepest descent for that problem
            direction[uphill] = -g[uphill]
            slope[uphill] = -(g[uphill] ** 2).sum(1)
        if it == 0:
            step = torch.clamp(1.0 / direction.abs().amax(1).clamp(min=1e-12), max=1.0)
            new_theta = torch.addcmul(theta, step[:, None], direction)
        else:
            step = torch.ones(len(idx), dtype=theta.dtype)
            new_theta = theta + direction
        new_f, new_g, new_gmax = fun(new_theta, idx)
        pending = new_f > torch.addcmul(f, step, slope, value=1e-4)  # Armijo's sufficient decrease, not met
        for _ in range(max_backtracks):
            if not pending.any():
                break
            rows = pending.nonzero().squeeze(1)
            step[rows] *= 0.5
            new_theta[rows] = theta[rows] + step[rows, None] * direction[rows]
            pf, pg, pgmax = fun(new_theta[rows], idx[rows])
            new_f[rows], new_g[rows], new_gmax[rows] = pf, pg, pgmax
            pending[rows] = ~(pf <= f[rows] + 1e-4 * step[rows] * slope[rows])
        s, y = torch.sub(new_theta, theta, out=S[slot]), torch.sub(new_g, g, out=Y[slot])
        sy = torch.linalg.vecdot(s, y)
        small_change = (f - new_f) <= ftol * torch.maximum(f.abs(), new_f.abs()).clamp_(min=1.0)
        if pending.any():  # the line search failed for some: they keep their point and stop, unconverged
            moved = ~pending
            rho[slot] = torch.where(moved & (sy > 1e-10), 1.0 / sy.clamp(min=1e-10), torch.zeros_like(sy))
            theta = torch.where(moved[:, None], new_theta, theta)
            f, g = torch.where(moved, new_f, f), torch.where(moved[:, None], new_g, g)
            converged = moved & (new_gmax <= gtol)
            done = converged | ~moved | small_change
        else:
            rho[slot] = torch.where(sy > 1e-10, 1.0 / sy.clamp(min=1e-10), 0.0)
            theta, f, g = new_theta, new_f, new_g
            converged = new_gmax <= gtol
            done = converged | small_change
        slot = (slot + 1) % history
        n_iter += 1
    return out


def _two_loop(
    g: torch.Tensor, S: torch.Tensor, Y: torch.Tensor, rho: torch.Tensor, slot: int, filled: int, history: int
) -> torch.Tensor:
    """H @ g for each problem from its last ``filled`` curvature pairs (rho = 0 marks a skipped pair).

    Dot products are ``vecdot`` (a batched ``bmm`` of row vectors is ten times slower on the CPU) and
    updates are fused multiply-adds: on problems this small the cost is the number of kernels.
    """
    q = g.clone()
    if filled == 0:
        return q
    order = [(slot - 1 - i) % history for i in range(filled)]  # newest first
    alphas = []
    for k in order:
        alpha = rho[k] * torch.linalg.vecdot(S[k], q)
        q.addcmul_(alpha.unsqueeze(1), Y[k], value=-1)
        alphas.append(alpha)
    newest = order[0]
    yy = torch.linalg.vecdot(Y[newest], Y[newest])
    gamma = torch.where(rho[newest] > 0, 1.0 / (rho[newest] * yy).clamp(min=1e-12), torch.ones_like(yy))
    r = q.mul_(gamma.unsqueeze(1))
    for k, alpha in zip(reversed(order), reversed(alphas)):
        beta = rho[k] * torch.linalg.vecdot(Y[k], r)
        r.addcmul_((alpha - beta).unsqueeze(1), S[k])
    return r
