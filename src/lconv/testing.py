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

An :class:`~lconv.LConv` with free channel weights is equivariant to ``g`` exactly when
``g`` commutes with every one of its generators; :func:`assert_commutes` checks that
condition on the generators alone (any layer built on them then passes
:func:`assert_equivariant` for every weight). Generators pushed forward from a
non-abelian algebra fail it against the group they generate (so(3) on vectors, se(2) on
a grid); the left-invariant generators of a lifted grid
(:func:`lconv.nn.left_invariant`) pass it against the grid's exact actions.

Example::

    from lconv import Grid, LConv, generators, testing
    grid = Grid((8, 8))
    layer = LConv(1, 4, generators=generators.translation(grid))
    x = torch.randn(3, 1, grid.size)
    testing.assert_equivariant(layer, x, lambda f: grid.shift(f, (2, 1)))
    testing.assert_commutes(generators.translation(grid), lambda f: grid.shift(f, (2, 1)))
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = [
    "DEFAULT_RTOL",
    "assert_commutes",
    "assert_equivariant",
    "assert_invariant",
    "commutation_error",
    "equivariance_error",
    "invariance_error",
    "relative_error",
]

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


def invariance_error(fn: Callable[[Tensor], Tensor], x: Tensor, act_in: Action) -> float:
    """Relative invariance error ``|fn(g x) - fn(x)| / max(|fn(g x)|, |fn(x)|)`` (e.g. pooled features, logits)."""
    _check_input(x)
    g_in = _as_action(act_in, x, "act_in")
    with torch.no_grad():
        lhs, rhs = fn(g_in(x)), fn(x)
    if lhs.shape != rhs.shape:
        raise ValueError(f"invariance_error: fn(g x) has shape {tuple(lhs.shape)} but fn(x) has {tuple(rhs.shape)}")
    if not (torch.isfinite(lhs).all() and torch.isfinite(rhs).all()):
        return float("nan")
    return relative_error(lhs, rhs)


def assert_invariant(fn: Callable[[Tensor], Tensor], x: Tensor, act_in: Action, *, rtol: float | None = None) -> float:
    """Assert ``fn(act_in(x)) == fn(x)`` within ``rtol`` (default: :data:`DEFAULT_RTOL` for ``x.dtype``).

    Returns the measured error; raises ``AssertionError`` when it fails (also on NaN).
    """
    err = invariance_error(fn, x, act_in)
    tol = DEFAULT_RTOL.get(x.dtype, 1e-5) if rtol is None else rtol
    if not err <= tol:
        raise AssertionError(f"not invariant: relative error {err:.3g} > rtol {tol:.3g} ({x.dtype})")
    return err


def _generator_map(generators) -> tuple[Callable[[Tensor], Tensor], int, int, torch.dtype, torch.device]:
    """``f (B, d) -> (B, n, d)`` applying every generator, with ``n``, ``d``, dtype and device.

    A :class:`lconv.nn.Generators` is recognised as a module with ``n`` and ``d``, so that this
    module needs torch alone and sits below :mod:`lconv.nn` in the layering.
    """
    if (
        isinstance(generators, torch.nn.Module)
        and isinstance(getattr(generators, "n", None), int)
        and isinstance(getattr(generators, "d", None), int)
    ):
        ref = next(iter(generators.parameters()), None)
        if ref is None:
            ref = next(iter(generators.buffers()), None)
        dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float64
        device = ref.device if ref is not None else torch.device("cpu")
        return generators, generators.n, generators.d, dtype, device
    if isinstance(generators, Tensor):
        L = generators[None] if generators.dim() == 2 else generators
        if L.dim() != 3 or L.shape[-1] != L.shape[-2] or not L.is_floating_point():
            raise ValueError(
                f"commutation_error: generators must be a floating (n, d, d) tensor or a Generators module, "
                f"got shape {tuple(generators.shape)} ({generators.dtype})"
            )
        return (lambda f: torch.einsum("nij,bj->bni", L.to(f), f)), L.shape[0], L.shape[-1], L.dtype, L.device
    raise TypeError(
        f"commutation_error: generators must be a torch.Tensor (n, d, d) or a Generators module, got "
        f"{type(generators).__name__}"
    )


def commutation_error(generators, action: Action, x: Tensor | None = None, *, seed: int = 0) -> float:
    """How far ``action`` is from commuting with every generator: ``max_i |L_i g x - g L_i x| / max(...)``.

    An L-conv layer with free channel weights on these generators is equivariant to
    ``action`` for every weight exactly when this is zero. It is zero for translations and
    translation generators, and for the exact actions of a lifted grid and its
    left-invariant generators; it is of order one for an se(2) family on a grid against a
    quarter turn or a shift and for so(3) on vectors against ``exp(t L_j)``.

    Args:
        generators: ``(n, d, d)`` tensor, or a :class:`~lconv.nn.Generators` module
            (applied without forming ``d x d``).
        action: ``(d, d)`` matrix or callable on ``(..., d)``.
        x: probe vectors ``(B, d)``; default 4 standard normal vectors from ``seed``, in
            the generators' dtype.

    Returns:
        the largest relative error over the generators.
    """
    apply, n, d, dtype, device = _generator_map(generators)
    if x is None:
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(4, d, generator=gen, dtype=torch.float64).to(dtype=dtype, device=device)
    _check_input(x)
    if x.dim() != 2 or x.shape[-1] != d:
        raise ValueError(f"commutation_error: x must be probe vectors (B, {d}), got shape {tuple(x.shape)}")
    g = _as_action(action, x, "action")
    with torch.no_grad():
        lhs = apply(g(x))  # (B, n, d): L_i g x
        rhs = g(apply(x).reshape(-1, d)).reshape(x.shape[0], n, d)  # g L_i x
    errs = [relative_error(lhs[:, i], rhs[:, i]) for i in range(n)]
    return max(errs)


def assert_commutes(generators, action: Action, x: Tensor | None = None, *, rtol: float | None = None) -> float:
    """Assert that ``action`` commutes with every generator (see :func:`commutation_error`).

    Default ``rtol``: :data:`DEFAULT_RTOL` of the probes' dtype. Returns the error; raises
    ``AssertionError`` naming the consequence when it fails.
    """
    err = commutation_error(generators, action, x)
    dtype = x.dtype if x is not None else _generator_map(generators)[3]
    tol = DEFAULT_RTOL.get(dtype, 1e-5) if rtol is None else rtol
    if not err <= tol:
        raise AssertionError(
            f"the action does not commute with the generators: relative error {err:.3g} > rtol {tol:.3g}; an L-conv "
            "layer on them is not equivariant to it (for a non-abelian group lift the features and use "
            "lconv.nn.left_invariant)"
        )
    return err
