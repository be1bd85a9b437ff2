"""Exponential map, its ``(I + tL/k)^k`` approximation, brackets and structure constants."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


def _check_square(L: Tensor, where: str) -> Tensor:
    if not isinstance(L, Tensor):
        raise TypeError(f"{where}: expected a torch.Tensor of generators, got {type(L).__name__}")
    if L.dim() < 2 or L.shape[-1] != L.shape[-2]:
        raise ValueError(f"{where}: generators must be square, shape (..., d, d); got {tuple(L.shape)}")
    return L


def _scaled(L: Tensor, t) -> Tensor:
    t = torch.as_tensor(t, dtype=L.dtype, device=L.device)
    return L * t[..., None, None]


def exp(L: Tensor, t: float | Tensor = 1.0) -> Tensor:
    """The group element ``exp(t L)``, shape ``(..., d, d)``.

    Args:
        L: generators ``(..., d, d)``.
        t: scalar, or a tensor broadcast against ``L.shape[:-2]``.
    """
    return torch.linalg.matrix_exp(_scaled(_check_square(L, "exp"), t))


def exp_approx(L: Tensor, t: float | Tensor = 1.0, k: int = 8) -> Tensor:
    """``(I + t L / k)^k``, the approximation of ``exp(t L)`` by ``k`` L-conv steps (Fig. 6).

    Its error is ``O(t^2 |L|^2 / k)``. Shape ``(..., d, d)``.
    """
    _check_square(L, "exp_approx")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"exp_approx: k must be a positive int, got {k!r}")
    eye = torch.eye(L.shape[-1], dtype=L.dtype, device=L.device)
    return torch.linalg.matrix_power(eye + _scaled(L, t) / k, k)


def bracket(A: Tensor, B: Tensor) -> Tensor:
    """Lie bracket ``[A, B] = A B - B A`` (batched over leading axes)."""
    return A @ B - B @ A


class StructureConstants(NamedTuple):
    """Least-squares structure constants of a basis.

    Attributes:
        constants: ``(n, n, n)``, ``[L_i, L_j] ~= sum_k constants[i, j, k] L_k``.
        residual: relative closure residual,
            ``sqrt(sum_ij |[L_i, L_j] - c_ij^k L_k|^2 / sum_ij |[L_i, L_j]|^2)``
            (0 for an exactly closed basis; 0 also when all brackets vanish).
    """

    constants: Tensor
    residual: float


def structure_constants(basis: Tensor, probe: Tensor | None = None) -> StructureConstants:
    """Fit ``[L_i, L_j] = sum_k c_ij^k L_k`` by least squares.

    Args:
        basis: ``(n, d, d)`` generators.
        probe: optional ``(d, m)`` test vectors. The fit then compares
            ``[L_i, L_j] P`` with ``c_ij^k L_k P``: use band-limited vectors to ask whether
            discretised generators close on smooth data, where their matrices cannot
            close exactly. Default: the identity (Frobenius norm of the matrices).
    """
    _check_square(basis, "structure_constants")
    if basis.dim() != 3:
        raise ValueError(f"structure_constants: basis must be (n, d, d), got {tuple(basis.shape)}")
    n, d, _ = basis.shape
    if probe is not None:
        if probe.dim() != 2 or probe.shape[0] != d:
            raise ValueError(f"structure_constants: probe must be (d={d}, m), got {tuple(probe.shape)}")
        probe = probe.to(basis)
    lp = basis if probe is None else basis @ probe  # (n, d, m)
    if probe is None:
        br = bracket(basis[:, None], basis[None, :])  # (n, n, d, d)
    else:
        br = basis[:, None] @ lp[None, :] - basis[None, :] @ lp[:, None]  # L_i L_j P - L_j L_i P
    design = lp.reshape(n, -1).T  # (d m, n)
    rhs = br.reshape(n * n, -1).T  # (d m, n n)
    sol = torch.linalg.lstsq(design, rhs, driver="gelsd" if design.device.type == "cpu" else None).solution
    fit = design @ sol
    num = (rhs - fit).pow(2).sum()
    den = rhs.pow(2).sum()
    residual = float((num / den).sqrt()) if den > 0 else 0.0
    return StructureConstants(sol.T.reshape(n, n, n), residual)


def closure_residual(basis: Tensor, probe: Tensor | None = None) -> float:
    """Relative residual of closing ``basis`` under the bracket; see :func:`structure_constants`."""
    return structure_constants(basis, probe).residual
