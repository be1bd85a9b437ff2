r"""Equivariance checks that users run on their own layers.

A map ``F`` is equivariant to an action ``g`` when ``F(g_in f) = g_out F(f)``. The checker
measures the scale-aware relative error

.. math::
    \mathrm{err} = \frac{\| F(g_{in} f) - g_{out} F(f) \|}{\max(\|F(g_{in} f)\|, \|g_{out} F(f)\|)}

(Frobenius norms over the whole batch, optionally restricted to a ``region`` of nodes)
and compares it with a tolerance per dtype (:data:`DEFAULT_RTOL`). Exact actions, such as
integer shifts on a periodic grid, pass at dtype tolerance; interpolated ones, such as a
rotation by ``exp(theta L)`` applied to band-limited data, need a tolerance that follows
the discretisation, which the caller states.

Example::

    from lconv import Grid, LConv, generators, testing
    grid = Grid((8, 8))
    layer = LConv(1, 4, generators=generators.translation(grid))
    x = torch.randn(3, 1, grid.size)
    testing.assert_equivariant(layer, x, lambda f: grid.shift(f, (2, 1)))
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["DEFAULT_RTOL", "assert_equivariant", "equivariance_error", "relative_error"]

#: Default relative tolerance per dtype for exact actions.
DEFAULT_RTOL: dict[torch.dtype, float] = {
    torch.float16: 1e-2,
    torch.bfloat16: 2e-2,
    torch.float32: 2e-5,
    torch.float64: 1e-11,
}

Action = Callable[[Tensor], Tensor] | Tensor


def relative_error(a: Tensor, b: Tensor) -> float:
    """``|a - b| / max(|a|, |b|)`` in the Frobenius norm; 0 when both are zero."""
    scale = torch.maximum(a.norm(), b.norm())
    if scale == 0:
        return 0.0
    return float((a - b).norm() / scale)


def _as_action(action: Action, like: Tensor, name: str) -> Callable[[Tensor], Tensor]:
    d = like.shape[-1]
    if isinstance(action, Tensor):
        if action.dim() != 2 or action.shape[0] != action.shape[1]:
            raise ValueError(f"equivariance_error: {name} must be a square (d, d) matrix, got {tuple(action.shape)}")
        if action.shape[0] != d:
            raise ValueError(
                f"equivariance_error: {name} is {action.shape[0]}x{action.shape[0]} but the features have {d} nodes; "
                "build the matrix on the same grid"
            )
        if not torch.isfinite(action).all():
            raise ValueError(f"equivariance_error: {name} contains NaN or inf")
        m = action.to(dtype=like.dtype, device=like.device)
        return lambda f: f @ m.T
    if callable(action):
        return action
    raise TypeError(f"equivariance_error: {name} must be a (d, d) tensor or a callable, got {type(action).__name__}")


def _check_input(x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"equivariance_error: x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"equivariance_error: x must be floating point, got {x.dtype}; cast with x.float() or x.double()"
        )
    if x.dim() < 1:
        raise ValueError("equivariance_error: x needs a node axis, shape (..., d)")
    if not torch.isfinite(x).all():
        raise ValueError("equivariance_error: x contains NaN or inf; check equivariance on finite inputs")


def equivariance_error(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    act_in: Action,
    act_out: Action | None = None,
    *,
    region: Tensor | None = None,
) -> float:
    """Relative equivariance error of ``fn`` at ``x``.

    Args:
        fn: the map, ``(..., d) -> (..., d')``, e.g. an :class:`~lconv.LConv`.
        x: input features ``(..., d)``, finite floating point.
        act_in: the action on inputs: a ``(d, d)`` matrix ``M`` (applied as ``M f``) or
            a callable on ``(..., d)``.
        act_out: the action on outputs; defaults to ``act_in`` (same space).
        region: optional bool mask ``(d',)`` or index tensor of the output nodes to
            compare (e.g. a central disk for rotations).

    Returns:
        the relative error (a float, 0 for exact equivariance).
    """
    _check_input(x)
    g_in = _as_action(act_in, x, "act_in")
    with torch.no_grad():
        y = fn(x)
        g_out = g_in if act_out is None else _as_action(act_out, y, "act_out")
        lhs = fn(g_in(x))
        rhs = g_out(y)
    if lhs.shape != rhs.shape:
        raise ValueError(f"equivariance_error: fn(g x) has shape {tuple(lhs.shape)} but g fn(x) has {tuple(rhs.shape)}")
    if region is not None:
        lhs, rhs = lhs[..., region], rhs[..., region]
    if not (torch.isfinite(lhs).all() and torch.isfinite(rhs).all()):
        return float("nan")
    return relative_error(lhs, rhs)


def assert_equivariant(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    act_in: Action,
    act_out: Action | None = None,
    *,
    rtol: float | None = None,
    region: Tensor | None = None,
) -> float:
    """Assert ``fn(act_in(x)) == act_out(fn(x))`` within ``rtol`` (default: :data:`DEFAULT_RTOL` for ``x.dtype``).

    Returns the measured error; raises ``AssertionError`` with the error and the
    tolerance when it fails (also when ``fn`` produced NaN or inf).
    """
    err = equivariance_error(fn, x, act_in, act_out, region=region)
    tol = DEFAULT_RTOL.get(x.dtype, 1e-5) if rtol is None else rtol
    if not err <= tol:  # also catches NaN
        raise AssertionError(f"not equivariant: relative error {err:.3g} > rtol {tol:.3g} ({x.dtype})")
    return err
