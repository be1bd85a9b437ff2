"""Exponential map and its inverse, its ``(I + tL/k)^k`` approximation, brackets and structure constants."""

from __future__ import annotations

import math
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


def exp_apply(L: Tensor, t: Tensor, v: Tensor, *, order: int = 8) -> Tensor:
    r"""``exp(sum_i t_i L_i) v`` for a batch, without forming any ``exp``.

    Scaling and Taylor series on vectors: ``v <- T_order(h M) v``, ``s`` times, with
    ``M = sum_i t_i L_i``, ``h = 1/s`` and ``s`` chosen so that ``|h M|_2 <= 1`` (the
    spectral norm is estimated by power iteration); the truncation error per step is below
    ``1/(order + 1)!``. Differentiable in ``L``, ``t`` and ``v``; costs ``s * order``
    products with the ``d x d`` generators.

    Args:
        L: generators ``(k, d, d)``.
        t: coefficients ``(B, k)``.
        v: vectors ``(B, d)`` or ``(B, C, d)`` (all channels of a sample share ``t``).

    Returns:
        a tensor shaped like ``v``.
    """
    _check_square(L, "exp_apply")
    k, d, _ = L.shape
    squeeze = v.dim() == 2
    if squeeze:
        v = v[:, None]
    with torch.no_grad():
        probe = torch.cos(torch.arange(d, dtype=L.dtype, device=L.device) * 1.7 + 0.3)[:, None]  # fixed, no RNG
        norms = []
        for i in range(k):
            p = probe
            for _ in range(6):
                p = L[i].T @ (L[i] @ p)
                p = p / p.norm().clamp_min(1e-30)
            norms.append((L[i] @ p).norm() * 1.2)  # power iteration underestimates: margin
        bound = float((t.detach().abs() * torch.stack(norms)[None]).sum(-1).max()) if len(t) else 0.0
        if not math.isfinite(bound):
            raise FloatingPointError("exp_apply: the generators or coefficients are not finite")
        steps = max(1, math.ceil(bound))
    if k == 1 and steps > 2 and len(v) > 2 * d:
        v = _exp_apply_one(L[0], t[:, 0], v, float(norms[0]), order)
        return v[:, 0] if squeeze else v
    return _taylor_steps(L, t, v, steps, order)[:, 0] if squeeze else _taylor_steps(L, t, v, steps, order)


def _taylor_steps(L: Tensor, t: Tensor, v: Tensor, steps: int, order: int) -> Tensor:
    """``v <- T_order(M / steps) v``, ``steps`` times, with ``M = sum_i t_i L_i`` per sample."""
    k, d, _ = L.shape
    h = (t / steps)[:, :, None, None]  # (B, k, 1, 1)
    flat = L.reshape(k * d, d)
    for _ in range(steps):
        term, acc = v, v
        for j in range(1, order + 1):
            lv = (term @ flat.T).reshape(*term.shape[:-1], k, d)  # (B, C, k, d)
            term = (lv.transpose(1, 2) * h).sum(1) / j
            acc = acc + term
        v = acc
    return v


def _exp_apply_one(L: Tensor, t: Tensor, v: Tensor, norm: float, order: int) -> Tensor:
    """``exp(t_b L) v_b`` for one generator and many samples: whole steps by one precomputed matrix.

    With ``h = 1 / |L|_2``, write ``t_b = m_b h + r_b`` (``|r_b| < h``): apply the Taylor
    series once for ``r_b`` (``order + 4`` terms), then ``E = exp(h L)`` (or ``exp(-h L)``)
    ``|m_b|`` times, so a sample costs about ``order + max |m|`` products instead of
    ``order`` times as many. ``E``
    comes from ``torch.linalg.matrix_exp``, once per call; everything stays differentiable
    in ``L``, ``t`` (through ``r_b``) and ``v``.
    """
    h = 1.0 / max(norm, 1e-30)
    m = torch.trunc(t.detach() / h)  # whole steps, towards zero
    r = t - m * h
    v = _taylor_steps(L[None], r[:, None], v, 1, order + 4)  # one step only: 4 more terms for its accuracy
    counts = m.abs().long()
    sign = m.sign()
    for direction, E in ((1.0, None), (-1.0, None)):
        chosen = sign == direction
        if not bool(chosen.any()):
            continue
        E = torch.linalg.matrix_exp(direction * h * L)
        for step in range(int(counts[chosen].max())):
            moving = (chosen & (counts > step))[:, None, None]
            v = torch.where(moving, v @ E.T, v)
    return v


