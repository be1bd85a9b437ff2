r"""Robustness as the Euler-Lagrange equation of the loss (Eq. 27, 74-77)."""

from __future__ import annotations

import torch
from torch import Tensor

from ._common import check_field, layer_parts, residual

__all__ = ["euler_lagrange", "robustness_score", "solve_euler_lagrange"]


def euler_lagrange(layer, x: Tensor, y: Tensor, *, generators=None) -> Tensor:
    r"""The Euler-Lagrange residual of each data point, ``(batch, c_in, d)``.

    .. math::
        E_n = \frac{\partial \ell_n}{\partial f_n}
            = \frac{\partial \mathcal{L}}{\partial f} + \sum_i L_i^T \frac{\partial \mathcal{L}}{\partial (L_i f)}
            = 2 W_0^T R_n + 2 \sum_i L_i^T W_i^T R_n ,
        \qquad R_n = Q[f_n] - y_n ,

    the gradient of the per-sample loss ``|Q[f_n] - y_n|^2`` with respect to the input.
    ``E_n = 0`` is the EL equation of the field theory (Eq. 27, 77): the data point is a
    stationary point of the loss, so a small perturbation ``f_n + delta`` changes the loss
    only at second order (robustness, SI A.4). On a grid ``L_i^T`` plays the role of
    ``-\partial_\alpha \xi_i^\alpha`` (discrete integration by parts, exact, no boundary
    term). :meth:`FieldTheory.euler_lagrange` gives the same from ``m2, h, v, J``.

    Args:
        layer: an :class:`~lconv.LConv`, or ``(W0, W[, b])`` with ``generators=``.
        x: ``(batch, c_in, d)``; y: ``(batch, c_out, d)``.

    Returns:
        ``(batch, c_in, d)``, differentiable in the layer's parameters and generators.
    """
    where = "euler_lagrange"
    parts = layer_parts(layer, generators, where)
    check_field(x, parts, parts.c_in, "x", where)
    check_field(y, parts, parts.c_out, "y", where, batch=x.shape[0])
    R = residual(parts, x, y)
    W0, W, _, L = parts
    return 2 * torch.einsum("oa,bor->bar", W0, R) + 2 * torch.einsum("ivr,ioa,bov->bar", L, W, R)


def robustness_score(layer, x: Tensor, y: Tensor, *, generators=None) -> Tensor:
    r"""``|E_n|`` per data point, ``(batch,)``: the Frobenius norm of :func:`euler_lagrange`.

    Zero at a stationary point of the loss (a robust point); it grows linearly with a
    perturbation ``delta`` off the data, as ``|2 A^T A delta|`` for the linear part ``A``
    of the layer. Lower is more robust.
    """
    return euler_lagrange(layer, x, y, generators=generators).flatten(1).norm(dim=1)


def solve_euler_lagrange(layer, y: Tensor, *, generators=None) -> Tensor:
    r"""The inputs that satisfy the EL equation for given targets: ``f = A^+ (y - b)``.

    The loss is quadratic in ``f``, so ``E = 2 A^T (A f - (y - b)) = 0`` is solved by the
    least-squares (minimum-norm) input, with ``A = W0 (x) I + sum_i W_i (x) L_i``. These
    are the robust points of the layer, where :func:`noether_current` is conserved for
    a symmetry (given invariant targets).

    Builds the dense ``(c_out d, c_in d)`` matrix ``A`` and solves the least-squares
    problem directly: small grids only.

    Args:
        layer: an :class:`~lconv.LConv`, or ``(W0, W[, b])`` with ``generators=``.
        y: targets ``(batch, c_out, d)``.

    Returns:
        ``(batch, c_in, d)``.
    """
    where = "solve_euler_lagrange"
    parts = layer_parts(layer, generators, where)
    check_field(y, parts, parts.c_out, "y", where)
    W0, W, b, L = parts
    eye = torch.eye(parts.d, dtype=W0.dtype, device=W0.device)
    A = torch.kron(W0, eye) + torch.einsum("ioa,irv->orav", W, L).reshape(parts.c_out * parts.d, parts.c_in * parts.d)
    rhs = (y - b[:, None]).reshape(len(y), -1).T
    if A.device.type == "cpu":  # rank-revealing QR: the minimum-norm solution, also for rank-deficient A
        sol = torch.linalg.lstsq(A, rhs, driver="gelsy").solution
    else:
        sol = torch.linalg.pinv(A) @ rhs
    return sol.T.reshape(len(y), parts.c_in, parts.d)
