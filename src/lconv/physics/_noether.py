r"""The Noether current of a candidate symmetry and its divergence (Eq. 28, 80-87), on any set of nodes."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..grid import Grid
from ._common import apply, check_candidate, check_field, layer_parts, residual

__all__ = ["NoetherCurrent", "current_field", "noether_current"]


@dataclass(frozen=True, eq=False)
class NoetherCurrent:
    """Result of :func:`noether_current`. ``[k]`` is present when several candidates were given.

    Attributes:
        current: ``J``, ``(batch, [k], d, d)``, antisymmetric in the last two axes.
        divergence: ``div J``, ``(batch, [k], d)``.
        density: the loss density ``rho_r = |Q[f]_r - y_r|^2``, ``(batch, d)``.
        el_term: ``E_r . (C f)_r``, ``(batch, [k], d)``; zero at robust points.
        target_term: ``-2 R_r . (C y)_r``, ``(batch, [k], d)``; zero for invariant targets.
    """

    current: Tensor
    divergence: Tensor
    density: Tensor
    el_term: Tensor
    target_term: Tensor

    @property
    def defect(self) -> Tensor:
        """``div J + el_term + target_term = delta rho - C rho + (C^T 1) rho``: zero when the loss is invariant."""
        return self.divergence + self.el_term + self.target_term


def noether_current(layer, x: Tensor, y: Tensor, candidate: Tensor, *, generators=None) -> NoetherCurrent:
    r"""The Noether current of the candidate symmetry ``C`` for one L-conv layer on its data.

    The loss density is ``rho_r = |Q[f]_r - y_r|^2``, a function of ``f_r``, of the
    "derivatives" ``(L_i f)_r`` and of ``y_r``, with momenta ``pi_i = drho/d(L_i f) = 2 W_i^T R``.
    A candidate generator ``C`` (``d x d``) moves the data by ``delta f = C f``,
    ``delta y = C y``. On ``d`` nodes a current is a flow along node pairs, an antisymmetric
    ``J[r, v]`` (what leaves ``r`` towards ``v``), and its divergence is the net outflow
    ``(div J)_r = sum_v J[r, v]``, which sums to zero over the nodes (Stokes). The Noether
    current is

    .. math::
        J[r, v] = X[r, v] - X[v, r] - \big(C[r, v]\, \rho_v - C[v, r]\, \rho_r\big),
        \qquad X[r, v] = \sum_i L_i[r, v]\; \pi_{i,r} \cdot (C f)_v ,

    the discrete form of ``J^a = sum_i xi_i^a pi_i . delta f - xi_C^a rho`` (for ``L_i = xi_i . d``
    and ``C = xi_C . d``), i.e. the stress-energy tensor contracted with the symmetry,
    ``J^a = T^a_b xi_C^b`` with ``T^a_b = sum_i xi_i^a pi_i . d_b f - delta^a_b rho`` (Eq. 86-87).

    **The identity.** Exactly, for any data, layer and candidate (no continuum limit),

    .. math::
        (\operatorname{div} J)_r + \underbrace{E_r \cdot (C f)_r}_{\text{EL term}}
          + \underbrace{(-2 R_r) \cdot (C y)_r}_{\text{target term}}
        = \underbrace{\delta \rho_r - (C \rho)_r + (C^T \mathbf 1)_r\, \rho_r}_{\text{symmetry defect}} ,

    where ``E`` is the Euler-Lagrange residual (:func:`euler_lagrange`) and ``delta rho_r`` the
    first-order change of ``rho_r`` when ``f`` and ``y`` move by ``C``. The defect vanishes when
    the density transforms as a scalar density under ``C``: the layer commutes with ``C``
    (equivariance), ``C`` annihilates constants (it carries the bias) and obeys the Leibniz
    rule on the data (exact for translations on band-limited data whose squares are still
    below the Nyquist frequency; up to discretisation error for rotations), and
    ``C^T 1 = 0`` (the flow is divergence-free). Hence the current is **conserved**,
    ``div J = 0``, when the loss is invariant under ``C`` *and* the data are robust points
    (``E = 0``, Eq. 27) *and* the targets are invariant (``C y = 0``) or fitted (``R = 0``).
    Where the targets vary along ``C`` they act as an external source and
    ``div J = 2 R . C y``, as the stress tensor of a field with a source is conserved only
    away from the source. Minimising ``|div J|`` (at robust points) or ``|defect|`` (at any
    points) over ``C`` discovers generators.

    Args:
        layer: an :class:`~lconv.LConv` (or a one-layer stack), or ``(W0, W[, b])`` with
            ``generators=``: the layer whose loss is the Lagrangian.
        x: inputs ``(batch, c_in, d)``.
        y: targets ``(batch, c_out, d)``.
        candidate: the generator ``C`` to test, ``(d, d)``, or ``(k, d, d)`` for ``k`` at
            once. Everything is differentiable in ``C`` (and in the layer), so
            ``noether_current(...).divergence.pow(2).sum()`` can be minimised over a
            parametrised ``C`` under a norm constraint; it is quadratic in ``C``.
        generators: the layer's ``(n, d, d)`` generators, only with raw weights.

    Returns:
        :class:`NoetherCurrent`. Memory ``batch * k * d^2``: small grids.

    Example:
        >>> from lconv import Grid, LConv, generators
        >>> grid = Grid((6, 6))
        >>> T = generators.translation(grid, dtype=torch.float64)
        >>> layer = LConv(1, 2, T).double()
        >>> x, y = torch.randn(3, 1, 36, dtype=torch.float64), torch.randn(3, 2, 36, dtype=torch.float64)
        >>> noether_current(layer, x, y, T).divergence.shape
        torch.Size([3, 2, 36])
    """
    where = "noether_current"
    parts = layer_parts(layer, generators, where)
    check_field(x, parts, parts.c_in, "x", where)
    check_field(y, parts, parts.c_out, "y", where, batch=x.shape[0])
    C = check_candidate(candidate, parts.d, parts.weight0.dtype, where)
    single = C.dim() == 2
    C = C[None] if single else C
    W0, W, _, L = parts
    R = residual(parts, x, y)  # (B, c_out, d)
    density = R.pow(2).sum(1)  # (B, d)
    momentum = 2 * torch.einsum("ioa,bor->biar", W, R)  # (B, n, c_in, d)
    df = apply(C, x)  # (B, k, c_in, d)
    G = torch.einsum("irv,biar->barv", L, momentum)  # sum_i L_i[r, v] pi_{i,r}: batch * c_in * d^2
    X = torch.einsum("barv,bkav->bkrv", G, df)
    Y = C[None] * density[:, None, None, :]  # C[r, v] rho_v
    half = X - Y
    current = half - half.transpose(-1, -2)
    divergence = current.sum(-1)
    E = 2 * torch.einsum("oa,bor->bar", W0, R) + 2 * torch.einsum("ivr,ioa,bov->bar", L, W, R)
    el_term = torch.einsum("bar,bkar->bkr", E, df)
    target_term = -2 * torch.einsum("bor,bkor->bkr", R, apply(C, y))
    if single:
        current, divergence, el_term, target_term = (t[:, 0] for t in (current, divergence, el_term, target_term))
    return NoetherCurrent(current, divergence, density, el_term, target_term)


def current_field(current: Tensor, grid: Grid, *, width: float = 1.5) -> Tensor:
    r"""A node-pair current as a vector field on a grid, ``(..., d, ndim)``, for display.

    ``j(x_r) = 1/2 sum_v w(x_v - x_r) J[r, v] (x_v - x_r)``: the first moment of the flow
    out of each node, under a Gaussian window ``w`` of ``width`` pixels (shortest
    displacement on periodic axes), so that long-range tails of the SWI derivative do not
    dominate. For a nearest-neighbour flow ``J[r, r+1] = j_{r+1/2}`` this is the average
    ``(j_{r-1/2} + j_{r+1/2}) / 2``. The divergence itself is exact; this picture is not.

    Args:
        current: ``(..., d, d)``, e.g. :attr:`NoetherCurrent.current`.
        grid: the grid of the ``d`` nodes.
    """
    if not isinstance(grid, Grid):
        raise TypeError(f"current_field: grid must be a lconv.Grid, got {type(grid).__name__}")
    if not isinstance(current, Tensor) or current.dim() < 2 or current.shape[-1] != current.shape[-2]:
        raise ValueError(f"current_field: current must be (..., d, d), got {tuple(getattr(current, 'shape', ()))}")
    if current.shape[-1] != grid.size:
        raise ValueError(
            f"current_field: the current is on {current.shape[-1]} nodes but {grid!r} has {grid.size}; "
            "pass the grid the data live on"
        )
    if not width > 0:
        raise ValueError(f"current_field: width must be positive, got {width!r}")
    xy = grid.coordinates(dtype=current.dtype, device=current.device)
    diff = xy[None, :, :] - xy[:, None, :]  # (r, v, alpha): x_v - x_r
    for alpha in range(grid.ndim):
        if grid.periodic[grid.axis(alpha)]:
            n = grid.extent(alpha)
            diff[..., alpha] = torch.remainder(diff[..., alpha] + n / 2, n) - n / 2
    window = torch.exp(-diff.pow(2).sum(-1) / (2 * width**2))
    return 0.5 * torch.einsum("...rv,rva->...ra", current * window, diff)