def log(G: Tensor, *, tol: float = 1e-8) -> tuple[Tensor, Tensor]:
    r"""Principal matrix logarithm of a batch of group elements, ``(..., d, d)``.

    Inverse scaling and squaring: ``s`` square roots (Denman-Beavers iteration) bring
    ``G`` within ``|G^(1/2^s) - I|_F <= 1/4`` of the identity, where the series
    ``log(I + X) = sum_j (-1)^(j+1) X^j / j`` converges fast; then
    ``log G = 2^s log(G^(1/2^s))``. For a rotation by an angle below ``pi`` this is
    ``theta K`` with ``K`` the unit axis generator, whatever the angle's size.

    Computed in float64. A matrix without a real principal logarithm (a negative real
    eigenvalue, e.g. ``-I`` in ``SL(2, R)``, or a singular one) gives a non-finite or
    inaccurate result; ``ok`` says which did not come back to ``G`` under ``exp`` within
    ``tol`` (relative).

    Returns:
        ``(log G, ok)``: the logarithms ``(..., d, d)`` in ``G``'s dtype and a boolean
        ``(...)`` mask of the trustworthy ones.
    """
    _check_square(G, "log")
    a = G.double()
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device).expand_as(a)
    roots = 0
    with torch.no_grad():
        while roots < 40:
            gap = (a - eye).flatten(-2).norm(dim=-1)
            gap = gap[torch.isfinite(gap)]
            if len(gap) == 0 or float(gap.max()) <= 0.25:
                break
            y, z = a, eye
            for _ in range(50):  # Denman-Beavers: y -> sqrt(a), z -> 1/sqrt(a)
                y_inv = torch.linalg.inv_ex(y).inverse
                z_inv = torch.linalg.inv_ex(z).inverse
                y, z = (y + z_inv) / 2, (z + y_inv) / 2
                if float(torch.nan_to_num((y @ y - a).flatten(-2).norm(dim=-1), nan=1.0).max()) < 1e-13 * max(
                    1.0, float(torch.nan_to_num(a.flatten(-2).norm(dim=-1), nan=1.0).max())
                ):
                    break
            a, roots = y, roots + 1
        x = a - eye
        term, out = eye, torch.zeros_like(a)
        for j in range(1, 31):
            term = term @ x
            out = out + ((-1) ** (j + 1) / j) * term
        out = out * 2.0**roots
        back = torch.linalg.matrix_exp(torch.nan_to_num(out))
        err = (back - G.double()).flatten(-2).norm(dim=-1) / G.double().flatten(-2).norm(dim=-1).clamp_min(1e-300)
        ok = torch.isfinite(out).flatten(-2).all(-1) & (err <= tol)
    return out.to(G.dtype), ok


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


def _fit_brackets(basis: Tensor, probe: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """Least-squares ``c`` with ``[L_i, L_j] P ~= c_ij^k L_k P``: returns (c, squared residual, squared norm)."""
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
    return sol.T.reshape(n, n, n), (rhs - design @ sol).pow(2).sum(), rhs.pow(2).sum()


def structure_constants(basis: Tensor, probe: Tensor | None = None) -> StructureConstants:
    """Fit ``[L_i, L_j] = sum_k c_ij^k L_k`` by least squares.

    Args:
        basis: ``(n, d, d)`` generators.
        probe: optional ``(d, m)`` test vectors. The fit then compares
            ``[L_i, L_j] P`` with ``c_ij^k L_k P``: use band-limited vectors to ask whether
            discretised generators close on smooth data, where their matrices cannot
            close exactly. Default: the identity (Frobenius norm of the matrices).
    """
    with torch.no_grad():
        c, num, den = _fit_brackets(basis, probe)
    residual = float((num / den).sqrt()) if den > 0 else 0.0
    return StructureConstants(c, residual)


def closure_loss(basis: Tensor) -> Tensor:
    """Differentiable squared closure residual ``sum |[L_i, L_j] - c_ij^k L_k|^2 / sum |[L_i, L_j]|^2``."""
    _, num, den = _fit_brackets(basis, None)
    return num / den.clamp_min(1e-30)


def closure_residual(basis: Tensor, probe: Tensor | None = None) -> float:
    """Relative residual of closing ``basis`` under the bracket; see :func:`structure_constants`."""
    return structure_constants(basis, probe).residual
